package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailroom/internal/store"
)

// The change feed across nodes.
//
// Each node publishes its own writes to its in-process store.Feed on
// commit (events.go), in detail, in commit order per mailbox and before
// the write call returns, which is what the mailbox service's
// read-your-writes rests on. Other nodes' writes
// arrive through the change log: every write transaction inserts changelog
// rows, and a statement trigger on the table sends NOTIFY mailroom_changes
// (schema migration 2), which PostgreSQL delivers only when the transaction
// commits. Each node holds one dedicated connection that LISTENs, and on
// every notification reads the rows it has not seen yet and publishes them
// as coarse events. The notification carries no payload: the reader works
// from its own position in the log, so nothing needs to fit PostgreSQL's
// 8000-byte payload limit, and PostgreSQL folding identical notifications
// of one transaction into one loses nothing.
//
// A dropped notification (the connection broke, PostgreSQL restarted)
// loses nothing either: after (re)connecting the reader LISTENs first and
// then reads the log from where it stopped, so a commit is either in that
// read or notifies the new connection.
//
// Which rows are "not seen yet" is the subtle part: ids come from a
// sequence when a row is inserted, not when its transaction commits, so a
// transaction holding id 7 can commit after one holding id 8, and a reader
// that only asks for "id > the highest id read" would skip 7 for ever.
// Each row therefore records its transaction (changelog.xid, defaulted by
// pg_current_xact_id()), and every read also returns the statement's
// snapshot xmin: the oldest transaction still running then. A row that the
// read did not see either has an id above the highest read, or belongs to
// a transaction that had not committed by the snapshot, whose xid is then
// at least that xmin (a transaction that gets its xid only later gets a
// larger one). So the next read asks for
//
//	id > last OR xid >= xmin of the previous read
//
// and skips the rows it already published (seen, which holds only rows
// whose xid is at least that xmin, so it shrinks as the xmin advances).
// The alternatives cost more: taking a lock around the insert to make ids
// follow commit order serializes every writer's commit on every node, and
// re-reading a fixed window of ids is only right until a transaction runs
// longer than the window. What this costs: a long-running writing
// transaction holds the xmin back, and each read returns the rows written
// since it began again (read-only transactions, pg_dump's say, have no xid
// and do not hold it back).
//
// The events a change log row yields are the coarse ones SQLite's log
// poller publishes (sqlitestore/changelog.go): the row kinds say which
// mailbox changed up to which modseq (EventMailboxChanged: the mailbox
// service catches up with ChangesSince), that the account's mailbox list
// changed (EventMailboxChanged without a mailbox), or that the account
// changed (EventAccountChanged). Details (which message, which flags) are
// read back from the store by whoever cares, so the log stays one small
// row per change and the cross-node set stays these three.

// notifyChannel is the channel the changelog trigger notifies.
const notifyChannel = "mailroom_changes"

// Bounds of the listener's reconnect backoff.
const (
	minReconnect = 50 * time.Millisecond
	maxReconnect = 5 * time.Second
)

// idleCheck is how long the listener waits for a notification before it
// reads the change log anyway. The read is a round trip that finds a
// connection that died without a word (a half-open TCP connection would
// otherwise keep WaitForNotification blocked until the kernel gives up,
// minutes later), and it picks up a change whose notification was lost
// all the same. readTimeout bounds that read for the same reason.
const (
	idleCheck   = 30 * time.Second
	readTimeout = 30 * time.Second
)

// readBatch bounds the rows one read of the change log returns, so a node
// catching up on a long outage holds a bounded batch in memory.
const readBatch = 10000

// feedState is the node's change feed and the listener that fills it with
// other nodes' changes.
type feedState struct {
	feed   *store.Feed
	pub    *publisher // publishes into feed in order (events.go)
	cancel context.CancelFunc
	done   chan struct{}

	// The listener goroutine owns the reader.
	reader logReader

	// connectGate is held by tests to keep the listener from
	// reconnecting, so that writes land while it is away.
	connectGate sync.Mutex
	mu          sync.Mutex
	pid         uint32 // the listening connection's backend, for tests
	connects    int    // connections made, for tests
	// idle is idleCheck; tests shorten it.
	idle atomic.Int64
}

// Subscribe implements store.Store: a subscription to one account's changes
// (0: all accounts), this node's and the other nodes'.
func (s *Store) Subscribe(accountID int64) *store.Subscription {
	return s.changes.feed.Subscribe(accountID)
}

