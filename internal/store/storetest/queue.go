package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"mailroom/internal/store"
)

func stage(t *testing.T, st QueueStore, raw []byte) store.Staged {
	t.Helper()
	m, err := st.Stage(context.Background(), bytes.NewReader(raw))
	ok(t, err)
	return m
}

func readQueued(t *testing.T, st QueueStore, id int64) []byte {
	t.Helper()
	b := must(st.OpenQueued(context.Background(), id))
	defer b.Close()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	ok(t, err)
	return data
}

// testQueue: enqueue, claim with a lease (no double claim), retry
// schedule, done recipients leave, the message goes with its last one.
func testQueue(t *testing.T, st QueueStore) {
	ctx := context.Background()
	raw := Message("queued", "hello")
	prefix := []byte("DKIM-Signature: v=1; test\r\n")
	id := must(st.Enqueue(ctx, stage(t, st, raw), store.QueueEntry{
		From: "ann@example.test", EnvID: "env1", Ret: "HDRS", EightBit: true, HeaderPrefix: prefix,
		Recipients: []store.QueueRecipient{
			{Address: "a@one.example", Domain: "one.example", Notify: []string{"FAILURE", "DELAY"}, ORcpt: "rfc822;a@one.example"},
			{Address: "b@one.example", Domain: "one.example"},
			{Address: "c@two.example", Domain: "two.example"},
		},
	}))
	if got := readQueued(t, st, id); !bytes.Equal(got, append(append([]byte(nil), prefix...), raw...)) {
		t.Fatalf("queued body = %q", got)
	}
	now := time.Now()
	batches := must(st.ClaimQueued(ctx, "w1", now, time.Minute, 100))
	if len(batches) != 2 {
		t.Fatalf("claimed %d batches, want one per domain: %+v", len(batches), batches)
	}
	byDomain := map[string]store.QueueBatch{}
	for _, b := range batches {
		byDomain[b.Domain] = b
	}
	one := byDomain["one.example"]
	if len(one.Message.Recipients) != 2 || one.Message.From != "ann@example.test" || one.Message.EnvID != "env1" ||
		one.Message.Ret != "HDRS" || !one.Message.EightBit || one.Message.Size != int64(len(raw)+len(prefix)) {
		t.Fatalf("batch for one.example: %+v", one)
	}
	if r := one.Message.Recipients[0]; r.Address != "a@one.example" || len(r.Notify) != 2 || r.ORcpt != "rfc822;a@one.example" {
		t.Fatalf("recipient: %+v", r)
	}
	if again := must(st.ClaimQueued(ctx, "w2", now, time.Minute, 100)); len(again) != 0 {
		t.Fatalf("leased recipients claimed twice: %+v", again)
	}
	// A restarted w1 releases its leases; they can be claimed again.
	ok(t, st.ReleaseQueued(ctx, "w1"))
	if again := must(st.ClaimQueued(ctx, "w1", now, time.Minute, 100)); len(again) != 2 {
		t.Fatalf("after ReleaseQueued: %+v", again)
	}
	// a delivered, b failed temporarily, c not reported (the worker died).
	retryAt := now.Add(5 * time.Minute)
	ok(t, st.FinishQueued(ctx, "w1", []store.QueueOutcome{
		{RecipientID: one.Message.Recipients[0].ID, Done: true},
		{RecipientID: one.Message.Recipients[1].ID, NextAttempt: retryAt, LastError: "451 4.3.0 try later"},
	}))
	m := must(st.QueuedMessage(ctx, id))
	if len(m.Recipients) != 2 {
		t.Fatalf("after one delivery: %+v", m.Recipients)
	}
	b := m.Recipients[0]
	if b.Address != "b@one.example" || b.Attempts != 1 || b.LastError != "451 4.3.0 try later" ||
		b.NextAttempt.UnixMilli() != retryAt.UnixMilli() || !b.LeasedUntil.IsZero() {
		t.Fatalf("retried recipient: %+v", b)
	}
	// After the lease, c is claimable again; b only when due.
	later := now.Add(2 * time.Minute)
	batches = must(st.ClaimQueued(ctx, "w2", later, time.Minute, 100))
	if len(batches) != 1 || batches[0].Domain != "two.example" {
		t.Fatalf("after the lease expired: %+v", batches)
	}
	if next := must(st.NextQueued(ctx)); next.IsZero() {
		t.Fatal("NextQueued says the queue is empty")
	}
	if n := must(st.RetryQueued(ctx, id, later)); n != 1 {
		t.Fatalf("RetryQueued rescheduled %d recipients, want 1 (c is leased)", n)
	}
	batches = must(st.ClaimQueued(ctx, "w3", later, time.Minute, 100))
	if len(batches) != 1 || batches[0].Message.Recipients[0].Address != "b@one.example" {
		t.Fatalf("after retry: %+v", batches)
	}
	list := must(st.QueuedMessages(ctx))
	if len(list) != 1 || len(list[0].Recipients) != 2 {
		t.Fatalf("queue list: %+v", list)
	}
	// A retry reported by a worker that lost its lease is ignored; Done is not.
	ok(t, st.FinishQueued(ctx, "w1", []store.QueueOutcome{{RecipientID: b.ID, NextAttempt: later.Add(time.Hour)}}))
	if m := must(st.QueuedMessage(ctx, id)); m.Recipients[0].Attempts != 1 {
		t.Fatalf("a stale owner's retry was recorded: %+v", m.Recipients[0])
	}
	var ids []store.QueueOutcome
	for _, r := range must(st.QueuedMessage(ctx, id)).Recipients {
		ids = append(ids, store.QueueOutcome{RecipientID: r.ID, Done: true})
	}
	ok(t, st.FinishQueued(ctx, "w3", ids))
	if _, err := st.QueuedMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("message left after its last recipient: %v", err)
	}
	if _, err := st.OpenQueued(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("body of a finished message: %v", err)
	}
	if next := must(st.NextQueued(ctx)); !next.IsZero() {
		t.Fatalf("NextQueued on an empty queue = %v", next)
	}

	// Drop removes a message and says what it was.
	id = must(st.Enqueue(ctx, stage(t, st, raw), store.QueueEntry{From: "ann@example.test",
		Recipients: []store.QueueRecipient{{Address: "x@three.example", Domain: "three.example"}}}))
	dropped := must(st.DropQueued(ctx, id))
	if dropped.ID != id || len(dropped.Recipients) != 1 {
		t.Fatalf("dropped: %+v", dropped)
	}
	if list := must(st.QueuedMessages(ctx)); len(list) != 0 {
		t.Fatalf("queue after drop: %+v", list)
	}
	if _, err := st.DropQueued(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second drop: %v", err)
	}
}

