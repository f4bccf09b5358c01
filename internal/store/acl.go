package store

import (
	"context"
	"fmt"

	"mailroom/internal/acl"
)

// MaxACLEntries bounds one mailbox's access control list: enough for a
// team, a school class or a department, small enough that computing a
// user's rights stays a glance. More is ErrInvalid.
const MaxACLEntries = 1000

// SharedMailbox is a mailbox that an access control list opens to
// accounts other than its owner.
type SharedMailbox struct {
	Mailbox
	Owner string // the owning account's address
	// OwnerShared: the owner is a shared mailbox (Account.Shared).
	OwnerShared bool
	ACL         []acl.Entry // the mailbox's whole list
}

// ACLs keeps mailboxes' access control lists (RFC 4314). The owner of a
// mailbox always has every right on it, which no list can change; a list
// says what other accounts get. A list follows its mailbox through
// RENAME and goes with it on DELETE; an entry naming an account goes
// when the account is deleted, so a new account with the same address
// does not inherit what was shared with the old one.
//
// Rights are the mailbox service's business (internal/mailbox checks
// them on every operation); the store only keeps the lists.
type ACLs interface {
	// MailboxACL returns the mailbox's list, sorted by identifier
	// (ErrNotFound: no such mailbox).
	MailboxACL(ctx context.Context, mailboxID int64) ([]acl.Entry, error)
	// ModifyACL changes one identifier's rights in one transaction and
	// returns the rights it has now; an entry left without rights is
	// removed (DELETEACL is Replace with none). The identifier must be
	// canonical (acl.Canonical); the account or domain it names must
	// exist (ErrNotFound) and must not be the mailbox's owner
	// (ErrInvalid). A change that would make the list longer than
	// MaxACLEntries is ErrInvalid.
	ModifyACL(ctx context.Context, mailboxID int64, identifier string, mod acl.Modification, rights acl.Rights) (acl.Rights, error)
	// SharedWith returns the mailboxes of accounts other than accountID
	// whose list has an entry for any of identifiers, sorted by owner
	// and name.
	SharedWith(ctx context.Context, accountID int64, identifiers []string) ([]SharedMailbox, error)
	// MailboxByID returns a mailbox by its id (ErrNotFound).
	MailboxByID(ctx context.Context, id int64) (Mailbox, error)
}

// CheckACLIdentifier checks that an identifier is in the canonical form
// ModifyACL takes (acl.Canonical) and returns its kind; anything else is
// ErrInvalid.
func CheckACLIdentifier(identifier string) (acl.Kind, error) {
	canon, kind, err := acl.Canonical(identifier)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if canon != identifier {
		return 0, fmt.Errorf("%w: identifier %q is not canonical (%q)", ErrInvalid, identifier, canon)
	}
	return kind, nil
}
