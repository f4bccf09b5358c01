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

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// feedWait bounds how long a test waits for an event to cross nodes. It
// is a bound against hangs, not a latency assertion.
const feedWait = 20 * time.Second

// events collects a subscription's events until done says it has what it
// waits for, failing the test after feedWait.
type events struct {
	t   *testing.T
	sub *store.Subscription
	got []store.Event
}

func watch(t *testing.T, st *Store, accountID int64) *events {
	sub := st.Subscribe(accountID)
	t.Cleanup(sub.Close)
	return &events{t: t, sub: sub}
}

// take adds what is pending without waiting.
func (e *events) take() {
	b := e.sub.Take()
	if b.Overflowed || b.Closed {
		e.t.Fatalf("subscription overflowed %v, closed %v", b.Overflowed, b.Closed)
	}
	e.got = append(e.got, b.Events...)
}

// until waits until some event collected matches.
func (e *events) until(what string, match func(store.Event) bool) {
	e.t.Helper()
	deadline := time.After(feedWait)
	for {
		e.take()
		if slices.ContainsFunc(e.got, match) {
			return
		}
		select {
		case <-e.sub.Ready():
		case <-deadline:
			e.t.Fatalf("no event %s within %v; got %+v", what, feedWait, e.got)
		}
	}
}

func (e *events) count(match func(store.Event) bool) int {
	n := 0
	for _, ev := range e.got {
		if match(ev) {
			n++
		}
	}
	return n
}

func listChanged(account int64) func(store.Event) bool {
	return func(e store.Event) bool {
		return e.Kind == store.EventMailboxChanged && e.AccountID == account && e.MailboxID == 0
	}
}

func accountChanged(account int64) func(store.Event) bool {
	return func(e store.Event) bool { return e.Kind == store.EventAccountChanged && e.AccountID == account }
}

func mailboxChanged(mailbox int64, modseq uint64) func(store.Event) bool {
	return func(e store.Event) bool {
		return e.Kind == store.EventMailboxChanged && e.MailboxID == mailbox && e.ModSeq == modseq
	}
}

// Writes on node B reach a subscriber on node A as the coarse events of
// their change log rows; events of other accounts do not reach it.
func TestFeedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	other := newTestAccount(t, a, "other@example.test")
	onA := watch(t, a, acct.ID)

	if _, err := b.CreateMailbox(ctx, acct.ID, "Cross", ""); err != nil {
		t.Fatal(err)
	}
	onA.until("for the mailbox created on B", listChanged(acct.ID))
	if _, err := b.CreateAppPassword(ctx, acct.ID, "phone", testCred); err != nil {
		t.Fatal(err)
	}
	onA.until("for the app password created on B", accountChanged(acct.ID))
	if _, err := b.CreateMailbox(ctx, other.ID, "Elsewhere", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.RenameMailbox(ctx, acct.ID, "Cross", "Crossed"); err != nil {
		t.Fatal(err)
	}
	n := onA.count(listChanged(acct.ID))
	onA.until("for the rename on B", func(e store.Event) bool { return listChanged(acct.ID)(e) && onA.count(listChanged(acct.ID)) > n })
	for _, e := range onA.got {
		if e.AccountID != acct.ID {
			t.Errorf("subscriber of account %d got %+v", acct.ID, e)
		}
	}
}

// A node's own writes reach its subscribers once, before the write call
// returns (read-your-writes), and not a second time from the change log.
func TestFeedOwnWritesOnce(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	onA := watch(t, a, acct.ID)
	before := onA.sub.Position()
	if _, err := a.CreateAppPassword(ctx, acct.ID, "laptop", testCred); err != nil {
		t.Fatal(err)
	}
	if onA.sub.Position() <= before {
		t.Fatalf("feed position %d after the write, %d before: not published on commit", onA.sub.Position(), before)
	}
	onA.take()
	if n := onA.count(accountChanged(acct.ID)); n != 1 {
		t.Fatalf("right after its own write node A has %d account events, want 1: %+v", n, onA.got)
	}
	// A fence: B's write is read from the log after A's own row, so once
	// it arrived, a duplicate of A's would have too.
	if _, err := b.CreateMailbox(ctx, acct.ID, "Fence", ""); err != nil {
		t.Fatal(err)
	}
	onA.until("for B's write", listChanged(acct.ID))
	if n := onA.count(accountChanged(acct.ID)); n != 1 {
		t.Errorf("node A has %d account events for its one write, want 1: %+v", n, onA.got)
	}
}

