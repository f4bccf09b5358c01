package storetest

import (
	"context"
	"slices"
	"testing"

	"mailroom/internal/store"
)

// seenTests cover the per-user \Seen of shared mailboxes
// (store.PrivateSeen): where a reader's \Seen goes for STORE, APPEND,
// COPY and MOVE, what it costs in modseqs and events, when its rows go,
// and the switch to one \Seen for everyone.
var seenTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"PrivateSeenFlags", testPrivateSeenFlags},
	{"PrivateSeenAppendCopy", testPrivateSeenAppendCopy},
	{"PrivateSeenRemoved", testPrivateSeenRemoved},
	{"SharedSeenSwitch", testSharedSeenSwitch},
}

// seenRig is an owner's mailbox with three unseen messages, shared with
// kim (the store keeps no rights: any account but the owner is a reader).
type seenRig struct {
	owner, kim store.Account
	team       store.Mailbox
	uids       []uint32
}

func newSeenRig(t *testing.T, st store.Store) seenRig {
	t.Helper()
	r := seenRig{owner: newAccount(t, st, "owner@example.test"), kim: newAccount(t, st, "kim@example.test")}
	r.team = must(st.CreateMailbox(context.Background(), r.owner.ID, "Team", ""))
	for _, s := range []string{"s1", "s2", "s3"} {
		r.uids = append(r.uids, deliver(t, st, Message(s, "b"), store.Target{MailboxID: r.team.ID})[0].UID)
	}
	return r
}

// wantPrivate checks the UIDs an account has seen on its own.
func wantPrivate(t *testing.T, st store.Store, mailboxID, accountID int64, want ...uint32) {
	t.Helper()
	got := must(st.PrivateSeen(context.Background(), mailboxID, accountID, 1, 1<<32-1)).UIDs
	if !slices.Equal(got, want) {
		t.Fatalf("account %d has seen %v, want %v", accountID, got, want)
	}
}

// flagsOf returns the message's own flags and modseq.
func flagsOf(t *testing.T, st store.Store, mailboxID int64, uid uint32) (store.Flags, uint64) {
	t.Helper()
	for _, m := range must(st.MessageList(context.Background(), mailboxID)) {
		if m.UID == uid {
			return m.Flags, m.ModSeq
		}
	}
	t.Fatalf("message %d not found", uid)
	return 0, 0
}

