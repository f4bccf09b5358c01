package mailbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Namespaces (RFC 2342). A user's own mailboxes have their plain names
// (the personal namespace, prefix ""); a mailbox another person's account
// shared with them is "Other Users/<owner's address>/<the owner's name
// for it>", and one of a shared mailbox (store.Account.Shared: support@,
// which belongs to a domain, not a person) "Shared/<its address>/<name>".
// Names under the prefixes are reserved: nobody can create a mailbox of
// their own there.
const (
	OtherUsersPrefix = "Other Users" + store.Delimiter
	SharedPrefix     = "Shared" + store.Delimiter
)

// namespaces are the prefixes of the namespaces other than the personal.
var namespaces = [...]string{OtherUsersPrefix, SharedPrefix}

// ErrNoPermission is an operation the user's rights on a mailbox do not
// allow, on a mailbox they can see (IMAP NO [NOPERM]). Without any right
// that shows a mailbox exists, the answer is store.ErrNotFound instead,
// as if there were no such mailbox (RFC 4314 6).
var ErrNoPermission = errors.New("permission denied")

// visible are the rights that show a mailbox exists (RFC 4314 4: what
// MYRIGHTS needs).
const visible = acl.Lookup | acl.Read | acl.Insert | acl.Create | acl.DeleteMailbox | acl.Admin

// User is one account's access to mail: its own mailboxes and those other
// accounts share with it, under the names it knows them by, with its
// rights checked on every operation. Protocols reach mailboxes only
// through a User, so a right is checked in one place, here.
type User struct {
	r     *Service
	id    int64
	email string
	ids   []string // the ACL identifiers that name the user
}

// User returns the access of the account with the given id and address.
func (r *Service) User(accountID int64, email string) *User {
	email = strings.ToLower(email)
	return &User{r: r, id: accountID, email: email, ids: acl.IdentifiersOf(email)}
}

// Folder is a mailbox as one user sees it: its name in the user's
// namespaces and the user's rights on it when it was looked up. Only a
// User makes Folders, so holding one means the lookup was checked.
// Rights are those of the lookup: a session that selected a mailbox
// keeps them until it selects again (RFC 4314 5.1.1 allows that).
type Folder struct {
	mb     store.Mailbox // the owner's record (Name: the owner's name for it)
	name   string        // the name this user knows it by
	owner  string        // the owner's address; "" for the user's own
	ns     string        // its namespace's prefix; "" for the user's own
	rights acl.Rights
}

// ID is the store's mailbox id.
func (f Folder) ID() int64 { return f.mb.ID }

// Name is the mailbox's name for the user.
func (f Folder) Name() string { return f.name }

// Mailbox is the store's record of the mailbox, with Name as the user
// knows it.
func (f Folder) Mailbox() store.Mailbox {
	mb := f.mb
	mb.Name = f.name
	return mb
}

// Rights are the user's rights on the mailbox.
func (f Folder) Rights() acl.Rights { return f.rights }

// Owner is the owning account's address, "" for the user's own mailbox.
func (f Folder) Owner() string { return f.owner }

// Namespace is the prefix of the namespace the mailbox is in:
// OtherUsersPrefix, SharedPrefix, or "" for the user's own.
func (f Folder) Namespace() string { return f.ns }

// ReadOnly reports whether the user can change nothing in the mailbox:
// none of the rights to insert, expunge or change a flag (RFC 4314 5.2:
// SELECT answers READ-ONLY then).
func (f Folder) ReadOnly() bool {
	return f.rights&(acl.Insert|acl.Expunge|acl.Seen|acl.Write|acl.DeleteMessages) == 0
}

// ownerAddress is the owning account's address.
func (u *User) ownerAddress(f Folder) string {
	if f.owner == "" {
		return u.email
	}
	return f.owner
}

// ownerAccount is the owning account.
func (u *User) ownerAccount(f Folder) store.Account {
	return store.Account{ID: f.mb.AccountID, Email: u.ownerAddress(f)}
}

// need checks that the folder's rights include want.
func (f Folder) need(want acl.Rights, what string) error {
	if f.rights.Has(want) {
		return nil
	}
	if f.rights&visible == 0 {
		return fmt.Errorf("mailbox %q: %w", f.name, store.ErrNotFound)
	}
	return fmt.Errorf("%s in %q needs the %q right: %w", what, f.name, (want &^ f.rights).Letters(), ErrNoPermission)
}

// ownFolder is one of the user's own mailboxes.
func (u *User) ownFolder(mb store.Mailbox) Folder {
	return Folder{mb: mb, name: mb.Name, rights: acl.All}
}

