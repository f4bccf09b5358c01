package mailbox

import (
	"context"
	"fmt"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Per-user \Seen (store.PrivateSeen). The shared Mailbox holds the
// messages' own flags, which the owner sees. Every other account with a
// view of the mailbox open is a reader: while the mailbox's \Seen is per
// user, the Mailbox keeps the set of UIDs that reader has seen, loaded
// when its first view opens and dropped with its last, and its views show
// every message with \Seen from that set (View.Message, View.Messages,
// View.Sync). A view of the owner has no reader, and reads exactly as
// before: one nil check.
//
// The sets follow the change feed with the rest of the state: an event
// with Event.Seen updates its account's set, in the same step that gives
// the message its new modseq (so a session announcing the change shows
// the new \Seen with it); a catch-up from the store (another node's
// change, a lost event) reads the sets' part for the changed messages
// before it applies them; a switch of the mailbox's mode (the store's
// Changes.SharedSeen) loads or drops them.

// reader is the private \Seen of one account, for its views.
type reader struct {
	account int64
	refs    int    // its views; guarded by Mailbox.mu
	seen    uidSet // nil while the mailbox's \Seen is shared
	// loadedAt is the HIGHESTMODSEQ of the snapshot seen was loaded from:
	// events up to it are in seen already.
	loadedAt uint64
}

// uidSet is a set of UIDs as a bit set per 64 UIDs: compact for the dense
// ranges a mailbox's UIDs form, and O(1) to test and change.
type uidSet map[uint32]uint64

func (s uidSet) has(uid uint32) bool { return s[uid>>6]&(1<<(uid&63)) != 0 }

func (s uidSet) set(uid uint32, on bool) {
	w := s[uid>>6]
	if on {
		w |= 1 << (uid & 63)
	} else {
		w &^= 1 << (uid & 63)
	}
	if w == 0 {
		delete(s, uid>>6)
	} else {
		s[uid>>6] = w
	}
}

func newUIDSet(uids []uint32) uidSet {
	s := uidSet{}
	for _, u := range uids {
		s.set(u, true)
	}
	return s
}

// Select opens a mailbox the user may read and starts a session's view
// of it (SELECT, EXAMINE): with the user's own \Seen where it is private.
// Close the view when done.
func (u *User) Select(ctx context.Context, f Folder, mode RecentMode) (*View, error) {
	m, err := u.Open(ctx, f)
	if err != nil {
		return nil, err
	}
	var rd *reader
	if f.mb.AccountID != u.id {
		if rd, err = m.addReader(ctx, u.id); err != nil {
			u.r.Release(m)
			return nil, err
		}
	}
	v := m.newView(mode, rd)
	v.owned = true
	return v, nil
}

// Close ends a view that User.Select made: it releases the mailbox and
// the user's \Seen with it.
func (v *View) Close() {
	if v.rd != nil {
		v.m.dropReader(v.rd)
		v.rd = nil
	}
	if v.owned {
		v.owned = false
		v.m.reg.Release(v.m)
	}
}

// SharedSeen reports whether everyone shares the messages' own \Seen in
// the mailbox (as of the lookup).
func (f Folder) SharedSeen() bool { return f.mb.SharedSeen }

// SetSharedSeen switches the mailbox between one \Seen for everyone
// (shared) and one per user; the owner and users with the "a" right may.
func (u *User) SetSharedSeen(ctx context.Context, f Folder, shared bool) error {
	if err := f.need(acl.Admin, "changing whether \\Seen is shared"); err != nil {
		return err
	}
	return u.r.SetSharedSeen(ctx, f.ID(), shared)
}

// SetSharedSeen is the operation behind User.SetSharedSeen: the store's
// switch, then the wait for the shared state, whose sessions of other
// users see their \Seen change in a FETCH of every message.
func (r *Service) SetSharedSeen(ctx context.Context, mailboxID int64, shared bool) error {
	if err := r.st.SetSharedSeen(ctx, mailboxID, shared); err != nil {
		return err
	}
	r.sync(ctx)
	return nil
}

// addReader registers a view of accountID, loading its \Seen on the
// first one. Under feedMu, so that no event is applied between the read
// and the set's taking effect; events published before the read that
// come after it are skipped by loadedAt.
func (m *Mailbox) addReader(ctx context.Context, accountID int64) (*reader, error) {
	m.reg.feedMu.Lock()
	defer m.reg.feedMu.Unlock()
	m.mu.Lock()
	rd := m.readers[accountID]
	if rd != nil {
		rd.refs++
		m.mu.Unlock()
		return rd, nil
	}
	shared := m.sharedSeen
	m.mu.Unlock()
	rd = &reader{account: accountID, refs: 1}
	if !shared {
		set, err := m.reg.st.PrivateSeen(ctx, m.id, accountID, 1, 1<<32-1)
		if err != nil {
			return nil, fmt.Errorf("mailbox: reading the \\Seen of account %d: %w", accountID, err)
		}
		rd.seen, rd.loadedAt = newUIDSet(set.UIDs), set.ModSeq
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readers == nil {
		m.readers = map[int64]*reader{}
	}
	m.readers[accountID] = rd
	return rd, nil
}

// dropReader ends a view's use of its reader; the last one forgets it.
func (m *Mailbox) dropReader(rd *reader) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rd.refs--
	if rd.refs == 0 && m.readers[rd.account] == rd {
		delete(m.readers, rd.account)
	}
}

// seenChanged applies an event's change of a reader's \Seen (m.mu held),
// after the message's own change applied.
func (m *Mailbox) seenChanged(uid uint32, modseq uint64, c store.SeenChange) {
	if c.Account == 0 {
		return
	}
	if rd := m.readers[c.Account]; rd != nil && rd.seen != nil && modseq > rd.loadedAt {
		rd.seen.set(uid, c.Seen)
	}
}

// readerSeen is what a catch-up read of the readers' \Seen found: for
// each reader, its set anew (full) or the seen UIDs among the changed
// messages.
type readerSeen struct {
	rd   *reader
	full bool
	set  store.SeenSet
}

// readReaders reads the readers' \Seen for a catch-up that brings ch
// (feedMu held): all of it where the mailbox turns per-user, the changed
// messages' part otherwise. None when the mailbox's \Seen is shared.
func (m *Mailbox) readReaders(ctx context.Context, ch store.Changes) ([]readerSeen, error) {
	if ch.SharedSeen {
		return nil, nil
	}
	m.mu.RLock()
	wasShared := m.sharedSeen
	rds := make([]*reader, 0, len(m.readers))
	for _, rd := range m.readers {
		rds = append(rds, rd)
	}
	m.mu.RUnlock()
	if len(rds) == 0 || (!wasShared && len(ch.Changed) == 0) {
		return nil, nil
	}
	from, to := uint32(1), uint32(1<<32-1)
	if !wasShared {
		from, to = ch.Changed[0].UID, ch.Changed[len(ch.Changed)-1].UID
	}
	out := make([]readerSeen, 0, len(rds))
	for _, rd := range rds {
		set, err := m.reg.st.PrivateSeen(ctx, m.id, rd.account, from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, readerSeen{rd: rd, full: wasShared, set: set})
	}
	return out, nil
}

// applyReaders applies what readReaders read, and the mailbox's mode, in
// one step under the lock (before the messages' changes are applied, so
// that no session announces a change with the \Seen of before).
func (m *Mailbox) applyReaders(ch store.Changes, read []readerSeen) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch.SharedSeen != m.sharedSeen {
		m.sharedSeen = ch.SharedSeen
		m.changed()
	}
	if ch.SharedSeen {
		for _, rd := range m.readers {
			rd.seen = nil
		}
		return
	}
	for _, x := range read {
		if x.full {
			x.rd.seen, x.rd.loadedAt = newUIDSet(x.set.UIDs), x.set.ModSeq
			continue
		}
		if x.rd.seen == nil {
			continue
		}
		seen := newUIDSet(x.set.UIDs)
		for i := range ch.Changed {
			u := ch.Changed[i].UID
			x.rd.seen.set(u, seen.has(u))
		}
	}
}