func testPrivateSeenFlags(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := newSeenRig(t, st)
	sub := st.Subscribe(r.owner.ID)
	defer sub.Close()
	before := mailbox(t, st, r.owner, "Team").HighestModSeq

	// kim reads message 1: her \Seen, not the message's, with a new modseq.
	res := must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[:1], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID}))
	if len(res.Updated) != 1 || res.Updated[0].Flags != store.FlagSeen || res.Updated[0].ModSeq <= before {
		t.Fatalf("kim's STORE +\\Seen: %+v", res.Updated)
	}
	if f, ms := flagsOf(t, st, r.team.ID, r.uids[0]); f != 0 || ms != res.Updated[0].ModSeq {
		t.Fatalf("the message has %v at modseq %d, want no flag at %d", f.Names(), ms, res.Updated[0].ModSeq)
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID, r.uids[0])
	waitEvent(t, sub, func(e store.Event) bool {
		return e.Kind == store.EventFlagsChanged && e.Message.UID == r.uids[0] && e.Message.Flags == 0 &&
			e.Seen == store.SeenChange{Account: r.kim.ID, Seen: true} && e.ModSeq == res.Updated[0].ModSeq
	})
	set := must(st.PrivateSeen(ctx, r.team.ID, r.kim.ID, 1, 1<<32-1))
	if set.ModSeq != res.Updated[0].ModSeq {
		t.Fatalf("PrivateSeen's modseq %d, want %d", set.ModSeq, res.Updated[0].ModSeq)
	}
	ch := must(st.ChangesSince(ctx, r.team.ID, before))
	if len(ch.Changed) != 1 || ch.Changed[0].UID != r.uids[0] || ch.SharedSeen {
		t.Fatalf("changes since %d: %+v", before, ch)
	}

	// Counted per reader; the owner's count is the messages' flags.
	if s := must(st.ReaderStatus(ctx, r.team.ID, r.kim.ID)); s.Unseen != 2 || s.Messages != 3 {
		t.Fatalf("kim's status: %d of %d unseen", s.Unseen, s.Messages)
	}
	for _, s := range []store.MailboxStatus{must(st.MailboxStatus(ctx, r.team.ID)), must(st.ReaderStatus(ctx, r.team.ID, r.owner.ID))} {
		if s.Unseen != 3 {
			t.Fatalf("the owner's status: %d unseen", s.Unseen)
		}
	}

	// The same again changes nothing, not even the modseq.
	ms := mailbox(t, st, r.owner, "Team").HighestModSeq
	if res := must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[:1], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID})); len(res.Updated) != 0 {
		t.Fatalf("an unchanged STORE updated %+v", res.Updated)
	}
	if got := mailbox(t, st, r.owner, "Team").HighestModSeq; got != ms {
		t.Fatalf("an unchanged STORE moved HIGHESTMODSEQ from %d to %d", ms, got)
	}

	// Other flags are the message's; the owner's \Seen is the message's.
	res = must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[1:2], Op: store.FlagsAdd, Flags: store.FlagSeen | store.FlagFlagged, Account: r.kim.ID}))
	if len(res.Updated) != 1 || res.Updated[0].Flags != store.FlagSeen|store.FlagFlagged {
		t.Fatalf("kim's STORE +(\\Seen \\Flagged): %+v", res.Updated)
	}
	if f, _ := flagsOf(t, st, r.team.ID, r.uids[1]); f != store.FlagFlagged {
		t.Fatalf("the message has %v, want \\Flagged", f.Names())
	}
	must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[:1], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.owner.ID}))
	if f, _ := flagsOf(t, st, r.team.ID, r.uids[0]); f != store.FlagSeen {
		t.Fatalf("the owner's \\Seen: the message has %v", f.Names())
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID, r.uids[0], r.uids[1])

	// A replacement by kim: her \Seen goes, the owner's stays, \Answered
	// is set on the message.
	res = must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[:1], Op: store.FlagsReplace, Flags: store.FlagAnswered, Account: r.kim.ID}))
	if len(res.Updated) != 1 || res.Updated[0].Flags != store.FlagAnswered {
		t.Fatalf("kim's STORE FLAGS (\\Answered): %+v", res.Updated)
	}
	if f, _ := flagsOf(t, st, r.team.ID, r.uids[0]); f != store.FlagSeen|store.FlagAnswered {
		t.Fatalf("after kim's replacement the message has %v", f.Names())
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID, r.uids[1])

	// UNCHANGEDSINCE compares the message's modseq, which kim's \Seen moved.
	_, ms2 := flagsOf(t, st, r.team.ID, r.uids[1])
	res = must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[1:2], Op: store.FlagsRemove, Flags: store.FlagSeen, Account: r.kim.ID, UnchangedSince: ms2 - 1}))
	if !slices.Equal(res.Modified, r.uids[1:2]) || len(res.Updated) != 0 {
		t.Fatalf("UNCHANGEDSINCE below the message's modseq: %+v", res)
	}
	res = must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[1:2], Op: store.FlagsRemove, Flags: store.FlagSeen, Account: r.kim.ID, UnchangedSince: ms2}))
	if len(res.Updated) != 1 || res.Updated[0].Flags != store.FlagFlagged {
		t.Fatalf("kim's STORE -\\Seen: %+v", res)
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID)
	waitEvent(t, sub, func(e store.Event) bool {
		return e.Kind == store.EventFlagsChanged && e.Message.UID == r.uids[1] && e.Seen == store.SeenChange{Account: r.kim.ID, Seen: false}
	})

	// In kim's own mailbox her \Seen is the message's.
	inbox := mailbox(t, st, r.kim, "INBOX")
	d := deliver(t, st, Message("own", "b"), store.Target{MailboxID: inbox.ID})
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID}))
	if f, _ := flagsOf(t, st, inbox.ID, d[0].UID); f != store.FlagSeen {
		t.Fatalf("kim's own message has %v", f.Names())
	}
	wantPrivate(t, st, inbox.ID, r.kim.ID)
	if _, err := st.PrivateSeen(ctx, 1<<40, r.kim.ID, 1, 10); err == nil {
		t.Fatal("PrivateSeen of a mailbox that does not exist")
	}
	_, err := st.ReaderStatus(ctx, 1<<40, r.kim.ID)
	wantErr(t, err, store.ErrNotFound, "ReaderStatus of a mailbox that does not exist")
}

