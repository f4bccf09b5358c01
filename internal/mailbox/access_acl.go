package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Access control commands (RFC 4314 3), each needing the "a" right but
// MYRIGHTS, which any right that shows the mailbox allows; and a user's
// own part of a list (Grants, Leave), which needs no right.

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

// Grants returns the entries of the folder's list that give the user
// their rights on it: those naming their address, their domain,
// "authenticated" or "anyone" (none on the user's own folder). Unlike ACL
// it needs no right beyond seeing the folder: it shows nothing about
// anyone else, only why the user has the rights MyRights reports, which
// is what tells them whether they can leave the folder (an entry naming
// them) or only hide it (a group's entry).
func (u *User) Grants(ctx context.Context, f Folder) ([]acl.Entry, error) {
	if f.owner == "" {
		return nil, nil
	}
	entries, err := u.r.st.MailboxACL(ctx, f.ID())
	if err != nil {
		return nil, fmt.Errorf("access control list of %q: %w", f.name, err)
	}
	var out []acl.Entry
	for _, e := range entries {
		if slices.Contains(u.ids, e.Identifier) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Named reports whether the list of another account's mailbox has an
// entry for the user (their address, domain, "authenticated" or
// "anyone"): whether a change of it (a new share, a new subfolder that
// inherited one) may concern them. A mailbox gone meanwhile is not.
func (u *User) Named(ctx context.Context, mailboxID int64) (bool, error) {
	entries, err := u.r.st.MailboxACL(ctx, mailboxID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(entries, func(e acl.Entry) bool { return slices.Contains(u.ids, e.Identifier) }), nil
}

// ErrNotNamed is a Leave by a user whom the folder's list does not name:
// their access comes from an entry for a group they belong to (their
// domain, "authenticated" or "anyone"), which is not theirs to remove.
var ErrNotNamed = errors.New("the access control list does not name the user: the access comes from a group's entry")

// Leave gives up the user's access to a folder another account shares
// with them: it removes the entry naming their address, and returns the
// group entries that still give them rights on it (see Grants). It needs
// no right, not even "a": the "a" right guards changes to what others
// may do, and this changes nothing for anyone but the user, who may
// always decline what was given to them (as DELETEACL of one's own
// identifier would do, were it allowed without "a"). Without an entry
// naming the user nothing changes and the error is ErrNotNamed; the
// user's own folder is ErrOwnerRights.
func (u *User) Leave(ctx context.Context, f Folder) (still []acl.Entry, err error) {
	if f.owner == "" {
		return nil, ErrOwnerRights
	}
	grants, err := u.Grants(ctx, f)
	if err != nil {
		return nil, err
	}
	named := false
	for _, e := range grants {
		if e.Identifier == u.email {
			named = true
		} else {
			still = append(still, e)
		}
	}
	if !named {
		return still, fmt.Errorf("leaving %q: %w", f.name, ErrNotNamed)
	}
	// Replace with no rights removes the entry; one removed meanwhile
	// (the owner stopped sharing) is no error.
	if _, err := u.r.st.ModifyACL(ctx, f.ID(), u.email, acl.Replace, 0); err != nil {
		return nil, fmt.Errorf("leaving %q: %w", f.name, err)
	}
	return still, nil
}
