package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// The operations a User may perform, each checking the rights RFC 4314
// section 4 asks for before it calls the Service's operation (ops.go).

// settable returns the system flags, and whether keywords, rights allow
// to set or clear: \Seen with "s", \Deleted with "t", the others and
// keywords with "w" (RFC 4314 4).
func settable(r acl.Rights) (store.Flags, bool) {
	var f store.Flags
	if r.Has(acl.Seen) {
		f |= store.FlagSeen
	}
	if r.Has(acl.DeleteMessages) {
		f |= store.FlagDeleted
	}
	if r.Has(acl.Write) {
		f |= store.FlagAnswered | store.FlagFlagged | store.FlagDraft
	}
	return f, r.Has(acl.Write)
}

// keep is what a message the user copies or moves into f keeps: the flags
// they may set there. A flag they may not set is dropped, never an error
// (RFC 4314 4). \Seen is as the user sees it, and stays theirs where it is
// private (store.Keep.Account).
func (u *User) keep(f Folder) store.Keep {
	flags, kw := settable(f.rights)
	return store.Keep{Flags: flags, Keywords: kw, Account: u.id}
}

// Open returns the shared state of a mailbox the user may read (SELECT,
// EXAMINE). Call Service.Release when done.
func (u *User) Open(ctx context.Context, f Folder) (*Mailbox, error) {
	if err := f.need(acl.Read, "reading"); err != nil {
		return nil, err
	}
	return u.r.Open(ctx, f.ID())
}

// Status counts a mailbox's messages (STATUS, LIST-STATUS); UNSEEN with
// the user's own \Seen where it is private.
func (u *User) Status(ctx context.Context, f Folder) (store.MailboxStatus, error) {
	if err := f.need(acl.Read, "STATUS"); err != nil {
		return store.MailboxStatus{}, err
	}
	var st store.MailboxStatus
	var err error
	if f.mb.AccountID == u.id {
		st, err = u.r.st.MailboxStatus(ctx, f.ID())
	} else {
		st, err = u.r.st.ReaderStatus(ctx, f.ID(), u.id)
	}
	st.Name = f.name
	return st, err
}

// Target is one mailbox a message is appended to.
type Target struct {
	Folder       Folder
	Flags        store.Flags
	Keywords     []string
	InternalDate time.Time // zero: now
}

// Delivery is one message and the mailboxes it is appended to.
type Delivery struct {
	Msg     store.Staged
	Targets []Target
}

// storeTargets checks the "i" right on every target and keeps only the
// flags the user may set in each.
func (u *User) storeTargets(targets []Target) ([]store.Target, error) {
	out := make([]store.Target, 0, len(targets))
	for _, t := range targets {
		if err := t.Folder.need(acl.Insert, "appending"); err != nil {
			return nil, err
		}
		k := u.keep(t.Folder)
		st := store.Target{MailboxID: t.Folder.ID(), Flags: t.Flags & k.Flags, InternalDate: t.InternalDate}
		if t.Folder.owner != "" {
			// Another account's: \Seen may be the user's own. In the
			// user's own folder Account stays 0 (as the owner), which
			// spares the store a look at the mailbox's \Seen mode.
			st.Account = u.id
		}
		if k.Keywords {
			st.Keywords = t.Keywords
		}
		out = append(out, st)
	}
	return out, nil
}

// Append puts a staged message into each target in one transaction
// (APPEND, saving a draft or a sent copy).
func (u *User) Append(ctx context.Context, msg store.Staged, targets ...Target) ([]store.Delivered, error) {
	st, err := u.storeTargets(targets)
	if err != nil {
		return nil, err
	}
	d, err := u.r.Append(ctx, msg, st)
	if err == nil {
		u.grew(ctx, targets)
	}
	return d, err
}

// grew checks the quota warnings of the accounts that own targets.
func (u *User) grew(ctx context.Context, targets []Target) {
	var done []int64
	for _, t := range targets {
		if id := t.Folder.mb.AccountID; !slices.Contains(done, id) {
			done = append(done, id)
			u.r.grew(ctx, u.ownerAccount(t.Folder))
		}
	}
}

