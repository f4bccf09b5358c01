package queue

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/remote"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
)

// node is one Mailroom node's queue on a shared PostgreSQL database.
type node struct {
	st   *pgstore.Store
	q    *Queue
	stop context.CancelFunc
	done chan error
}

func startNode(t *testing.T, dsn string, lease time.Duration, tr Transport) *node {
	t.Helper()
	st, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{st: st, done: make(chan error, 1)}
	n.q = New(Options{
		Store: st, Transport: tr, Hostname: "mail.example.test", LeaseTime: lease,
		RetryIntervals: []time.Duration{time.Minute},
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go func() { n.done <- n.q.Run(ctx) }()
	return n
}

// Two nodes share one queue. Node A claims a recipient and hangs in the
// SMTP transaction: while it lives it renews its short lease, and node B
// leaves the recipient alone for many lease times. Then A dies (its
// database connections go, so it renews no more): B takes the recipient
// over within about one lease and delivers it, once.
func TestLeaseRenewedThenTakenOverAcrossNodes(t *testing.T) {
	const lease = 800 * time.Millisecond
	dsn := pgtest.Start(t).NewDatabase(t)

	var aCalls atomic.Int32
	aStarted, aRelease := make(chan struct{}), make(chan struct{})
	hang := transportFunc(func(ctx context.Context, domain string, m remote.Message) []remote.Result {
		if aCalls.Add(1) == 1 {
			close(aStarted)
		}
		<-aRelease
		return nil // no result: never reached a server
	})
	a := startNode(t, dsn, lease, hang)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(aRelease) }) }
	defer func() {
		release()
		a.stop()
		<-a.done
	}()

	ctx := context.Background()
	m, err := a.st.Stage(ctx, bytes.NewReader([]byte("From: ann@example.test\r\nSubject: once\r\n\r\nhello\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.st.Enqueue(ctx, m, store.QueueEntry{From: "ann@example.test",
		Recipients: []store.QueueRecipient{{Address: "bob@remote.example", Domain: "remote.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	a.q.Wake()
	select {
	case <-aStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("node A did not start the delivery")
	}

	var bCalls atomic.Int32
	bDelivered := make(chan time.Time, 10)
	deliver := transportFunc(func(ctx context.Context, domain string, m remote.Message) []remote.Result {
		bCalls.Add(1)
		bDelivered <- time.Now()
		var out []remote.Result
		for _, r := range m.Recipients {
			out = append(out, remote.Result{Rcpt: r.Addr, Delivered: true, Code: 250, Text: "ok"})
		}
		return out
	})
	b := startNode(t, dsn, lease, deliver)
	defer func() {
		b.stop()
		if err := <-b.done; err != nil {
			t.Error(err)
		}
		b.st.Close()
	}()

	// A lives and renews: B waits many lease times in vain.
	select {
	case <-bDelivered:
		t.Fatal("node B sent a recipient node A holds and renews")
	case <-time.After(5 * lease):
	}
	qm, err := b.st.QueuedMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if until := qm.Recipients[0].LeasedUntil; time.Until(until) < lease/2 {
		t.Errorf("A's lease ends at %v, in %v: not renewed", until, time.Until(until))
	}

	// A dies: its pool closes under it; its renewals fail from now on.
	died := time.Now()
	a.st.Close()
	var took time.Duration
	select {
	case at := <-bDelivered:
		took = at.Sub(died)
	case <-time.After(10 * lease):
		t.Fatal("node B did not take over the dead node's recipient")
	}
	if took > 2*lease+time.Second {
		t.Errorf("node B took over after %v, want about one lease (%v)", took, lease)
	}
	t.Logf("takeover %v after the death (lease %v)", took.Round(time.Millisecond), lease)
	// Delivered once: the message leaves the queue, B sends nothing more.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := b.st.QueuedMessage(ctx, id); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message stayed queued after B delivered it")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * lease)
	if n := bCalls.Load(); n != 1 {
		t.Errorf("node B sent %d times, want 1", n)
	}
	if n := aCalls.Load(); n != 1 {
		t.Errorf("node A started %d deliveries, want 1", n)
	}
}
