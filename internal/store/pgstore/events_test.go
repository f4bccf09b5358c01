package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/mailbox"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

func deliverOne(ctx context.Context, st *Store, mailboxID int64, subject string) (store.Delivered, error) {
	m, err := st.Stage(ctx, bytes.NewReader(storetest.Message(subject, "body of "+subject)))
	if err != nil {
		return store.Delivered{}, err
	}
	d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: mailboxID}})
	if err != nil {
		return store.Delivered{}, err
	}
	return d[0], nil
}

func added(uid uint32) func(store.Event) bool {
	return func(e store.Event) bool { return e.Kind == store.EventMessageAdded && e.Message.UID == uid }
}

// Two writers of one mailbox on one node: the first commits, then stalls
// before publishing, and the second commits after it. Its events wait
// for the first's, so subscribers see UID 1 before UID 2.
func TestFeedOwnWritesInCommitOrder(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	acct := newTestAccount(t, st, "demo@example.test")
	inbox := mustMailbox(t, st, acct.ID, "INBOX")
	sub := watch(t, st, acct.ID)

	firstCommitted, release := make(chan struct{}), make(chan struct{})
	var waited atomic.Bool
	st.changes.pub.committed = func(tk *ticket) {
		if slices.ContainsFunc(tk.events, added(1)) {
			close(firstCommitted)
			select {
			case <-release:
			case <-time.After(5 * time.Second): // only if the second did not wait
			}
		}
	}
	st.changes.pub.onWait = func(tk *ticket, mb int64) {
		if mb == inbox.ID && slices.ContainsFunc(tk.events, added(2)) && !waited.Swap(true) {
			close(release)
		}
	}
	errs := make(chan error, 2)
	go func() { _, err := deliverOne(ctx, st, inbox.ID, "first"); errs <- err }()
	<-firstCommitted
	go func() { _, err := deliverOne(ctx, st, inbox.ID, "second"); errs <- err }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sub.take()
	var uids []uint32
	for _, e := range sub.got {
		if e.Kind == store.EventMessageAdded {
			uids = append(uids, e.Message.UID)
		}
	}
	if !slices.Equal(uids, []uint32{1, 2}) {
		t.Errorf("subscriber saw UIDs %v, want [1 2]: %+v", uids, sub.got)
	}
	if !waited.Load() {
		t.Error("the second write did not wait for the first's events")
	}
}

// Many writers of one mailbox on one node (deliveries, flag changes,
// expunges): every subscriber sees the mailbox's modseqs in order, and
// no event is lost.
func TestFeedOwnWritesOrderedUnderLoad(t *testing.T) {
	ctx := context.Background()
	st := openWith(t, Options{DSN: pgtest.NewDatabase(t), MaxConns: 8})
	acct := newTestAccount(t, st, "demo@example.test")
	inbox := mustMailbox(t, st, acct.ID, "INBOX")
	sub := watch(t, st, acct.ID)
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d, err := deliverOne(ctx, st, inbox.ID, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					errs <- err
					return
				}
				switch i % 3 {
				case 1:
					_, err = st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d.UID}, Op: store.FlagsAdd, Flags: store.FlagSeen})
				case 2:
					_, err = st.Expunge(ctx, inbox.ID, []uint32{d.UID})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sub.take()
	var last uint64
	count := map[store.EventKind]int{}
	for _, e := range sub.got {
		if e.MailboxID != inbox.ID {
			continue
		}
		count[e.Kind]++
		if e.ModSeq < last {
			t.Fatalf("modseq %d after %d: events out of commit order: %+v", e.ModSeq, last, e)
		}
		last = e.ModSeq
	}
	if count[store.EventMessageAdded] != writers*each || count[store.EventFlagsChanged] != writers*each/3 ||
		count[store.EventExpunged] != writers*each/3 || count[store.EventMailboxChanged] != 0 {
		t.Errorf("events %v, want %d added, %d flag changes, %d expunges, no catch-up", count, writers*each, writers*each/3, writers*each/3)
	}
	mb := mustMailbox(t, st, acct.ID, "INBOX")
	if last != mb.HighestModSeq {
		t.Errorf("last event modseq %d, mailbox at %d", last, mb.HighestModSeq)
	}
}

