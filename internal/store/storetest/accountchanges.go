package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"mailroom/internal/store"
)

// accountChangesTests cover store.AccountChanges, what JMAP's /changes
// are answered from: one modseq counter per account, every message and
// mailbox change stamped from it, vanished records and tombstones.
var accountChangesTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"AccountModSeqCounter", testAccountModSeqCounter},
	{"AccountMessageChanges", testAccountMessageChanges},
	{"AccountMailboxChanges", testAccountMailboxChanges},
	{"AccountChangesPaging", testAccountChangesPaging},
	{"AccountChangesPrivateSeen", testAccountChangesPrivateSeen},
	{"AccountChangesConcurrent", testAccountChangesConcurrent},
}

func accountState(t *testing.T, st store.Store, accountID int64) uint64 {
	t.Helper()
	return must(st.AccountState(context.Background(), accountID)).ModSeq
}

// messageChanges returns every message change of the account since, in
// one call.
func messageChanges(t *testing.T, st store.Store, accountID int64, since uint64) store.MessageChanges {
	t.Helper()
	ch := must(st.MessageChangesSince(context.Background(), accountID, since, 0, 100000))
	if ch.More {
		t.Fatal("more than 100000 changes")
	}
	return ch
}

// changeString is a change for comparing lists: vanished or the mailbox,
// and the message ID.
func changeString(c store.MessageChange) string {
	if c.Vanished {
		return fmt.Sprintf("-%d", c.Meta.ID)
	}
	return fmt.Sprintf("%d:%d", c.MailboxID, c.Meta.ID)
}

func changeStrings(ch store.MessageChanges) []string {
	var out []string
	for _, c := range ch.Changes {
		out = append(out, changeString(c))
	}
	return out
}

func wantChanges(t *testing.T, what string, ch store.MessageChanges, want ...string) {
	t.Helper()
	if got := changeStrings(ch); !slices.Equal(got, want) {
		t.Fatalf("%s: changes %v, want %v", what, got, want)
	}
	for i, c := range ch.Changes {
		if c.Meta.ModSeq > ch.State.ModSeq {
			t.Fatalf("%s: change %d has modseq %d, above the state %d", what, i, c.Meta.ModSeq, ch.State.ModSeq)
		}
		if i > 0 && c.Meta.ModSeq < ch.Changes[i-1].Meta.ModSeq {
			t.Fatalf("%s: changes out of modseq order: %+v", what, ch.Changes)
		}
	}
}

func testAccountModSeqCounter(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "demo@example.test")
	b := newAccount(t, st, "other@example.test")
	inbox := mailbox(t, st, a, "INBOX")
	work := must(st.CreateMailbox(ctx, a.ID, "Work", ""))
	s0 := accountState(t, st, a.ID)
	if work.CreatedModSeq == 0 || work.CreatedModSeq != work.MetaModSeq || work.CreatedModSeq > s0 {
		t.Fatalf("new mailbox: created %d, changed %d, account at %d", work.CreatedModSeq, work.MetaModSeq, s0)
	}
	other := accountState(t, st, b.ID)
	var last uint64 = s0
	for i, mb := range []store.Mailbox{inbox, work, inbox, work} {
		d := deliver(t, st, Message(fmt.Sprint("m", i), "b"), store.Target{MailboxID: mb.ID})[0]
		if d.ModSeq != last+1 {
			t.Fatalf("delivery %d: modseq %d, want the account's next %d", i, d.ModSeq, last+1)
		}
		last = d.ModSeq
	}
	if s := accountState(t, st, a.ID); s != last {
		t.Fatalf("account at %d, want %d", s, last)
	}
	if s := accountState(t, st, b.ID); s != other {
		t.Fatalf("another account's counter moved from %d to %d", other, s)
	}
	for _, mb := range must(st.MailboxList(ctx, a.ID)) {
		if mb.HighestModSeq > last || mb.CreatedModSeq > last || mb.MetaModSeq > last {
			t.Fatalf("mailbox %s has modseqs above the account's %d: %+v", mb.Name, last, mb)
		}
	}
	// Per mailbox the modseqs still only grow.
	if mb := mailbox(t, st, a, "Work"); mb.HighestModSeq != last {
		t.Fatalf("Work's HIGHESTMODSEQ %d, want %d", mb.HighestModSeq, last)
	}
	if _, err := st.AccountState(ctx, 99999); err == nil {
		t.Fatal("state of an account that does not exist")
	}
	verifyClean(t, st)
}

