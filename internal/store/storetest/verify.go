package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// testVerify: a store that went through deliveries (inline and large
// bodies, copies sharing one), flag changes, a move, expunges and a queued
// message verifies clean, and Verify counts what it looked at.
func testVerify(t *testing.T, st store.Store) {
	ctx := context.Background()
	v, ok := st.(store.Verifier)
	if !ok {
		t.Fatal("the store does not implement store.Verifier")
	}
	acct := newAccount(t, st, "demo@example.test")
	newAccount(t, st, "empty@example.test")
	inbox, archive := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Archive")
	large := Message("large", strings.Repeat("a line of a large body, kept as a file or in chunks\r\n", 4000))
	deliver(t, st, large, store.Target{MailboxID: inbox.ID}, store.Target{MailboxID: archive.ID})
	for _, s := range []string{"one", "two", "three"} {
		deliver(t, st, Message(s, "body "+s), store.Target{MailboxID: inbox.ID})
	}
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{2}, Op: store.FlagsAdd, Flags: store.FlagSeen}))
	must(st.Copy(ctx, inbox.ID, []uint32{1, 2}, archive.ID, store.KeepAll))
	must(st.Move(ctx, inbox.ID, []uint32{3}, archive.ID, store.KeepAll))
	must(st.Expunge(ctx, inbox.ID, []uint32{1, 4}))
	queued := must(st.Stage(ctx, bytes.NewReader(Message("out", "for elsewhere"))))
	must(st.Enqueue(ctx, queued, store.QueueEntry{From: "demo@example.test", Recipients: []store.QueueRecipient{{Address: "bob@elsewhere.test", Domain: "elsewhere.test"}}}))

	var problems []store.Problem
	sum := must(v.Verify(ctx, func(p store.Problem) { problems = append(problems, p) }))
	for _, p := range problems {
		t.Errorf("problem in a clean store: %s", p)
	}
	if sum.Accounts != 2 || sum.Messages != 5 {
		t.Errorf("summary %+v: want 2 accounts and 5 messages", sum)
	}
	// Four bodies remain: large (its copies are in Archive), one, two
	// and out; three went with its only message.
	if sum.Contents != 4 || sum.Mailboxes < 2 {
		t.Errorf("summary %+v: want 4 contents", sum)
	}
}