// AppendAll makes several deliveries in one transaction: all or none
// (MULTIAPPEND).
func (u *User) AppendAll(ctx context.Context, deliveries []Delivery) ([]store.Delivered, error) {
	all := make([]store.Delivery, 0, len(deliveries))
	for _, d := range deliveries {
		st, err := u.storeTargets(d.Targets)
		if err != nil {
			return nil, err
		}
		all = append(all, store.Delivery{Msg: d.Msg, Targets: st})
	}
	res, err := u.r.AppendAll(ctx, all)
	if err == nil {
		var targets []Target
		for _, d := range deliveries {
			targets = append(targets, d.Targets...)
		}
		u.grew(ctx, targets)
	}
	return res, err
}

// UpdateFlags changes flags (STORE). Flags the user has no right to
// change are left alone; a request that changes none it could is
// ErrNoPermission (RFC 4314 4: STORE should not fail while at least one
// flag is allowed). \Seen is the user's own where it is private.
func (u *User) UpdateFlags(ctx context.Context, f Folder, upd store.FlagUpdate) (store.FlagResult, error) {
	upd.Account = u.id
	allowed, kwOK := settable(f.rights)
	if f.rights.Has(acl.Seen | acl.Write | acl.DeleteMessages) {
		return u.r.UpdateFlags(ctx, f.ID(), upd)
	}
	if upd.Op != store.FlagsReplace {
		req := upd
		req.Flags &= allowed
		if !kwOK {
			req.Keywords = nil
		}
		if req.Flags == 0 && len(req.Keywords) == 0 && (upd.Flags != 0 || len(upd.Keywords) > 0) {
			return store.FlagResult{}, f.need(acl.Seen|acl.Write|acl.DeleteMessages, "changing flags")
		}
		return u.r.UpdateFlags(ctx, f.ID(), req)
	}
	// A replacement by a user who may change only some flags: the others
	// stay as they are on each message, so it becomes an addition of the
	// allowed flags asked for and a removal of the allowed ones not
	// asked for.
	if allowed == 0 && !kwOK {
		return store.FlagResult{}, f.need(acl.Seen|acl.Write|acl.DeleteMessages, "changing flags")
	}
	add := store.FlagUpdate{UIDs: upd.UIDs, Op: store.FlagsAdd, Flags: upd.Flags & allowed, UnchangedSince: upd.UnchangedSince, Account: u.id}
	remove := store.FlagUpdate{Op: store.FlagsRemove, Flags: allowed &^ upd.Flags, Account: u.id}
	if kwOK {
		add.Keywords = upd.Keywords
		m, err := u.r.Open(ctx, f.ID())
		if err != nil {
			return store.FlagResult{}, err
		}
		for _, k := range m.Keywords() {
			if !slices.ContainsFunc(upd.Keywords, func(x string) bool { return strings.EqualFold(x, k) }) {
				remove.Keywords = append(remove.Keywords, k)
			}
		}
		u.r.Release(m)
	}
	res, err := u.r.UpdateFlags(ctx, f.ID(), add)
	if err != nil {
		return res, err
	}
	// UNCHANGEDSINCE was judged by the first step; the second leaves
	// out what it refused.
	for _, uid := range upd.UIDs {
		if !slices.Contains(res.Modified, uid) {
			remove.UIDs = append(remove.UIDs, uid)
		}
	}
	res2, err := u.r.UpdateFlags(ctx, f.ID(), remove)
	if err != nil {
		return res, err
	}
	// One state per message, the newest.
	for _, m := range res2.Updated {
		if i := slices.IndexFunc(res.Updated, func(x store.MessageMeta) bool { return x.UID == m.UID }); i >= 0 {
			res.Updated[i] = m
		} else {
			res.Updated = append(res.Updated, m)
		}
	}
	slices.SortFunc(res.Updated, func(a, b store.MessageMeta) int { return int(a.UID) - int(b.UID) })
	return res, nil
}

// MarkSeen adds \Seen to messages the user read (their own where it is
// private). Without the "s" right it does nothing: reading must not set
// \Seen then (RFC 4314 4, FETCH).
func (u *User) MarkSeen(ctx context.Context, f Folder, uids []uint32) (store.FlagResult, error) {
	if !f.rights.Has(acl.Seen) {
		return store.FlagResult{}, nil
	}
	return u.r.UpdateFlags(ctx, f.ID(), store.FlagUpdate{UIDs: uids, Op: store.FlagsAdd, Flags: store.FlagSeen, Account: u.id})
}