// forgetSeen drops expunged UIDs from the readers' sets (m.mu held).
func (m *Mailbox) forgetSeen(uids []uint32) {
	for _, rd := range m.readers {
		if rd.seen == nil {
			continue
		}
		for _, u := range uids {
			rd.seen.set(u, false)
		}
	}
}

// private reports whether the view shows its reader's \Seen (m.mu held).
func (v *View) private() bool { return v.rd != nil && !v.m.sharedSeen && v.rd.seen != nil }

// Message returns the current state of one message by UID as the view's
// user sees it: with their own \Seen where it is private.
func (v *View) Message(uid uint32) (store.MessageMeta, bool) {
	if v.rd == nil {
		return v.m.Message(uid)
	}
	m := v.m
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.find(uid)
	if !ok {
		return store.MessageMeta{}, false
	}
	meta := m.msgs[i]
	if v.private() {
		meta.Flags = store.WithSeen(meta.Flags, v.rd.seen.has(uid))
	}
	return meta, true
}

// Messages is Mailbox.Messages as the view's user sees the messages.
func (v *View) Messages(uids []uint32, fn func(i int, meta store.MessageMeta)) {
	if v.rd == nil {
		v.m.Messages(uids, fn)
		return
	}
	v.m.Messages(uids, func(i int, meta store.MessageMeta) {
		// Mailbox.Messages holds m.mu.
		if v.private() {
			meta.Flags = store.WithSeen(meta.Flags, v.rd.seen.has(meta.UID))
		}
		fn(i, meta)
	})
}

// Each calls fn with the current state of every message of the mailbox,
// in UID order, as the view's user sees it, until fn returns false: not
// only the messages the view knows, for a reader that wants the mailbox
// as it is now without keeping a view (JMAP). fn runs under the
// mailbox's lock and must not call it.
func (v *View) Each(fn func(meta store.MessageMeta) bool) {
	m := v.m
	m.mu.RLock()
	defer m.mu.RUnlock()
	private := v.private()
	for _, meta := range m.msgs {
		if private {
			meta.Flags = store.WithSeen(meta.Flags, v.rd.seen.has(meta.UID))
		}
		if !fn(meta) {
			return
		}
	}
}
