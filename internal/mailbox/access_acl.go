package mailbox

import (
	"context"
	"errors"
	"fmt"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Access control commands (RFC 4314 3), each needing the "a" right but
// MYRIGHTS, which any right that shows the mailbox allows.

// MyRights returns the user's rights on a folder (MYRIGHTS).
func (u *User) MyRights(f Folder) acl.Rights { return f.rights }

// ACL returns the folder's access control list (GETACL): its owner, with
// every right, first, then the list's entries.
func (u *User) ACL(ctx context.Context, f Folder) ([]acl.Entry, error) {
	if err := f.need(acl.Admin, "reading the access control list"); err != nil {
		return nil, err
	}
	entries, err := u.r.st.MailboxACL(ctx, f.ID())
	if err != nil {
		return nil, err
	}
	return append([]acl.Entry{{Identifier: u.ownerAddress(f), Rights: acl.All}}, entries...), nil
}

// ErrOwnerRights is a SETACL or DELETEACL of the mailbox's owner, whose
// rights are fixed: every right, always.
var ErrOwnerRights = errors.New("the owner of a mailbox always has every right on it")

// SetACL changes one identifier's rights on the folder (SETACL; DELETEACL
// is Replace with no rights) and returns what it has now. The identifier
// must name an existing account or domain, or be "anyone" or
// "authenticated" (store.ErrInvalid, store.ErrNotFound otherwise).
func (u *User) SetACL(ctx context.Context, f Folder, identifier string, mod acl.Modification, rights acl.Rights) (acl.Rights, error) {
	if err := f.need(acl.Admin, "changing the access control list"); err != nil {
		return 0, err
	}
	id, _, err := acl.Canonical(identifier)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	if id == u.ownerAddress(f) {
		return 0, ErrOwnerRights
	}
	// No Barrier: the shared state of open mailboxes holds no rights;
	// every lookup reads the list from the store.
	return u.r.st.ModifyACL(ctx, f.ID(), id, mod, rights)
}

// ListRights returns the rights an identifier always has on the folder
// and those it can be granted (LISTRIGHTS): the owner has every right,
// fixed; anyone else can be given each right on its own (none are tied).
func (u *User) ListRights(f Folder, identifier string) (required acl.Rights, optional []acl.Rights, err error) {
	if err := f.need(acl.Admin, "listing rights"); err != nil {
		return 0, nil, err
	}
	id, _, err := acl.Canonical(identifier)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	if id == u.ownerAddress(f) {
		return acl.All, nil, nil
	}
	return 0, acl.Each(), nil
}