// Expunge removes messages for good (EXPUNGE, CLOSE, a web delete).
func (u *User) Expunge(ctx context.Context, f Folder, uids []uint32) ([]uint32, error) {
	if err := f.need(acl.Expunge, "expunging"); err != nil {
		return nil, err
	}
	if len(uids) == 0 {
		return nil, nil
	}
	return u.r.Expunge(ctx, f.ID(), uids)
}

// Copy copies messages into dst, which needs the "i" right; the copies
// keep only the flags the user may set there (RFC 4314 4).
func (u *User) Copy(ctx context.Context, src Folder, uids []uint32, dst Folder) (store.CopyResult, error) {
	if err := src.need(acl.Read, "copying"); err != nil {
		return store.CopyResult{}, err
	}
	if err := dst.need(acl.Insert, "copying"); err != nil {
		return store.CopyResult{}, err
	}
	res, err := u.r.Copy(ctx, src.ID(), uids, dst.ID(), u.keep(dst))
	if err == nil && len(res.DestUIDs) > 0 {
		u.r.grew(ctx, u.ownerAccount(dst))
	}
	return res, err
}

// Move moves messages into dst: the "i" right there, and in the source
// the rights to delete and expunge (RFC 6851 3.3: MOVE is COPY, STORE
// \Deleted and EXPUNGE in one).
func (u *User) Move(ctx context.Context, src Folder, uids []uint32, dst Folder) (store.CopyResult, error) {
	if err := src.need(acl.Read|acl.DeleteMessages|acl.Expunge, "moving messages out"); err != nil {
		return store.CopyResult{}, err
	}
	if err := dst.need(acl.Insert, "moving messages in"); err != nil {
		return store.CopyResult{}, err
	}
	res, err := u.r.Move(ctx, src.ID(), uids, dst.ID(), u.keep(dst))
	if err == nil && len(res.DestUIDs) > 0 && src.mb.AccountID != dst.mb.AccountID {
		u.r.grew(ctx, u.ownerAccount(dst))
	}
	return res, err
}

// parentFolder returns the nearest existing level above name, in the
// namespace name is in, and the account and name in that account of the
// mailbox to be; ok is false when there is none (a new top level).
func (u *User) parentFolder(ctx context.Context, name string) (parent Folder, owner int64, ownerName string, ok bool, err error) {
	owner, ownerName = u.id, name
	prefix := ""
	if ns, addr, rest, other := splitOther(name); other {
		if addr == "" || rest == "" {
			return Folder{}, 0, "", false, fmt.Errorf("%w: %q names no mailbox", store.ErrInvalid, name)
		}
		prefix = ns + addr + store.Delimiter
		ownerName = rest
		owner = 0
	}
	parents := store.ParentNames(ownerName)
	for i := len(parents) - 1; i >= 0; i-- {
		p, err := u.Folder(ctx, prefix+parents[i])
		if err == nil {
			return p, p.mb.AccountID, ownerName, true, nil
		}
		if !isNotFound(err) {
			return Folder{}, 0, "", false, err
		}
	}
	if owner == 0 && strings.HasPrefix(prefix, SharedPrefix) {
		// A new top level of a shared mailbox, which nobody logs in as
		// to make one: its INBOX stands for the top (the "k" right there).
		inbox, err := u.Folder(ctx, prefix+"INBOX")
		if err != nil {
			return Folder{}, 0, "", false, err
		}
		return inbox, inbox.mb.AccountID, ownerName, true, nil
	}
	if owner == 0 {
		// A new top level in another user's namespace: only its owner
		// makes those.
		return Folder{}, 0, "", false, fmt.Errorf("creating %q: only the owner makes new top-level mailboxes: %w", name, ErrNoPermission)
	}
	return Folder{}, owner, ownerName, false, nil
}

