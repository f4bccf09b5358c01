package sqlitestore

import (
	"context"
	"slices"
	"sync"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// Other processes' changes (admin commands, a second server on the same
// data) reach this process's feed as coarse EventMailboxChanged events from
// the change log poller, up to PollInterval late. Meanwhile this process
// may write the same mailbox and publish its detailed events at once: a
// subscriber that applied this process's modseq 10 catches up "since 10"
// when the poller brings the other process's 9, and never sees 9 (the
// mailbox service would lose, say, `mailroom mailbox seen`'s switch). So,
// as pgstore's publisher does, a write whose mailbox's previous modseq is
// above what this process knows to be published puts an
// EventMailboxChanged up to that modseq ahead of its own events: the
// subscriber catches up from the store first. known is raised by this
// process's writes and by the poller's events; a server seeds it with
// every mailbox's modseq at start, so only mailboxes another process wrote
// since cost a catch-up read.

// maxKnown bounds the mailboxes known remembers. Forgetting costs a
// subscriber's catch-up read on the mailbox's next write, nothing more.
const maxKnown = 1 << 16

// knownModSeqs is, per mailbox, the modseq up to which every change was
// published on this process's feed.
type knownModSeqs struct {
	mu sync.Mutex
	m  map[int64]uint64
}

// remember raises the mailbox's known modseq (k.mu held).
func (k *knownModSeqs) remember(mb int64, modseq uint64) {
	if _, ok := k.m[mb]; !ok && len(k.m) >= maxKnown {
		clear(k.m)
	}
	k.m[mb] = max(k.m[mb], modseq)
}

// seedKnown records every mailbox's modseq, read in the same transaction
// as the change log's last id (conn inside it): what was committed before
// is in the store, what comes after the poller brings.
func (s *Store) seedKnown(conn *sqlite.Conn) error {
	n := 0
	if err := execConn(conn, "SELECT count(*) FROM mailboxes", func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }); err != nil {
		return err
	}
	if n > maxKnown {
		return nil
	}
	s.known.mu.Lock()
	defer s.known.mu.Unlock()
	return execConn(conn, "SELECT id, highestmodseq FROM mailboxes", func(st *sqlite.Stmt) error {
		s.known.remember(st.ColumnInt64(0), uint64(st.ColumnInt64(1)))
		return nil
	})
}

// publish hands a committed batch's events to the feed, each mailbox's
// catch-up first where it is needed (see above). prev holds, per mailbox
// the batch gave new modseqs, its highest modseq before the batch (the
// writer records it: modseqs come from the account's counter, so a
// mailbox's have gaps and the events cannot tell it). The poller's
// events (polled) are catch-ups themselves: they only raise known.
func (s *Store) publish(events []store.Event, prev map[int64]uint64, polled bool) {
	if len(events) == 0 {
		return
	}
	account := map[int64]int64{}
	var boxes []int64
	for _, e := range events {
		if e.MailboxID == 0 || e.ModSeq == 0 || polled {
			continue
		}
		if _, ok := account[e.MailboxID]; !ok {
			account[e.MailboxID] = e.AccountID
			boxes = append(boxes, e.MailboxID)
		}
	}
	slices.Sort(boxes)
	k := &s.known
	k.mu.Lock()
	defer k.mu.Unlock()
	var catchUp []store.Event
	for _, mb := range boxes {
		if p, ok := prev[mb]; ok && p > 1 && k.m[mb] < p {
			catchUp = append(catchUp, store.Event{Kind: store.EventMailboxChanged, AccountID: account[mb], MailboxID: mb, ModSeq: p})
		}
	}
	for _, e := range events {
		switch {
		case e.Kind == store.EventMailboxCreated:
			k.remember(e.MailboxID, 1) // a new mailbox starts at modseq 1
		case e.Kind == store.EventMailboxDeleted:
			delete(k.m, e.MailboxID)
		case e.MailboxID != 0 && e.ModSeq != 0:
			k.remember(e.MailboxID, e.ModSeq)
		}
	}
	// Under k.mu, so that the poller's events and these reach the feed in
	// the order known was raised.
	s.feed.Publish(append(catchUp, events...))
}

// lastChangeID returns the change log's last id and, for a server, seeds
// known in the same read transaction.
func (s *Store) lastChangeID(ctx context.Context) (int64, error) {
	var id int64
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		if err := execConn(conn, "BEGIN", nil); err != nil {
			return err
		}
		defer execConn(conn, "COMMIT", nil)
		if err := execConn(conn, "SELECT coalesce(max(id), 0) FROM changelog", func(st *sqlite.Stmt) error { id = st.ColumnInt64(0); return nil }); err != nil {
			return err
		}
		if !s.opts.Maintenance {
			return nil // an admin command: no subscriber to spare the reads
		}
		return s.seedKnown(conn)
	})
	return id, err
}