// startFeed positions the reader at the end of the change log and starts
// the listener. Changes committed before Open returns are not published:
// no subscriber exists yet, and subscribers load their state afterwards.
func (s *Store) startFeed(ctx context.Context) error {
	f := &feedState{feed: store.NewFeed(0), done: make(chan struct{})}
	if _, nop := s.opts.Observer.(store.NopObserver); !nop {
		// Only when observed: timing each publish costs a clock read.
		f.feed.ObserveLag(s.opts.Observer.FeedLag)
	}
	f.pub = newPublisher(f.feed)
	f.idle.Store(int64(idleCheck))
	f.reader.origin = s.origin
	if err := f.reader.start(ctx, s.pool); err != nil {
		return fmt.Errorf("change feed: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	s.changes = f
	go s.listen(lctx)
	return nil
}

// stopFeed stops the listener and closes every subscription.
func (s *Store) stopFeed() {
	if s.changes == nil {
		return
	}
	s.changes.cancel()
	<-s.changes.done
	s.changes.feed.Close()
}

// listen keeps one connection listening, reconnecting with backoff.
func (s *Store) listen(ctx context.Context) {
	defer close(s.changes.done)
	delay := minReconnect
	for {
		began := time.Now()
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > maxReconnect {
			delay = minReconnect // it was up for a while: this is a new outage
		}
		s.log.Warn("store: change feed: listening connection lost; reconnecting", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxReconnect)
	}
}

// listenOnce connects, listens, catches up, then reads the log on every
// notification until the connection fails.
func (s *Store) listenOnce(ctx context.Context) error {
	f := s.changes
	// A gate that tests close, not a critical section.
	f.connectGate.Lock()
	//lint:ignore SA2001 a gate, see above
	f.connectGate.Unlock()
	// Its own connection, not one of the pool's: it stays in LISTEN for the
	// life of the node.
	cfg := s.pool.Config().ConnConfig.Copy()
	// Only the fact of a notification counts, not how many nor their
	// (empty) payload: a flag instead of pgx's queue of every one keeps
	// memory bounded however fast the other nodes commit.
	var pending atomic.Bool
	cfg.OnNotification = func(*pgconn.PgConn, *pgconn.Notification) { pending.Store(true) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	f.mu.Lock()
	f.pid, f.connects = conn.PgConn().PID(), f.connects+1
	f.mu.Unlock()
	for {
		// Cleared before the read: a notification that arrives during it
		// may be of a commit after its snapshot, and makes another read.
		// One that arrived before was of a commit the read sees. So under
		// load one read covers many commits.
		pending.Store(false)
		// Read on the listening connection itself: it is there, and the
		// pool may be busy.
		if err := s.catchUp(ctx, conn); err != nil {
			return err
		}
		if pending.Load() {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, time.Duration(f.idle.Load()))
		err := conn.PgConn().WaitForNotification(wctx)
		cancel()
		if err != nil && (ctx.Err() != nil || !pgconn.Timeout(err)) {
			return fmt.Errorf("wait for notification: %w", err)
		}
		// A notification, or idleCheck passed (the connection stays
		// usable after a timed-out wait): read.
	}
}

// catchUp publishes the changes of other nodes not yet published.
func (s *Store) catchUp(ctx context.Context, conn *pgx.Conn) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		events, more, err := s.changes.reader.read(rctx, conn)
		cancel()
		if err != nil {
			return fmt.Errorf("read change log: %w", err)
		}
		s.changes.pub.fromLog(events)
		if !more {
			return nil
		}
	}
}

// listener returns the listening connection's backend PID and how many
// connections the listener has made (for tests).
func (f *feedState) listener() (pid uint32, connects int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pid, f.connects
}

// logReader reads the change log in commit-safe order (see the top of
// this file).
type logReader struct {
	origin  int64            // this node's rows are skipped
	last    int64            // the highest id read
	horizon uint64           // the xmin of the previous read's snapshot
	seen    map[int64]uint64 // id → xid of the rows read with xid ≥ horizon
}

// start positions the reader after the rows committed so far.
func (r *logReader) start(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, `SELECT coalesce((SELECT max(id) FROM changelog), 0), pg_snapshot_xmin(pg_current_snapshot())::text`)
	if err != nil {
		return err
	}
	var xmin string
	if _, err := pgx.ForEachRow(rows, []any{&r.last, &xmin}, func() error { return nil }); err != nil {
		return err
	}
	if r.horizon, err = strconv.ParseUint(xmin, 10, 64); err != nil {
		return fmt.Errorf("snapshot xmin %q: %w", xmin, err)
	}
	r.seen = map[int64]uint64{}
	// Rows below last whose transactions were still running are all
	// committed or not yet visible: take the committed ones as read.
	_, _, err = r.read(ctx, q)
	return err
}