// testQueueSharesBodies: one staged message delivered locally and queued
// keeps one body, which outlives either use alone.
func testQueueSharesBodies(t *testing.T, st QueueStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "ann@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	raw := Message("both", string(bytes.Repeat([]byte("big body line\r\n"), 10_000)))
	m := stage(t, st, raw)
	r := must(m.Open())
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Staged.Open read %d bytes, %v", len(got), err)
	}
	r.Close()
	d := must(st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}))
	id := must(st.Enqueue(ctx, m, store.QueueEntry{From: "ann@example.test",
		Recipients: []store.QueueRecipient{{Address: "x@remote.example", Domain: "remote.example"}}}))
	ok(t, m.Discard()) // a no-op once used
	_ = must(st.Expunge(ctx, inbox.ID, []uint32{d[0].UID}))
	if got := readQueued(t, st, id); !bytes.Equal(got, raw) {
		t.Fatal("the queued body went with the expunged copy")
	}
	b := must(st.ClaimQueued(ctx, "w", time.Now(), time.Minute, 10))
	ok(t, st.FinishQueued(ctx, "w", []store.QueueOutcome{{RecipientID: b[0].Message.Recipients[0].ID, Done: true}}))
	if _, err := st.OpenQueued(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("queued body after delivery: %v", err)
	}
}