// The listening connection is killed and writes land while it is away:
// after it reconnects, every one of them arrives.
func TestFeedReconnectCatchesUp(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoNodes(t)
	var accts []store.Account
	for i := range 8 {
		accts = append(accts, newTestAccount(t, a, fmt.Sprintf("u%d@example.test", i)))
	}
	onA := watch(t, a, 0)
	pid, connects := listening(t, a)

	a.changes.connectGate.Lock() // keep it from reconnecting
	var ok bool
	// With a timeout, pg_terminate_backend waits until the backend is gone.
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid)).Scan(&ok); err != nil || !ok {
		a.changes.connectGate.Unlock()
		t.Fatalf("terminate the listener: %v, %v", ok, err)
	}
	for _, ac := range accts {
		if _, err := b.CreateMailbox(ctx, ac.ID, "Outage", ""); err != nil {
			a.changes.connectGate.Unlock()
			t.Fatal(err)
		}
	}
	a.changes.connectGate.Unlock()

	for _, ac := range accts {
		onA.until(fmt.Sprintf("for account %d's mailbox created during the outage", ac.ID), listChanged(ac.ID))
	}
	newPID, newConnects := a.changes.listener()
	if newConnects != connects+1 || newPID == pid {
		t.Errorf("listener: pid %d after %d connections, before %d after %d", newPID, newConnects, pid, connects)
	}
}

// Change log ids are taken at insert, not at commit: a transaction that
// took a smaller id and commits after one with a larger id is not skipped,
// and the larger one is not published twice.
func TestFeedOutOfOrderCommit(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	a := openStore(t, dsn)
	acct := newTestAccount(t, a, "demo@example.test")
	onA := watch(t, a, acct.ID)
	// Two other "nodes" writing by hand, so that one transaction can be
	// held open.
	c1, c2 := rawConn(t, dsn), rawConn(t, dsn)
	const origin = 12345
	insert := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}, mailbox int64) int64 {
		t.Helper()
		var id int64
		if err := q.QueryRow(ctx, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created)
			VALUES ($1, $2, $3, 7, $4, 0) RETURNING id`, origin, acct.ID, mailbox, changeMessages).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}

	slow, err := c1.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx)
	slowID := insert(slow, 101) // its first write: the xid comes after the id
	fastID := insert(c2, 102)
	if fastID <= slowID {
		t.Fatalf("ids %d, %d: the test needs the slow transaction's to be smaller", slowID, fastID)
	}
	onA.until("for the fast commit", mailboxChanged(102, 7))
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	onA.until("for the slow commit, whose id is below one already read", mailboxChanged(101, 7))
	insert(c2, 103)
	onA.until("for the fence", mailboxChanged(103, 7))
	for _, mb := range []int64{101, 102} {
		if n := onA.count(mailboxChanged(mb, 7)); n != 1 {
			t.Errorf("mailbox %d: %d events, want 1: %+v", mb, n, onA.got)
		}
	}
}

// listening waits until the store's listener has connected (Open starts
// it and returns) and returns its backend PID and connection count.
func listening(t *testing.T, st *Store) (pid uint32, connects int) {
	t.Helper()
	deadline := time.Now().Add(feedWait)
	for {
		if pid, connects = st.changes.listener(); pid != 0 {
			return pid, connects
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening connection after %v", feedWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Latency from the commit of a write on node B (its call returned) to the
// event on a subscriber of node A, over 1,000 writes one after another,
// alone and while other writers on B keep committing (another account's
// changes, which A reads and filters). Logged, not asserted: the
// machine's load decides it.
func TestFeedLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 writes")
	}
	for _, writers := range []int{0, 4} {
		t.Run(fmt.Sprintf("load=%d", writers), func(t *testing.T) { feedLatency(t, writers) })
	}
}

func feedLatency(t *testing.T, writers int) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	other := newTestAccount(t, a, "other@example.test")
	if _, err := b.CreateMailbox(ctx, acct.ID, "L", ""); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		if _, err := b.CreateMailbox(ctx, other.ID, fmt.Sprintf("W%d", w), ""); err != nil {
			t.Fatal(err)
		}
	}
	onA := watch(t, a, acct.ID)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var loadWrites atomic.Int64
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := b.SetSubscribed(ctx, other.ID, fmt.Sprintf("W%d", w), i%2 == 0); err != nil {
					t.Error(err)
					return
				}
				loadWrites.Add(1)
			}
		})
	}
	const n = 1000
	lat := make([]time.Duration, 0, n)
	began := time.Now()
	for i := range n {
		onA.take()
		onA.got = onA.got[:0]
		if err := b.SetSubscribed(ctx, acct.ID, "L", i%2 == 0); err != nil {
			t.Fatal(err)
		}
		committed := time.Now()
		onA.until("for the subscription change", listChanged(acct.ID))
		lat = append(lat, time.Since(committed))
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	t.Logf("commit on B → event on A over %d writes, %d other writers (%.0f writes/s besides): p50 %v, p99 %v, max %v",
		n, writers, float64(loadWrites.Load())/time.Since(began).Seconds(), lat[n/2], lat[n*99/100], lat[n-1])
}

// A catch-up longer than one read batch arrives whole, in several reads,
// without holding the whole log in memory.
func TestFeedCatchUpInBatches(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	other := newTestAccount(t, a, "other@example.test")
	onA := watch(t, a, acct.ID)
	pid, _ := listening(t, a)
	a.changes.connectGate.Lock()
	var ok bool
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid)).Scan(&ok); err != nil || !ok {
		a.changes.connectGate.Unlock()
		t.Fatalf("terminate the listener: %v, %v", ok, err)
	}
	// More rows than a batch for another account, then two for the
	// watched one: the first and the last row of the log.
	_, err := b.pool.Exec(ctx, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created)
		SELECT 1, CASE WHEN i IN (1, $3) THEN $1::bigint ELSE $2::bigint END, i, 1, $4, 0 FROM generate_series(1, $3) i`,
		acct.ID, other.ID, readBatch+500, changeMessages)
	a.changes.connectGate.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	onA.until("for the first row", mailboxChanged(1, 1))
	onA.until("for the row after the first batch", mailboxChanged(readBatch+500, 1))
	if len(onA.got) != 2 {
		t.Errorf("got %d events, want 2: %+v", len(onA.got), onA.got)
	}
}