func testPrivateSeenAppendCopy(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := newSeenRig(t, st)
	sub := st.Subscribe(r.owner.ID)
	defer sub.Close()

	// kim appends with \Seen \Flagged: \Flagged is the message's, \Seen hers.
	d := deliver(t, st, Message("by kim", "b"), store.Target{MailboxID: r.team.ID, Flags: store.FlagSeen | store.FlagFlagged, Account: r.kim.ID})
	if f, _ := flagsOf(t, st, r.team.ID, d[0].UID); f != store.FlagFlagged {
		t.Fatalf("kim's APPEND stored %v", f.Names())
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID, d[0].UID)
	waitEvent(t, sub, func(e store.Event) bool {
		return e.Kind == store.EventMessageAdded && e.Message.UID == d[0].UID && e.Message.Flags == store.FlagFlagged &&
			e.Seen == store.SeenChange{Account: r.kim.ID, Seen: true}
	})
	// The owner's APPEND with \Seen is the message's.
	d2 := deliver(t, st, Message("by owner", "b"), store.Target{MailboxID: r.team.ID, Flags: store.FlagSeen, Account: r.owner.ID})
	if f, _ := flagsOf(t, st, r.team.ID, d2[0].UID); f != store.FlagSeen {
		t.Fatalf("the owner's APPEND stored %v", f.Names())
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID, d[0].UID)

	// kim copies out what she has seen, and what only the owner has: the
	// copies in her INBOX carry \Seen as she saw it.
	inbox := mailbox(t, st, r.kim, "INBOX")
	keep := store.KeepAll
	keep.Account = r.kim.ID
	c := must(st.Copy(ctx, r.team.ID, []uint32{d[0].UID, d2[0].UID}, inbox.ID, keep))
	if f, _ := flagsOf(t, st, inbox.ID, c.DestUIDs[0]); f != store.FlagSeen|store.FlagFlagged {
		t.Fatalf("the copy of what kim saw has %v", f.Names())
	}
	if f, _ := flagsOf(t, st, inbox.ID, c.DestUIDs[1]); f != 0 {
		t.Fatalf("the copy of what only the owner saw has %v", f.Names())
	}
	// And back in: her \Seen of the copies stays hers; a move takes hers
	// of the source with it.
	c = must(st.Copy(ctx, inbox.ID, c.DestUIDs[:1], r.team.ID, keep))
	if f, _ := flagsOf(t, st, r.team.ID, c.DestUIDs[0]); f != store.FlagFlagged {
		t.Fatalf("kim's copy into Team stored %v", f.Names())
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID, d[0].UID, c.DestUIDs[0])
	archive := must(st.CreateMailbox(ctx, r.owner.ID, "Team/Archive", ""))
	m := must(st.Move(ctx, r.team.ID, []uint32{d[0].UID}, archive.ID, keep))
	if f, _ := flagsOf(t, st, archive.ID, m.DestUIDs[0]); f != store.FlagFlagged {
		t.Fatalf("kim's move stored %v", f.Names())
	}
	wantPrivate(t, st, archive.ID, r.kim.ID, m.DestUIDs[0])
	wantPrivate(t, st, r.team.ID, r.kim.ID, c.DestUIDs[0])
	// Without \Seen kept (no "s" right there), nothing is hers either.
	c = must(st.Copy(ctx, r.team.ID, c.DestUIDs, archive.ID, store.Keep{Flags: store.FlagFlagged, Account: r.kim.ID}))
	wantPrivate(t, st, archive.ID, r.kim.ID, m.DestUIDs[0])
	if f, _ := flagsOf(t, st, archive.ID, c.DestUIDs[0]); f != store.FlagFlagged {
		t.Fatalf("a copy without \\Seen kept stored %v", f.Names())
	}
}

func testPrivateSeenRemoved(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := newSeenRig(t, st)
	lee := newAccount(t, st, "lee@example.test")
	for _, a := range []store.Account{r.kim, lee} {
		must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids, Op: store.FlagsAdd, Flags: store.FlagSeen, Account: a.ID}))
	}
	// An expunge takes everyone's \Seen of the message.
	must(st.Expunge(ctx, r.team.ID, r.uids[:1]))
	wantPrivate(t, st, r.team.ID, r.kim.ID, r.uids[1:]...)
	wantPrivate(t, st, r.team.ID, lee.ID, r.uids[1:]...)
	// So does a move out, by the owner.
	other := must(st.CreateMailbox(ctx, r.owner.ID, "Other", ""))
	must(st.Move(ctx, r.team.ID, r.uids[1:2], other.ID, store.KeepAll))
	wantPrivate(t, st, r.team.ID, r.kim.ID, r.uids[2])
	wantPrivate(t, st, other.ID, r.kim.ID)
	// Renaming INBOX moves its messages out, without anyone's \Seen.
	inbox := mailbox(t, st, r.owner, "INBOX")
	d := deliver(t, st, Message("in inbox", "b"), store.Target{MailboxID: inbox.ID})
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID}))
	wantPrivate(t, st, inbox.ID, r.kim.ID, d[0].UID)
	ok(t, st.RenameMailbox(ctx, r.owner.ID, "INBOX", "Old"))
	wantPrivate(t, st, inbox.ID, r.kim.ID)
	if f, _ := flagsOf(t, st, mailbox(t, st, r.owner, "Old").ID, 1); f != 0 {
		t.Fatalf("the message moved out of INBOX has %v", f.Names())
	}
	// Deleting a reader takes hers.
	ok(t, st.DeleteAccount(ctx, r.kim.Email))
	wantPrivate(t, st, r.team.ID, r.kim.ID)
	wantPrivate(t, st, r.team.ID, lee.ID, r.uids[2])
	if s := must(st.ReaderStatus(ctx, r.team.ID, lee.ID)); s.Unseen != 0 || s.Messages != 1 {
		t.Fatalf("lee's status: %d of %d unseen", s.Unseen, s.Messages)
	}
	// Deleting the mailbox takes the rest.
	ok(t, st.DeleteMailbox(ctx, r.owner.ID, "Team"))
	again := must(st.CreateMailbox(ctx, r.owner.ID, "Team", ""))
	deliver(t, st, Message("new", "b"), store.Target{MailboxID: again.ID})
	wantPrivate(t, st, again.ID, lee.ID)
	_, err := st.PrivateSeen(ctx, r.team.ID, lee.ID, 1, 10)
	wantErr(t, err, store.ErrNotFound, "PrivateSeen of a deleted mailbox")
}