// testQueueLeaseRenewal: a worker renews its short leases while it sends;
// a renewed lease keeps the recipients from other workers, one not
// renewed lets another worker take them over once it expires, and then
// the first can neither renew it nor record a retry under it.
func testQueueLeaseRenewal(t *testing.T, st QueueStore) {
	ctx := context.Background()
	id := must(st.Enqueue(ctx, stage(t, st, Message("leased", "hello")), store.QueueEntry{
		From: "ann@example.test",
		Recipients: []store.QueueRecipient{
			{Address: "a@one.example", Domain: "one.example"},
			{Address: "b@one.example", Domain: "one.example"},
		},
	}))
	now := time.Now()
	const lease = 2 * time.Minute
	batches := must(st.ClaimQueued(ctx, "w1", now, lease, 100))
	if len(batches) != 1 || len(batches[0].Message.Recipients) != 2 {
		t.Fatalf("claimed %+v", batches)
	}
	a, b := batches[0].Message.Recipients[0].ID, batches[0].Message.Recipients[1].ID
	ids := []int64{a, b}
	if got := must(st.RenewQueued(ctx, "w1", nil, now.Add(lease))); len(got) != 0 {
		t.Fatalf("renewing nothing renewed %v", got)
	}
	// Renewed at now+90s until now+90s+lease: still w1's at now+3m.
	if got := must(st.RenewQueued(ctx, "w1", ids, now.Add(90*time.Second+lease))); len(got) != 2 {
		t.Fatalf("w1 renewed %v, want both %v", got, ids)
	}
	for _, r := range must(st.QueuedMessage(ctx, id)).Recipients {
		if !r.LeasedUntil.Equal(now.Add(90*time.Second + lease).Truncate(time.Millisecond)) {
			t.Errorf("recipient %d leased until %v, want %v", r.ID, r.LeasedUntil, now.Add(90*time.Second+lease))
		}
	}
	if got := must(st.ClaimQueued(ctx, "w2", now.Add(3*time.Minute), lease, 100)); len(got) != 0 {
		t.Fatalf("a renewed lease was taken over: %+v", got)
	}
	if got := must(st.RenewQueued(ctx, "w2", ids, now.Add(10*time.Minute))); len(got) != 0 {
		t.Fatalf("w2 renewed w1's leases: %v", got)
	}
	// w1 stops renewing (it died): once the lease has expired w2 takes over.
	taken := must(st.ClaimQueued(ctx, "w2", now.Add(90*time.Second+lease), lease, 100))
	if len(taken) != 1 || len(taken[0].Message.Recipients) != 2 {
		t.Fatalf("after the lease expired w2 claimed %+v", taken)
	}
	if got := must(st.RenewQueued(ctx, "w1", ids, now.Add(10*time.Minute))); len(got) != 0 {
		t.Fatalf("w1 renewed leases w2 has taken over: %v", got)
	}
	// w2 delivers a; w1, late, can record no retry for b under w2's lease.
	ok(t, st.FinishQueued(ctx, "w2", []store.QueueOutcome{{RecipientID: a, Done: true}}))
	ok(t, st.FinishQueued(ctx, "w1", []store.QueueOutcome{{RecipientID: b, NextAttempt: now.Add(time.Hour), LastError: "late"}}))
	m := must(st.QueuedMessage(ctx, id))
	if len(m.Recipients) != 1 || m.Recipients[0].ID != b || m.Recipients[0].Attempts != 0 || m.Recipients[0].LastError != "" {
		t.Fatalf("after w2's delivery and w1's late retry: %+v", m.Recipients)
	}
	// A finished recipient is not renewed.
	if got := must(st.RenewQueued(ctx, "w2", ids, now.Add(10*time.Minute))); len(got) != 1 || got[0] != b {
		t.Fatalf("w2 renewed %v, want only %d", got, b)
	}
}

// testQueueStats: the counts and the oldest message's age follow what is
// queued and finished.
func testQueueStats(t *testing.T, st QueueStore) {
	ctx := context.Background()
	if qs := must(st.QueueStats(ctx)); qs != (store.QueueStats{}) {
		t.Fatalf("empty queue: %+v", qs)
	}
	before := time.Now().Truncate(time.Millisecond)
	first := must(st.Enqueue(ctx, stage(t, st, Message("one", "x")), store.QueueEntry{From: "a@example.test",
		Recipients: []store.QueueRecipient{{Address: "a@one.example", Domain: "one.example"}, {Address: "b@two.example", Domain: "two.example"}}}))
	time.Sleep(5 * time.Millisecond)
	must(st.Enqueue(ctx, stage(t, st, Message("two", "y")), store.QueueEntry{From: "a@example.test",
		Recipients: []store.QueueRecipient{{Address: "c@one.example", Domain: "one.example"}}}))
	qs := must(st.QueueStats(ctx))
	if qs.Messages != 2 || qs.Recipients != 3 {
		t.Fatalf("two messages, three recipients queued: %+v", qs)
	}
	if qs.Oldest.Before(before) || time.Since(qs.Oldest) > time.Minute {
		t.Fatalf("oldest %v, want about %v", qs.Oldest, before)
	}
	oldest := qs.Oldest
	// The first message leaves: the oldest is now the second.
	m := must(st.QueuedMessage(ctx, first))
	must(st.DropQueued(ctx, m.ID))
	qs = must(st.QueueStats(ctx))
	if qs.Messages != 1 || qs.Recipients != 1 || !qs.Oldest.After(oldest) {
		t.Fatalf("after dropping the first: %+v (first was queued at %v)", qs, oldest)
	}
}