func testAccountMessageChanges(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, a, "INBOX")
	work := must(st.CreateMailbox(ctx, a.ID, "Work", ""))
	s0 := accountState(t, st, a.ID)
	if ch := messageChanges(t, st, a.ID, s0); len(ch.Changes) != 0 || ch.State.ModSeq != s0 {
		t.Fatalf("nothing changed, got %+v", ch)
	}
	x := deliver(t, st, Message("x", "b"), store.Target{MailboxID: inbox.ID})[0]
	y := deliver(t, st, Message("y", "b"), store.Target{MailboxID: inbox.ID})[0]
	ch := messageChanges(t, st, a.ID, s0)
	wantChanges(t, "deliveries", ch, fmt.Sprintf("%d:%d", inbox.ID, x.ID), fmt.Sprintf("%d:%d", inbox.ID, y.ID))
	if ch.State.ModSeq != y.ModSeq || ch.Changes[0].Meta.UID != x.UID || ch.Changes[1].Meta.ModSeq != y.ModSeq {
		t.Fatalf("deliveries: %+v", ch)
	}
	if ch.State.NextMessageID <= y.ID {
		t.Fatalf("next message ID %d, not above %d", ch.State.NextMessageID, y.ID)
	}

	// A flag change: that message again, with its new modseq.
	s1 := ch.State.ModSeq
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{x.UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged}))
	ch = messageChanges(t, st, a.ID, s1)
	wantChanges(t, "flags", ch, fmt.Sprintf("%d:%d", inbox.ID, x.ID))
	if ch.Changes[0].Meta.Flags != store.FlagFlagged || ch.Changes[0].Meta.ModSeq <= s1 {
		t.Fatalf("flags: %+v", ch.Changes[0])
	}

	// A copy is a new message.
	s2 := ch.State.ModSeq
	cp := must(st.Copy(ctx, inbox.ID, []uint32{x.UID}, work.ID, store.KeepAll))
	ch = messageChanges(t, st, a.ID, s2)
	if len(ch.Changes) != 1 || ch.Changes[0].MailboxID != work.ID || ch.Changes[0].Meta.ID == x.ID || ch.Changes[0].Meta.UID != cp.DestUIDs[0] {
		t.Fatalf("copy: %+v", ch.Changes)
	}
	copyID := ch.Changes[0].Meta.ID

	// A move keeps the ID: its vanished record, then its new row, later.
	s3 := ch.State.ModSeq
	must(st.Move(ctx, inbox.ID, []uint32{y.UID}, work.ID, store.KeepAll))
	ch = messageChanges(t, st, a.ID, s3)
	wantChanges(t, "move", ch, fmt.Sprintf("-%d", y.ID), fmt.Sprintf("%d:%d", work.ID, y.ID))
	if ch.Changes[0].Meta.ModSeq >= ch.Changes[1].Meta.ModSeq {
		t.Fatalf("move: the new row's modseq %d is not above the vanished record's %d", ch.Changes[1].Meta.ModSeq, ch.Changes[0].Meta.ModSeq)
	}
	if ch.Changes[0].Meta.ThreadID == 0 {
		t.Fatalf("move: vanished record without its thread: %+v", ch.Changes[0])
	}
	if mb := mailbox(t, st, a, "INBOX"); mb.HighestModSeq != ch.Changes[0].Meta.ModSeq {
		t.Fatalf("INBOX's HIGHESTMODSEQ %d, want the move's %d", mb.HighestModSeq, ch.Changes[0].Meta.ModSeq)
	}

	// An expunge.
	s4 := ch.State.ModSeq
	must(st.Expunge(ctx, inbox.ID, []uint32{x.UID}))
	ch = messageChanges(t, st, a.ID, s4)
	wantChanges(t, "expunge", ch, fmt.Sprintf("-%d", x.ID))
	if v := ch.Changes[0]; v.MailboxID != 0 || v.Meta.ThreadID == 0 || v.Meta.ModSeq <= s4 {
		t.Fatalf("expunge: %+v", v)
	}

	// Everything since the start: each message's last word, and the
	// vanished records in between.
	ch = messageChanges(t, st, a.ID, s0)
	wantChanges(t, "since the start", ch, fmt.Sprintf("%d:%d", work.ID, copyID), fmt.Sprintf("-%d", y.ID),
		fmt.Sprintf("%d:%d", work.ID, y.ID), fmt.Sprintf("-%d", x.ID))
	verifyClean(t, st)
}