// sharedFolder is another account's mailbox, with the rights its list
// gives the user: under "Shared/" if that account is a shared mailbox,
// else under "Other Users/".
func (u *User) sharedFolder(mb store.Mailbox, owner string, ownerShared bool, entries []acl.Entry) Folder {
	ns := OtherUsersPrefix
	if ownerShared {
		ns = SharedPrefix
	}
	return Folder{mb: mb, name: ns + owner + store.Delimiter + mb.Name, owner: owner, ns: ns, rights: acl.RightsOf(entries, u.ids)}
}

// splitOther parses "Other Users/<address>/<name>" or "Shared/<address>/
// <name>" into the namespace's prefix, the owner's address (lower case)
// and the owner's name of the mailbox. ok is false for a name outside
// those namespaces; a name inside one that names no mailbox ("Shared",
// "Other Users/kim@example.org") has rest "".
func splitOther(name string) (ns, owner, rest string, ok bool) {
	for _, ns := range namespaces {
		if name == strings.TrimSuffix(ns, store.Delimiter) {
			return ns, "", "", true
		}
		if after, found := strings.CutPrefix(name, ns); found {
			owner, rest, _ = strings.Cut(after, store.Delimiter)
			return ns, strings.ToLower(owner), rest, true
		}
	}
	return "", "", "", false
}

// reserved reports whether name lies in a namespace other than the
// personal one, where nobody has mailboxes of their own.
func reserved(name string) bool {
	_, _, _, ok := splitOther(name)
	return ok
}

// Folder looks a mailbox up by the name the user knows it by. A mailbox
// the user has no right to see is store.ErrNotFound, like one that does
// not exist.
func (u *User) Folder(ctx context.Context, name string) (Folder, error) {
	ns, owner, rest, other := splitOther(name)
	if !other {
		mb, err := u.r.st.Mailbox(ctx, u.id, name)
		if err != nil {
			return Folder{}, err
		}
		return u.ownFolder(mb), nil
	}
	notFound := fmt.Errorf("mailbox %q: %w", name, store.ErrNotFound)
	if owner == "" || rest == "" {
		return Folder{}, notFound
	}
	acct, err := u.r.st.Account(ctx, owner)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) || (err == nil && (acct.ID == u.id || acct.Shared != (ns == SharedPrefix))) {
		// (A shared mailbox's folders are under Shared/ only, a
		// person's under Other Users/ only.)
		return Folder{}, notFound
	} else if err != nil {
		return Folder{}, err
	}
	mb, err := u.r.st.Mailbox(ctx, acct.ID, rest)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return Folder{}, notFound
	} else if err != nil {
		return Folder{}, err
	}
	entries, err := u.r.st.MailboxACL(ctx, mb.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Folder{}, notFound
	} else if err != nil {
		return Folder{}, err
	}
	f := u.sharedFolder(mb, acct.Email, acct.Shared, entries)
	if f.rights&visible == 0 {
		return Folder{}, notFound
	}
	return f, nil
}

// FolderByID looks a mailbox up by its store id (web links, URLs).
func (u *User) FolderByID(ctx context.Context, id int64) (Folder, error) {
	mb, err := u.r.st.MailboxByID(ctx, id)
	if err != nil {
		return Folder{}, err
	}
	if mb.AccountID == u.id {
		return u.ownFolder(mb), nil
	}
	shared, err := u.r.st.SharedWith(ctx, u.id, u.ids)
	if err != nil {
		return Folder{}, err
	}
	for _, sm := range shared {
		if sm.ID != id {
			continue
		}
		if f := u.sharedFolder(sm.Mailbox, sm.Owner, sm.OwnerShared, sm.ACL); f.rights&visible != 0 {
			return f, nil
		}
	}
	return Folder{}, fmt.Errorf("mailbox %d: %w", id, store.ErrNotFound)
}

// List returns every mailbox the user can list: their own, sorted by
// name, then those shared with them that they have the "l" right on,
// sorted by owner and name.
func (u *User) List(ctx context.Context) ([]Folder, error) {
	own, err := u.r.st.MailboxList(ctx, u.id)
	if err != nil {
		return nil, err
	}
	out := make([]Folder, 0, len(own))
	for _, mb := range own {
		if reserved(mb.Name) {
			continue // made before the namespace existed: shadowed by it
		}
		out = append(out, u.ownFolder(mb))
	}
	shared, err := u.r.st.SharedWith(ctx, u.id, u.ids)
	if err != nil {
		return nil, err
	}
	for _, sm := range shared {
		if f := u.sharedFolder(sm.Mailbox, sm.Owner, sm.OwnerShared, sm.ACL); f.rights.Has(acl.Lookup) {
			out = append(out, f)
		}
	}
	return out, nil
}
