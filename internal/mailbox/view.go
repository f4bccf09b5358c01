package mailbox

import (
	"context"
	"slices"

	"mailroom/internal/store"
)

// View is one session's picture of a selected mailbox: the UIDs it has
// been told about, in sequence-number order. A View is not safe for
// concurrent use; each session owns its own.
type View struct {
	m      *Mailbox
	uids   []uint32
	serial uint64 // the mailbox serial this view reflects
	modseq uint64 // highest modseq announced to the session
	recent map[uint32]bool
	mode   RecentMode
	kwSeen int // how many of the mailbox's keywords the session was told of
	// rd is the user's own \Seen, for a user other than the owner (nil:
	// the owner, who sees the messages' flags); see seen.go.
	rd    *reader
	owned bool // made by User.Select: Close releases the mailbox
}

// RecentMode is how a view treats \Recent (RFC 3501 2.3.2: a message is
// \Recent in the first session notified of it; "if the session is
// read-only, subsequent sessions will also see \Recent set").
type RecentMode int

// The RecentModes.
const (
	NoRecent    RecentMode = iota // IMAP4rev2, which has no \Recent
	ClaimRecent                   // SELECT: new messages are \Recent here and nowhere else
	PeekRecent                    // EXAMINE: new messages are \Recent here and stay so for the next session
)

// NewView starts a session's view at the mailbox's current state, as its
// owner sees it (User.Select makes the view of any user).
func (m *Mailbox) NewView(mode RecentMode) *View { return m.newView(mode, nil) }

// newView starts a view at the mailbox's current state, with the \Seen of
// rd (nil: the messages' own).
func (m *Mailbox) newView(mode RecentMode, rd *reader) *View {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := &View{m: m, uids: make([]uint32, len(m.msgs)), serial: m.serial, modseq: m.highestModSeq, mode: mode, rd: rd}
	for i := range m.msgs {
		v.uids[i] = m.msgs[i].UID
	}
	v.claimRecent(m.uidNext - 1)
	return v
}

// claimRecent marks as \Recent for this view the UIDs above the mailbox's
// recent mark and, with ClaimRecent, moves the mark (m.mu held).
func (v *View) claimRecent(upTo uint32) {
	if v.mode == NoRecent {
		return
	}
	m := v.m
	for _, u := range v.uids {
		if u > m.recentUpTo && u <= upTo {
			if v.recent == nil {
				v.recent = map[uint32]bool{}
			}
			v.recent[u] = true
		}
	}
	if v.mode == ClaimRecent {
		m.recentUpTo = max(m.recentUpTo, upTo)
	}
}

// Keywords returns the keywords in use in the mailbox (what its FLAGS
// response lists) and whether the list grew since the session was last
// told it: then it must send FLAGS again before showing a message with a
// new keyword (RFC 9051 7.3.5).
func (v *View) Keywords() (keywords []string, grew bool) {
	m := v.m
	m.mu.RLock()
	defer m.mu.RUnlock()
	grew = len(m.keywords) > v.kwSeen
	v.kwSeen = len(m.keywords)
	return slices.Clone(m.keywords), grew
}

// HighestModSeq is the highest modseq the session was told of: every
// change up to it was announced.
func (v *View) HighestModSeq() uint64 { return v.modseq }

// Mailbox returns the shared mailbox.
func (v *View) Mailbox() *Mailbox { return v.m }

// Len is the number of messages the session knows (its EXISTS).
func (v *View) Len() int { return len(v.uids) }

// UID returns the UID of sequence number seq (1-based), 0 if out of range.
func (v *View) UID(seq int) uint32 {
	if seq < 1 || seq > len(v.uids) {
		return 0
	}
	return v.uids[seq-1]
}

// UIDs returns the view's UIDs in sequence order. Do not modify it.
func (v *View) UIDs() []uint32 { return v.uids }

// Seq returns the sequence number of uid, 0 if the view has no such message.
func (v *View) Seq(uid uint32) int {
	i, ok := slices.BinarySearch(v.uids, uid)
	if !ok {
		return 0
	}
	return i + 1
}

// Recent reports whether uid is \Recent for this session.
func (v *View) Recent(uid uint32) bool { return v.recent[uid] }

