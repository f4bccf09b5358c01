package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

// The queue's owner is the host name, which every node may share: the
// tests below use one owner name on both nodes.
const queueOwner = "mx.example.test"

// enqueue queues a message for n recipients spread over three domains.
func enqueue(t *testing.T, st *Store, tag string, n int) int64 {
	t.Helper()
	return enqueueBody(t, st, tag, "queued body", n)
}

func enqueueBody(t *testing.T, st *Store, tag, body string, n int) int64 {
	t.Helper()
	ctx := context.Background()
	m, err := st.Stage(ctx, bytes.NewReader(storetest.Message(tag, body)))
	if err != nil {
		t.Fatal(err)
	}
	e := store.QueueEntry{From: "ann@example.test"}
	for i := range n {
		d := fmt.Sprintf("d%d.example", i%3)
		e.Recipients = append(e.Recipients, store.QueueRecipient{Address: fmt.Sprintf("%s-%d@%s", tag, i, d), Domain: d})
	}
	id, err := st.Enqueue(ctx, m, e)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Workers on two nodes (one database, one owner name) claim at once until
// the queue is empty: every recipient is claimed exactly once, and the
// messages leave with their last recipient, bodies included.
func TestConcurrentNodesQueueClaims(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoNodes(t)
	const msgs, rcpts = 40, 10
	for i := range msgs {
		st := a
		if i%2 == 1 {
			st = b
		}
		body := "queued body"
		if i%5 == 0 { // over DefaultInlineMax: a blob, released with the message
			body = strings.Repeat("a long line of a big body\r\n", 4000)
		}
		enqueueBody(t, st, fmt.Sprintf("m%d", i), body, rcpts)
	}
	var blobsBefore int
	if err := a.pool.QueryRow(ctx, "SELECT count(*) FROM blobs").Scan(&blobsBefore); err != nil || blobsBefore != msgs/5 {
		t.Fatalf("%d blobs queued (%v), want %d", blobsBefore, err, msgs/5)
	}
	var mu sync.Mutex
	claimed := map[int64]string{} // recipient id -> worker
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 { // four workers per node
		st, name := a, fmt.Sprintf("a%d", w)
		if w%2 == 1 {
			st, name = b, fmt.Sprintf("b%d", w)
		}
		wg.Go(func() {
			for {
				batches, err := st.ClaimQueued(ctx, queueOwner, time.Now(), time.Minute, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(batches) == 0 {
					return
				}
				var outcomes []store.QueueOutcome
				mu.Lock()
				for _, bt := range batches {
					for _, r := range bt.Message.Recipients {
						if other, dup := claimed[r.ID]; dup {
							mu.Unlock()
							errs <- fmt.Errorf("recipient %d (%s) claimed by %s and %s", r.ID, r.Address, other, name)
							return
						}
						claimed[r.ID] = name
						outcomes = append(outcomes, store.QueueOutcome{RecipientID: r.ID, Done: true})
					}
				}
				mu.Unlock()
				if err := st.FinishQueued(ctx, queueOwner, outcomes); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(claimed) != msgs*rcpts {
		t.Fatalf("claimed %d recipients, want %d", len(claimed), msgs*rcpts)
	}
	byNode := map[byte]int{}
	for _, w := range claimed {
		byNode[w[0]]++
	}
	if byNode['a'] == 0 || byNode['b'] == 0 {
		t.Errorf("one node did all the work: %v", byNode)
	}
	if list, err := a.QueuedMessages(ctx); err != nil || len(list) != 0 {
		t.Fatalf("queue after every recipient was done: %d messages, %v", len(list), err)
	}
	var contents, blobs int
	if err := a.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM contents), (SELECT count(*) FROM blobs)").Scan(&contents, &blobs); err != nil {
		t.Fatal(err)
	}
	if contents != 0 || blobs != 0 {
		t.Fatalf("bodies left after the queue emptied: %d contents, %d blobs", contents, blobs)
	}
}

// A node's expired lease is taken over by the other node; the first node's
// late retry is refused (the other's claim stands), and its restart
// (ReleaseQueued under the same owner name) does not end the other's lease.
func TestQueueLeaseTakeover(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoNodes(t)
	id := enqueue(t, a, "takeover", 1)
	now := time.Now()
	first, err := a.ClaimQueued(ctx, queueOwner, now, time.Minute, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim on a: %+v, %v", first, err)
	}
	rid := first[0].Message.Recipients[0].ID
	if got, err := b.ClaimQueued(ctx, queueOwner, now.Add(30*time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("b claimed a live lease: %+v, %v", got, err)
	}
	// a dies (or stalls); after its lease, b takes the recipient over.
	later := now.Add(2 * time.Minute)
	second, err := b.ClaimQueued(ctx, queueOwner, later, time.Minute, 10)
	if err != nil || len(second) != 1 || second[0].Message.Recipients[0].ID != rid {
		t.Fatalf("takeover on b: %+v, %v", second, err)
	}
	// a comes back and reports a temporary failure: refused.
	if err := a.FinishQueued(ctx, queueOwner, []store.QueueOutcome{{RecipientID: rid, NextAttempt: later.Add(time.Hour), LastError: "451 late"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleaseQueued(ctx, queueOwner); err != nil {
		t.Fatal(err)
	}
	m, err := a.QueuedMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Recipients[0]; r.Attempts != 0 || r.LastError != "" || r.LeasedUntil.UnixMilli() != later.Add(time.Minute).UnixMilli() {
		t.Fatalf("a's late result or release changed b's claim: %+v", r)
	}
	if got, err := a.ClaimQueued(ctx, queueOwner, later, time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("a claimed b's lease again: %+v, %v", got, err)
	}
	// b's own result is recorded.
	if err := b.FinishQueued(ctx, queueOwner, []store.QueueOutcome{{RecipientID: rid, NextAttempt: later.Add(time.Hour), LastError: "451 b"}}); err != nil {
		t.Fatal(err)
	}
	if m, err = b.QueuedMessage(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := m.Recipients[0]; r.Attempts != 1 || r.LastError != "451 b" || !r.LeasedUntil.IsZero() {
		t.Fatalf("b's result: %+v", r)
	}
}

// Two nodes finish the last two recipients of one message at once: the
// message and its body go (neither may leave them behind thinking the
// other's recipient is still there).
func TestConcurrentNodesFinishLastRecipients(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoNodes(t)
	for round := range 10 {
		id := enqueue(t, a, fmt.Sprintf("last%d", round), 2)
		now := time.Now()
		ca, err := a.ClaimQueued(ctx, queueOwner, now, time.Minute, 1)
		if err != nil || len(ca) != 1 {
			t.Fatalf("claim on a: %+v, %v", ca, err)
		}
		cb, err := b.ClaimQueued(ctx, queueOwner, now, time.Minute, 1)
		if err != nil || len(cb) != 1 {
			t.Fatalf("claim on b: %+v, %v", cb, err)
		}
		claims := map[*Store]int64{a: ca[0].Message.Recipients[0].ID, b: cb[0].Message.Recipients[0].ID}
		for _, err := range race(2, a, b, func(st *Store, _ int) error {
			return st.FinishQueued(ctx, queueOwner, []store.QueueOutcome{{RecipientID: claims[st], Done: true}})
		}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.QueuedMessage(ctx, id); err == nil {
			t.Fatalf("round %d: message left after both its recipients were done", round)
		}
		var contents int
		if err := a.pool.QueryRow(ctx, "SELECT count(*) FROM contents").Scan(&contents); err != nil {
			t.Fatal(err)
		}
		if contents != 0 {
			t.Fatalf("round %d: %d bodies left", round, contents)
		}
	}
}