func testSharedSeenSwitch(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := newSeenRig(t, st)
	must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[:1], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID}))
	if mailbox(t, st, r.owner, "Team").SharedSeen {
		t.Fatal("a new mailbox's \\Seen is shared")
	}
	sub := st.Subscribe(r.owner.ID)
	defer sub.Close()
	before := mailbox(t, st, r.owner, "Team").HighestModSeq

	ok(t, st.SetSharedSeen(ctx, r.team.ID, true))
	mb := mailbox(t, st, r.owner, "Team")
	if !mb.SharedSeen || mb.HighestModSeq <= before {
		t.Fatalf("after the switch: %+v", mb)
	}
	if got := must(st.MailboxByID(ctx, r.team.ID)); !got.SharedSeen {
		t.Fatal("MailboxByID does not say shared")
	}
	waitEvent(t, sub, func(e store.Event) bool {
		return e.Kind == store.EventMailboxChanged && e.MailboxID == r.team.ID && e.ModSeq == mb.HighestModSeq
	})
	// Every message has the new modseq, and a reader's changes since
	// before see them all, with the mode.
	ch := must(st.ChangesSince(ctx, r.team.ID, before))
	if len(ch.Changed) != 3 || !ch.SharedSeen || ch.ModSeq != mb.HighestModSeq {
		t.Fatalf("changes since the switch: %+v", ch)
	}
	for _, m := range ch.Changed {
		if m.ModSeq != mb.HighestModSeq {
			t.Fatalf("message %d at modseq %d, want %d", m.UID, m.ModSeq, mb.HighestModSeq)
		}
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID)
	// Now kim's \Seen is the message's, and counts for everyone.
	must(st.UpdateFlags(ctx, r.team.ID, store.FlagUpdate{UIDs: r.uids[1:2], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: r.kim.ID}))
	if f, _ := flagsOf(t, st, r.team.ID, r.uids[1]); f != store.FlagSeen {
		t.Fatalf("kim's \\Seen in a shared-seen mailbox: the message has %v", f.Names())
	}
	wantPrivate(t, st, r.team.ID, r.kim.ID)
	d := deliver(t, st, Message("by kim", "b"), store.Target{MailboxID: r.team.ID, Flags: store.FlagSeen, Account: r.kim.ID})
	if f, _ := flagsOf(t, st, r.team.ID, d[0].UID); f != store.FlagSeen {
		t.Fatalf("kim's APPEND in a shared-seen mailbox stored %v", f.Names())
	}
	for _, s := range []store.MailboxStatus{must(st.ReaderStatus(ctx, r.team.ID, r.kim.ID)), must(st.MailboxStatus(ctx, r.team.ID))} {
		if s.Unseen != 2 || !s.SharedSeen {
			t.Fatalf("status in a shared-seen mailbox: %d unseen, shared %v", s.Unseen, s.SharedSeen)
		}
	}
	// The same mode again changes nothing.
	ms := mailbox(t, st, r.owner, "Team").HighestModSeq
	ok(t, st.SetSharedSeen(ctx, r.team.ID, true))
	if got := mailbox(t, st, r.owner, "Team").HighestModSeq; got != ms {
		t.Fatalf("setting the same mode moved HIGHESTMODSEQ from %d to %d", ms, got)
	}
	// Back to per user: the others start with nothing seen.
	ok(t, st.SetSharedSeen(ctx, r.team.ID, false))
	if s := must(st.ReaderStatus(ctx, r.team.ID, r.kim.ID)); s.Unseen != 4 || s.SharedSeen {
		t.Fatalf("kim's status after the switch back: %d unseen, shared %v", s.Unseen, s.SharedSeen)
	}
	if s := must(st.MailboxStatus(ctx, r.team.ID)); s.Unseen != 2 {
		t.Fatalf("the owner's status after the switch back: %d unseen", s.Unseen)
	}
	err := st.SetSharedSeen(ctx, 1<<40, true)
	wantErr(t, err, store.ErrNotFound, "SetSharedSeen of a mailbox that does not exist")
}