func testAccountMailboxChanges(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "demo@example.test")
	names := func(ch store.MailboxChanges) []string {
		var out []string
		for _, mb := range ch.Changed {
			out = append(out, mb.Name)
		}
		slices.Sort(out)
		return out
	}
	want := func(what string, ch store.MailboxChanges, changed []string, deleted []int64) {
		t.Helper()
		if got := names(ch); !slices.Equal(got, changed) || !slices.Equal(ch.Deleted, deleted) {
			t.Fatalf("%s: changed %v, deleted %v; want %v, %v", what, got, ch.Deleted, changed, deleted)
		}
	}
	s0 := accountState(t, st, a.ID)
	ch := must(st.MailboxChangesSince(ctx, a.ID, 0))
	if len(ch.Changed) == 0 || ch.State.ModSeq != s0 {
		t.Fatalf("since 0: %+v, state %d", ch, s0)
	}
	want("nothing", must(st.MailboxChangesSince(ctx, a.ID, s0)), nil, nil)

	must(st.CreateMailbox(ctx, a.ID, "Projects/A", ""))
	ch = must(st.MailboxChangesSince(ctx, a.ID, s0))
	want("create", ch, []string{"Projects", "Projects/A"}, nil)
	for _, mb := range ch.Changed {
		if mb.CreatedModSeq <= s0 || mb.CreatedModSeq > ch.State.ModSeq {
			t.Fatalf("create: %+v, state %d", mb, ch.State.ModSeq)
		}
	}

	s1 := ch.State.ModSeq
	ok(t, st.RenameMailbox(ctx, a.ID, "Projects", "Old"))
	ch = must(st.MailboxChangesSince(ctx, a.ID, s1))
	want("rename", ch, []string{"Old", "Old/A"}, nil)
	for _, mb := range ch.Changed {
		if mb.MetaModSeq <= s1 || mb.CreatedModSeq > s1 {
			t.Fatalf("rename: %+v", mb)
		}
	}

	s2 := ch.State.ModSeq
	ok(t, st.SetSubscribed(ctx, a.ID, "Old", true))
	want("subscribe", must(st.MailboxChangesSince(ctx, a.ID, s2)), []string{"Old"}, nil)
	s3 := accountState(t, st, a.ID)
	ok(t, st.SetSubscribed(ctx, a.ID, "Nowhere", true))
	want("subscribe to no mailbox", must(st.MailboxChangesSince(ctx, a.ID, s3)), nil, nil)

	// A delivery changes the mailbox (its counts) too.
	oldA := mailbox(t, st, a, "Old/A")
	d := deliver(t, st, Message("in a", "b"), store.Target{MailboxID: oldA.ID})[0]
	want("delivery", must(st.MailboxChangesSince(ctx, a.ID, s3)), []string{"Old/A"}, nil)

	// Deleting it: a tombstone, and its message vanishes.
	s4 := accountState(t, st, a.ID)
	ok(t, st.DeleteMailbox(ctx, a.ID, "Old/A"))
	ch = must(st.MailboxChangesSince(ctx, a.ID, s4))
	want("delete", ch, nil, []int64{oldA.ID})
	if ch.State.ModSeq <= s4 {
		t.Fatalf("delete: state %d, not above %d", ch.State.ModSeq, s4)
	}
	want("deleted since before it was made", must(st.MailboxChangesSince(ctx, a.ID, s0)), []string{"Old"}, []int64{oldA.ID})
	wantChanges(t, "delete's messages", messageChanges(t, st, a.ID, s4), fmt.Sprintf("-%d", d.ID))
	want("after", must(st.MailboxChangesSince(ctx, a.ID, ch.State.ModSeq)), nil, nil)

	// Renaming INBOX moves its messages: they vanish from INBOX, and
	// show in the new mailbox afterwards.
	inbox := mailbox(t, st, a, "INBOX")
	m1 := deliver(t, st, Message("i1", "b"), store.Target{MailboxID: inbox.ID})[0]
	m2 := deliver(t, st, Message("i2", "b"), store.Target{MailboxID: inbox.ID})[0]
	s5 := accountState(t, st, a.ID)
	ok(t, st.RenameMailbox(ctx, a.ID, "INBOX", "Saved"))
	saved := mailbox(t, st, a, "Saved")
	wantChanges(t, "INBOX rename", messageChanges(t, st, a.ID, s5), fmt.Sprintf("-%d", m1.ID), fmt.Sprintf("-%d", m2.ID),
		fmt.Sprintf("%d:%d", saved.ID, m1.ID), fmt.Sprintf("%d:%d", saved.ID, m2.ID))
	want("INBOX rename", must(st.MailboxChangesSince(ctx, a.ID, s5)), []string{"INBOX", "Saved"}, nil)
	verifyClean(t, st)
}