// read returns the events of the rows committed since the previous read,
// other nodes' only, coalesced per mailbox and account; more reports
// that the batch was cut at readBatch rows.
func (r *logReader) read(ctx context.Context, q querier) (events []store.Event, more bool, err error) {
	// One statement, so the rows and the xmin come from one snapshot. The
	// LEFT JOIN returns the xmin even when no row is new. Two branches,
	// each on its index: one `id > $1 OR xid >= $2` walks the whole primary
	// key. The simple protocol has the values planned every time: as a
	// cached prepared statement, reads of 0–2 rows took ~100 ms under load
	// (a generic plan cannot know how few rows xid >= $2 selects).
	rows, err := q.Query(ctx, `WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
		SELECT snap.xmin::text, c.id, c.origin, c.account_id, c.mailbox_id, c.modseq, c.kind, c.xid::text
		FROM snap LEFT JOIN (
			(SELECT * FROM changelog WHERE id <= $1 AND xid >= $2::text::xid8)
			UNION ALL
			(SELECT * FROM changelog WHERE id > $1 ORDER BY id LIMIT $3)
			ORDER BY id LIMIT $3) c ON true
		ORDER BY c.id`, pgx.QueryExecModeSimpleProtocol, r.last, strconv.FormatUint(r.horizon, 10), readBatch)
	if err != nil {
		return nil, false, err
	}
	type key struct {
		kind             store.EventKind
		account, mailbox int64
	}
	index := map[key]int{} // → events
	var (
		xminText                          string
		id, origin, account, mbox, modseq *int64
		kind                              *int64
		xidText                           *string
		n                                 int
		newSeen                           = map[int64]uint64{}
	)
	_, err = pgx.ForEachRow(rows, []any{&xminText, &id, &origin, &account, &mbox, &modseq, &kind, &xidText}, func() error {
		if id == nil {
			return nil // no row: only the xmin
		}
		n++
		xid, err := strconv.ParseUint(*xidText, 10, 64)
		if err != nil {
			return fmt.Errorf("xid %q: %w", *xidText, err)
		}
		if _, ok := r.seen[*id]; ok {
			newSeen[*id] = xid
			return nil
		}
		newSeen[*id] = xid
		r.last = max(r.last, *id)
		if *origin == r.origin {
			return nil // published on commit by this node (events.go)
		}
		e := rowEvent(*account, *mbox, uint64(*modseq), *kind)
		k := key{e.Kind, e.AccountID, e.MailboxID}
		if i, ok := index[k]; ok {
			events[i].ModSeq = max(events[i].ModSeq, e.ModSeq)
			return nil
		}
		index[k] = len(events)
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	horizon, err := strconv.ParseUint(xminText, 10, 64)
	if err != nil {
		return nil, false, fmt.Errorf("snapshot xmin %q: %w", xminText, err)
	}
	// A cut batch still covers every row up to its last id, so the
	// horizon may advance: the rows above it come by id next time.
	r.horizon = horizon
	// Forget what can no longer come back: rows below the horizon.
	// Rows seen before but above the horizon and not returned now cannot
	// exist (the query returns every row with xid ≥ horizon) unless cut
	// by the batch limit, so keep the old entries still above it too.
	for id, xid := range r.seen {
		if _, ok := newSeen[id]; !ok {
			newSeen[id] = xid
		}
	}
	for id, xid := range newSeen {
		if xid < horizon {
			delete(newSeen, id)
		}
	}
	r.seen = newSeen
	return events, n == readBatch, nil
}

// rowEvent is the event a change log row stands for.
func rowEvent(account, mailbox int64, modseq uint64, kind int64) store.Event {
	e := store.Event{AccountID: account, MailboxID: mailbox, ModSeq: modseq}
	switch kind {
	case changeMessages:
		e.Kind = store.EventMailboxChanged
	case changeMailboxes:
		// The list changed (created, renamed, deleted, subscribed):
		// subscribers re-list.
		e.Kind, e.MailboxID, e.ModSeq = store.EventMailboxChanged, 0, 0
	case changeACL:
		e.Kind, e.ModSeq = store.EventACLChanged, 0
	default:
		e.Kind = store.EventAccountChanged
	}
	return e
}