// PostgreSQL restarts and a write lands on node B as soon as it is back: node A's listener reconnects by itself and the
// write reaches its subscriber.
func TestFeedSurvivesPostgresRestart(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	acct := newTestAccount(t, a, "demo@example.test")
	onA := watch(t, a, acct.ID)
	_, connects := listening(t, a)
	// A fast shutdown ends every session, the listener's too. Not
	// "immediate": pgtest's clusters run with synchronous_commit off, so a
	// crash would lose the last commits, the account's among them.
	if err := c.Restart("fast"); err != nil {
		t.Fatal(err)
	}
	// The pool's connections died with the server: the first attempts
	// may fail, as a client's would.
	deadline := time.Now().Add(feedWait)
	for {
		_, err := b.CreateMailbox(ctx, acct.ID, "AfterRestart", "")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B cannot write after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	onA.until("for the write after the restart", listChanged(acct.ID))
	if _, n := a.changes.listener(); n <= connects {
		t.Errorf("listener connections: %d before the restart, %d after", connects, n)
	}
}

// A change whose notification never came (here: written with triggers
// off) still arrives, with the listener's periodic read.
func TestFeedLostNotification(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	a := openStore(t, dsn)
	acct := newTestAccount(t, a, "demo@example.test")
	a.changes.idle.Store(int64(100 * time.Millisecond))
	onA := watch(t, a, acct.ID)
	c := rawConn(t, dsn)
	// A notified change first, so that the listener's next wait is a short one.
	if _, err := c.Exec(ctx, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created)
		VALUES (1, $1, 76, 3, $2, 0)`, acct.ID, changeMessages); err != nil {
		t.Fatal(err)
	}
	onA.until("for the notified change", mailboxChanged(76, 3))
	// As superuser: replica mode fires no ordinary trigger, so no NOTIFY.
	if _, err := c.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created)
		VALUES (1, $1, 77, 3, $2, 0)`, acct.ID, changeMessages); err != nil {
		t.Fatal(err)
	}
	onA.until("for the change without a notification", mailboxChanged(77, 3))
}

// A delivery and a flag change on node B reach A as "mailbox changed up to
// modseq", and B's own subscribers get the detailed events only, not a
// coarse one besides (which would make the mailbox service resync).
func TestFeedMessagesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	inbox := mustMailbox(t, a, acct.ID, "INBOX")
	onA, onB := watch(t, a, acct.ID), watch(t, b, acct.ID)
	m, err := b.Stage(ctx, bytes.NewReader(storetest.Message("feed", "across")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	onA.until("for the delivery on B", func(e store.Event) bool {
		return e.Kind == store.EventMailboxChanged && e.MailboxID == inbox.ID && e.ModSeq >= d[0].ModSeq
	})
	res, err := b.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: store.FlagSeen})
	if err != nil || len(res.Updated) != 1 {
		t.Fatalf("UpdateFlags: %v, %+v", err, res)
	}
	onA.until("for the flag change on B", mailboxChanged(inbox.ID, res.Updated[0].ModSeq))
	onB.take()
	kinds := map[store.EventKind]int{}
	for _, e := range onB.got {
		if e.MailboxID == inbox.ID { // A's account creation may arrive late, from the log
			kinds[e.Kind]++
		}
	}
	if kinds[store.EventMessageAdded] != 1 || kinds[store.EventFlagsChanged] != 1 || kinds[store.EventMailboxChanged] != 0 {
		t.Errorf("node B's own subscriber got %v, want one added, one flags changed, no mailbox changed: %+v", kinds, onB.got)
	}
}