func testAccountChangesPaging(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, a, "INBOX")
	work := must(st.CreateMailbox(ctx, a.ID, "Work", ""))
	s0 := accountState(t, st, a.ID)
	var uids []uint32
	for i := range 9 {
		uids = append(uids, deliver(t, st, Message(fmt.Sprint("p", i), "b"), store.Target{MailboxID: inbox.ID})[0].UID)
	}
	// Flag changes share a modseq: several changes at one modseq test
	// the afterID cursor.
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: uids[:5], Op: store.FlagsAdd, Flags: store.FlagSeen}))
	must(st.Move(ctx, inbox.ID, uids[3:6], work.ID, store.KeepAll))
	must(st.Expunge(ctx, inbox.ID, uids[6:8]))
	all := messageChanges(t, st, a.ID, s0)
	if len(all.Changes) < 9 {
		t.Fatalf("%d changes", len(all.Changes))
	}
	for _, limit := range []int{1, 2, 3, 4, 7} {
		var got []store.MessageChange
		since, after := s0, int64(0)
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			ch := must(st.MessageChangesSince(ctx, a.ID, since, after, limit))
			if len(ch.Changes) > limit {
				t.Fatalf("limit %d: %d changes", limit, len(ch.Changes))
			}
			got = append(got, ch.Changes...)
			if !ch.More {
				break
			}
			last := ch.Changes[len(ch.Changes)-1]
			since, after = last.Meta.ModSeq, last.Meta.ID
		}
		if !slices.EqualFunc(got, all.Changes, func(x, y store.MessageChange) bool {
			return changeString(x) == changeString(y) && x.Meta.ModSeq == y.Meta.ModSeq
		}) {
			t.Fatalf("limit %d: pages gave %v, want %v", limit, changeStrings(store.MessageChanges{Changes: got}), changeStrings(all))
		}
	}
	// Exactly once each.
	seen := map[string]bool{}
	for _, c := range all.Changes {
		k := fmt.Sprint(changeString(c), "@", c.Meta.ModSeq)
		if seen[k] {
			t.Fatalf("%s twice", k)
		}
		seen[k] = true
	}
	if _, err := st.MessageChangesSince(ctx, a.ID, s0, 0, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func testAccountChangesPrivateSeen(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := newSeenRig(t, st)
	ownerBefore, kimBefore := accountState(t, st, r.owner.ID), accountState(t, st, r.kim.ID)
	res := must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[:1], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID}))
	if len(res.Updated) != 1 {
		t.Fatalf("kim's STORE: %+v", res)
	}
	ch := messageChanges(t, st, r.owner.ID, ownerBefore)
	if len(ch.Changes) != 1 || ch.Changes[0].MailboxID != r.team.ID || ch.Changes[0].Meta.UID != r.uids[0] || ch.State.ModSeq <= ownerBefore {
		t.Fatalf("kim's \\Seen in the owner's account: %+v", ch)
	}
	if s := accountState(t, st, r.kim.ID); s != kimBefore {
		t.Fatalf("kim's counter moved from %d to %d for the owner's mailbox", kimBefore, s)
	}
	// The \Seen mode: a change of the mailbox record, and of every message.
	s1 := ch.State.ModSeq
	ok(t, st.SetSharedSeen(ctx, r.team.ID, true))
	mc := must(st.MailboxChangesSince(ctx, r.owner.ID, s1))
	if len(mc.Changed) != 1 || mc.Changed[0].ID != r.team.ID || mc.Changed[0].MetaModSeq <= s1 {
		t.Fatalf("shared \\Seen switch: %+v", mc)
	}
	if ch := messageChanges(t, st, r.owner.ID, s1); len(ch.Changes) != len(r.uids) {
		t.Fatalf("shared \\Seen switch: %d message changes, want %d", len(ch.Changes), len(r.uids))
	}
}

