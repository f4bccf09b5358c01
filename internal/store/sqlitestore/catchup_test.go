package sqlitestore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

// TestCatchUpBeforeOwnWrite: another process's change that this one has
// not polled yet comes before this process's next write of the mailbox as
// "changed up to" its modseq, so a subscriber that applies the write does
// not skip it (the mailbox service catches up "since" what it applied).
// Without the catch-up the subscriber got modseq 4 and never 3.
func TestCatchUpBeforeOwnWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(server bool) *Store {
		t.Helper()
		// The poller never runs: what reaches the feed is what writes publish.
		st, err := Open(ctx, Options{Dir: dir, Maintenance: server, PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a := open(true)
	inbox := setupInbox(t, a)
	m, err := a.Stage(ctx, bytes.NewReader(storetest.Message("one", "body")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	b := open(false)
	flag := func(st *Store, f store.Flags) uint64 {
		t.Helper()
		res, err := st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: f})
		if err != nil || len(res.Updated) != 1 {
			t.Fatalf("flags: %+v %v", res, err)
		}
		return res.Updated[0].ModSeq
	}
	sub := a.Subscribe(inbox.AccountID)
	defer sub.Close()
	other := flag(b, store.FlagFlagged)
	own := flag(a, store.FlagSeen)
	b2 := sub.Take().Events
	if len(b2) != 2 || b2[0].Kind != store.EventMailboxChanged || b2[0].ModSeq != other ||
		b2[1].Kind != store.EventFlagsChanged || b2[1].ModSeq != own {
		t.Fatalf("events of the write after another process's: %+v", b2)
	}
	// Known now: the next write needs no catch-up.
	flag(a, store.FlagAnswered)
	if evs := sub.Take().Events; len(evs) != 1 || evs[0].Kind != store.EventFlagsChanged {
		t.Fatalf("events of the next write: %+v", evs)
	}
	// A server started later knows every mailbox's modseq from the store.
	c := open(true)
	subC := c.Subscribe(inbox.AccountID)
	defer subC.Close()
	flag(c, store.FlagDraft)
	if evs := subC.Take().Events; len(evs) != 1 || evs[0].Kind != store.EventFlagsChanged {
		t.Fatalf("a fresh server's first write: %+v", evs)
	}
}