// Node B delivers into INBOX while node A's listener is away; then A
// delivers too. A's subscriber must not apply A's message (modseq 3)
// before it has caught up with B's (modseq 2), or a subscriber that
// catches up "since its highest modseq" would never see B's: a
// "changed up to 2" event comes first.
func TestFeedCatchUpBeforeOwnWrite(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	inbox := mustMailbox(t, a, acct.ID, "INBOX")
	onA := watch(t, a, acct.ID)
	pid, _ := listening(t, a)
	a.changes.connectGate.Lock()
	gateOpen := false
	defer func() {
		if !gateOpen {
			a.changes.connectGate.Unlock()
		}
	}()
	var ok bool
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the listener: %v, %v", ok, err)
	}
	fromB, err := deliverOne(ctx, b, inbox.ID, "from B")
	if err != nil {
		t.Fatal(err)
	}
	fromA, err := deliverOne(ctx, a, inbox.ID, "from A")
	if err != nil {
		t.Fatal(err)
	}
	onA.take()
	i := slices.IndexFunc(onA.got, added(fromA.UID))
	if i < 0 {
		t.Fatalf("A's own delivery was not published before Deliver returned: %+v", onA.got)
	}
	if !slices.ContainsFunc(onA.got[:i], func(e store.Event) bool {
		return e.Kind == store.EventMailboxChanged && e.MailboxID == inbox.ID && e.ModSeq >= fromB.ModSeq
	}) {
		t.Errorf("A's subscriber got A's message (modseq %d) without catching up with B's (modseq %d) first: %+v", fromA.ModSeq, fromB.ModSeq, onA.got)
	}
	a.changes.connectGate.Unlock()
	gateOpen = true
	onA.until("for B's delivery from the log", mailboxChanged(inbox.ID, fromB.ModSeq))
}

// A node whose last writes of a mailbox were its own, or that has read
// the other nodes' from the log, publishes no catch-up event.
func TestFeedNoCatchUpWhenKnown(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	inbox := mustMailbox(t, a, acct.ID, "INBOX")
	onA := watch(t, a, acct.ID)
	for i := range 3 {
		if _, err := deliverOne(ctx, a, inbox.ID, fmt.Sprint("own ", i)); err != nil {
			t.Fatal(err)
		}
	}
	fromB, err := deliverOne(ctx, b, inbox.ID, "from B")
	if err != nil {
		t.Fatal(err)
	}
	onA.until("for B's delivery", mailboxChanged(inbox.ID, fromB.ModSeq))
	if _, err := deliverOne(ctx, a, inbox.ID, "own again"); err != nil {
		t.Fatal(err)
	}
	onA.take()
	if n := onA.count(func(e store.Event) bool { return e.Kind == store.EventMailboxChanged }); n != 1 {
		t.Errorf("%d mailbox-changed events, want only B's: %+v", n, onA.got)
	}
}

// A commit whose outcome is unknown (the connection broke during COMMIT)
// is published in its turn as coarse events, so subscribers catch up from
// the store whatever happened; one PostgreSQL refused publishes nothing.
func TestPublisherAbandon(t *testing.T) {
	feed := store.NewFeed(0)
	sub := feed.Subscribe(0)
	defer sub.Close()
	p := newPublisher(feed)
	ev := func(uid uint32, modseq uint64) store.Event {
		return store.Event{Kind: store.EventMessageAdded, AccountID: 1, MailboxID: 7, ModSeq: modseq, Message: store.MessageMeta{UID: uid, ModSeq: modseq}}
	}
	refused := p.register([]store.Event{ev(1, 2)}, nil)
	p.abandon(refused, false)
	unknown := p.register([]store.Event{ev(1, 2), {Kind: store.EventMailboxCreated, AccountID: 1, MailboxID: 8, Name: "New"}}, nil)
	next := p.register([]store.Event{ev(2, 3)}, nil)
	done := make(chan struct{})
	go func() { p.publish(next); close(done) }()
	select {
	case <-done:
		t.Fatal("a ticket was published before the one ahead of it")
	case <-time.After(50 * time.Millisecond):
	}
	p.abandon(unknown, true)
	<-done
	got, _, _ := sub.Next()
	want := []store.Event{
		{Kind: store.EventMailboxChanged, AccountID: 1, MailboxID: 7, ModSeq: 2},
		{Kind: store.EventMailboxChanged, AccountID: 1},
		ev(2, 3),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("published\n%+v\nwant\n%+v", got, want)
	}
	if len(p.pending) != 0 {
		t.Errorf("tickets left: %v", p.pending)
	}
}

// The mailbox service (what IMAP and the web read) on node A follows
// writes of both nodes to one mailbox, made at once: once the writes are
// done and the feed has caught up, its view is the store's.
func TestMailboxServiceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	inbox := mustMailbox(t, a, acct.ID, "INBOX")
	svc := mailbox.NewService(a, nil, nil)
	defer svc.Close()
	m, err := svc.Open(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Release(m)
	errs := race(40, a, b, func(st *Store, i int) error {
		d, err := deliverOne(ctx, st, inbox.ID, fmt.Sprint("msg ", i))
		if err != nil {
			return err
		}
		switch i % 4 {
		case 1:
			_, err = st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d.UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged})
		case 2:
			_, err = st.Expunge(ctx, inbox.ID, []uint32{d.UID})
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want, err := a.MessageList(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	summary := func(list []store.MessageMeta) string {
		var s []string
		for _, x := range list {
			s = append(s, fmt.Sprintf("%d:%d:%d", x.UID, x.Flags, x.ModSeq))
		}
		slices.Sort(s)
		return fmt.Sprint(s)
	}
	deadline := time.Now().Add(feedWait)
	for {
		if err := svc.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		got := m.Newest(0, 1000)
		if summary(got) == summary(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service view\n%s\nstore\n%s", summary(got), summary(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