// testAccountChangesConcurrent: writers into two mailboxes of one account
// while a reader follows the account as a JMAP client does (changes since
// its last state, then that answer's state). A commit that became visible
// after a state above its modseq had been read would be missed for good.
func testAccountChangesConcurrent(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "demo@example.test")
	boxes := []store.Mailbox{mailbox(t, st, a, "INBOX"), must(st.CreateMailbox(ctx, a.ID, "Work", ""))}
	const perWriter = 25
	start := accountState(t, st, a.ID)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(boxes))
	done := make(chan struct{})
	for w, mb := range boxes {
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					m, err := st.Stage(ctx, bytes.NewReader(Message(fmt.Sprintf("w%d-%d-%d", w, k, i), "b")))
					if err == nil {
						var d []store.Delivered
						d, err = st.Deliver(ctx, m, []store.Target{{MailboxID: mb.ID}})
						if err == nil && i%3 == 0 {
							_, err = st.UpdateFlags(ctx, mb.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged})
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var states []uint64
	since := start
	follow := func() {
		s := accountState(t, st, a.ID)
		if s < since {
			t.Fatalf("the account's state went back from %d to %d", since, s)
		}
		states = append(states, s)
		ch := messageChanges(t, st, a.ID, since)
		if ch.State.ModSeq < s {
			t.Fatalf("changes' state %d below the state %d read before", ch.State.ModSeq, s)
		}
		for _, c := range ch.Changes {
			if c.Meta.ModSeq <= since {
				t.Fatalf("change at modseq %d since %d", c.Meta.ModSeq, since)
			}
			seen[c.Meta.ID] = true
		}
		since = ch.State.ModSeq
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		follow()
	}
	follow()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	for _, mb := range boxes {
		for _, m := range must(st.MessageList(ctx, mb.ID)) {
			n++
			if !seen[m.ID] {
				t.Errorf("message %d (modseq %d) was never among the changes", m.ID, m.ModSeq)
			}
		}
	}
	if n != 2*len(boxes)*perWriter {
		t.Fatalf("%d messages, want %d", n, 2*len(boxes)*perWriter)
	}
	// And each state read: exactly the messages above it are changes since it.
	for _, s := range states[max(0, len(states)-20):] {
		for _, c := range messageChanges(t, st, a.ID, s).Changes {
			if c.Meta.ModSeq <= s {
				t.Fatalf("change at %d since %d", c.Meta.ModSeq, s)
			}
		}
	}
}

// verifyClean runs the store's Verify (with its check that no mailbox's
// modseqs exceed its account's counter) and fails on any problem.
func verifyClean(t *testing.T, st store.Store) {
	t.Helper()
	v, isVerifier := st.(store.Verifier)
	if !isVerifier {
		t.Fatal("the store does not implement store.Verifier")
	}
	must(v.Verify(context.Background(), func(p store.Problem) { t.Errorf("problem: %s", p) }))
}