// CreateMailbox creates a mailbox (and missing levels above it): the
// user's own anywhere, another account's under a mailbox the user has
// the "k" right on. It inherits its parent's access control list.
func (u *User) CreateMailbox(ctx context.Context, name string, use store.SpecialUse) (Folder, error) {
	parent, owner, ownerName, hasParent, err := u.parentFolder(ctx, name)
	if err != nil {
		return Folder{}, err
	}
	if hasParent {
		if err := parent.need(acl.Create, "creating a mailbox"); err != nil {
			return Folder{}, err
		}
	}
	mb, err := u.r.CreateMailbox(ctx, owner, ownerName, use)
	if err != nil {
		return Folder{}, err
	}
	if owner == u.id {
		return u.ownFolder(mb), nil
	}
	if hasParent && parent.mb.Name == "INBOX" && !strings.HasPrefix(ownerName, "INBOX"+store.Delimiter) {
		// A new top level of a shared mailbox (and any level made on the
		// way to it) has no parent to inherit a list from (the store's
		// rule); it takes its INBOX's, so the members who could make it
		// can see it.
		for _, name := range append(store.ParentNames(ownerName), ownerName) {
			level, err := u.r.st.Mailbox(ctx, owner, name)
			if err != nil {
				return Folder{}, err
			}
			if err := u.copyACL(ctx, parent, level.ID); err != nil {
				return Folder{}, err
			}
		}
	}
	return u.Folder(ctx, parent.ns+parent.owner+store.Delimiter+mb.Name)
}

// copyACL gives the mailbox id the access control list of from.
func (u *User) copyACL(ctx context.Context, from Folder, id int64) error {
	entries, err := u.r.st.MailboxACL(ctx, from.ID())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := u.r.st.ModifyACL(ctx, id, e.Identifier, acl.Replace, e.Rights); err != nil {
			return fmt.Errorf("copying the rights of %s: %w", e.Identifier, err)
		}
	}
	return nil
}

// RenameMailbox renames a mailbox within its account: the "x" right on
// it and "k" on the new parent (RFC 4314 4).
func (u *User) RenameMailbox(ctx context.Context, oldName, newName string) error {
	f, err := u.Folder(ctx, oldName)
	if err != nil {
		return err
	}
	if err := f.need(acl.DeleteMailbox, "renaming"); err != nil {
		return err
	}
	parent, owner, ownerName, hasParent, err := u.parentFolder(ctx, newName)
	if err != nil {
		return err
	}
	if owner != f.mb.AccountID {
		return fmt.Errorf("%w: %q and %q belong to different accounts: a mailbox cannot move between them", store.ErrInvalid, oldName, newName)
	}
	if hasParent {
		if err := parent.need(acl.Create, "renaming into"); err != nil {
			return err
		}
	}
	return u.r.RenameMailbox(ctx, f.mb.AccountID, f.mb.Name, ownerName)
}

// DeleteMailbox deletes a mailbox and its messages: the "x" right.
func (u *User) DeleteMailbox(ctx context.Context, name string) error {
	f, err := u.Folder(ctx, name)
	if err != nil {
		return err
	}
	if err := f.need(acl.DeleteMailbox, "deleting"); err != nil {
		return err
	}
	return u.r.DeleteMailbox(ctx, f.mb.AccountID, f.mb.Name)
}

// Subscriptions returns the names the user subscribed to, existing or
// not (LSUB); they are the user's own, whoever owns the mailbox.
func (u *User) Subscriptions(ctx context.Context) ([]string, error) {
	return u.r.st.Subscriptions(ctx, u.id)
}

// SetSubscribed subscribes to a name or unsubscribes from it. No right
// is needed: IMAP lets a client subscribe to names that do not exist
// (RFC 4314 4 needs "l" only where a server checks existence).
func (u *User) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	return u.r.SetSubscribed(ctx, u.id, name, subscribed)
}

// HideFromPOP3 records messages the user's POP3 client deleted in
// "keep" mode.
func (u *User) HideFromPOP3(ctx context.Context, ids []int64) error {
	return u.r.HideFromPOP3(ctx, u.id, ids)
}

// isNotFound reports a lookup that found nothing (or a name that cannot
// exist).
func isNotFound(err error) bool {
	return err != nil && (errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid))
}