// RecentCount is the number of \Recent messages in the view.
func (v *View) RecentCount() int {
	n := 0
	for _, u := range v.uids {
		if v.recent[u] {
			n++
		}
	}
	return n
}

// Updates is what a Sync found to announce, in the order IMAP wants it:
// expunges first (by sequence number at the time of each, descending
// within one report), then the new message count, then flag changes.
type Updates struct {
	Expunged []Expunge           // in the order to send
	Exists   int                 // new EXISTS count, 0 if unchanged
	Recent   int                 // new RECENT count if Exists changed
	Flags    []store.MessageMeta // messages whose flags changed, in UID order
	seqs     map[uint32]int      // sequence numbers of Flags, after the update
	Vanished []uint32            // the expunged UIDs, ascending (for VANISHED)
	Deleted  bool                // the mailbox itself is gone
}

// Expunge is one EXPUNGE response.
type Expunge struct {
	Seq int
	UID uint32
}

// SeqOf returns the sequence number of a message of Flags.
func (u *Updates) SeqOf(uid uint32) int { return u.seqs[uid] }

// Empty reports whether there is nothing to announce.
func (u *Updates) Empty() bool {
	return len(u.Expunged) == 0 && u.Exists == 0 && len(u.Flags) == 0 && !u.Deleted
}

// Sync brings the view up to date. With allowExpunge false (during FETCH,
// STORE and SEARCH by sequence number, RFC 9051 7.5.1) expunges are held
// back: the view keeps those messages until a later Sync may announce them,
// and only new messages and flag changes are reported.
func (v *View) Sync(allowExpunge bool) Updates {
	m := v.m
	// What other sessions committed before this command is in the feed,
	// maybe not yet applied: a NOOP after another session's COPY into
	// this mailbox completed must show the new messages.
	m.reg.Barrier(context.Background())
	m.mu.Lock()
	defer m.mu.Unlock()
	var u Updates
	if m.deleted {
		u.Deleted = true
		return u
	}
	if m.serial == v.serial {
		return u
	}
	// Expunged: UIDs in the view that the mailbox no longer has.
	var gone []uint32
	for _, uid := range v.uids {
		if _, ok := m.find(uid); !ok {
			gone = append(gone, uid)
		}
	}
	if len(gone) > 0 && allowExpunge {
		u.Vanished = gone
		// Announce from the highest sequence number down, so each number is
		// still valid when the client applies it.
		for i := len(v.uids) - 1; i >= 0; i-- {
			if _, ok := slices.BinarySearch(gone, v.uids[i]); ok {
				u.Expunged = append(u.Expunged, Expunge{Seq: i + 1, UID: v.uids[i]})
				delete(v.recent, v.uids[i])
			}
		}
		v.uids = slices.DeleteFunc(v.uids, func(x uint32) bool {
			_, ok := slices.BinarySearch(gone, x)
			return ok
		})
	}
	// New messages: UIDs above the view's last.
	last := uint32(0)
	if n := len(v.uids); n > 0 {
		last = v.uids[n-1]
	}
	oldLen := len(v.uids)
	i, _ := m.find(last + 1)
	for ; i < len(m.msgs); i++ {
		if m.msgs[i].UID > last {
			v.uids = append(v.uids, m.msgs[i].UID)
		}
	}
	if len(v.uids) != oldLen {
		v.claimRecent(m.uidNext - 1)
		u.Exists = len(v.uids)
		u.Recent = v.RecentCount()
	}
	// Flag changes of messages the session already knew.
	u.seqs = map[uint32]int{}
	for seq, uid := range v.uids[:oldLen] {
		j, ok := m.find(uid)
		if !ok {
			continue
		}
		if meta := m.msgs[j]; meta.ModSeq > v.modseq && !slices.Contains(gone, uid) {
			if v.private() {
				meta.Flags = store.WithSeen(meta.Flags, v.rd.seen.has(uid))
			}
			u.Flags = append(u.Flags, meta)
			u.seqs[uid] = seq + 1
		}
	}
	v.modseq = m.highestModSeq
	if len(gone) == 0 || allowExpunge {
		v.serial = m.serial
	}
	return u
}
