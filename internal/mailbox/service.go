// Package mailbox is the mailbox service every protocol (IMAP, POP3, the
// web) stands on. It keeps the hot state of open mailboxes in memory: one
// shared Mailbox per mailbox that any session has open, loaded once from
// the store and kept current by the store's change feed, so SELECT, FETCH
// FLAGS, SEARCH on flags and STORE never scan the database per message.
//
// Every change goes through the Service's operations (ops.go): each writes
// through the store and, before it returns, waits until the shared state
// has applied everything the store published up to that point. So a
// change is visible to every later read from any session of this process
// (read-your-writes by construction), and other sessions learn of it as
// updates from their View. Nothing outside this package updates the
// shared state: the change feed is its only writer.
//
// Sessions do not share sequence numbers: each has a View, its own list of
// the UIDs it has been told about. At the points where IMAP allows it (RFC
// 9051 section 7.5.1), a session calls View.Sync, which compares its view
// with the shared state and returns what to announce: expunged messages,
// the new message count, and flag changes. The comparison is O(1) when
// nothing changed since the view's last Sync (a serial number), and a diff
// of the view's UIDs against the mailbox (O(n log n)) when something did.
package mailbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"mailroom/internal/mime"
	"mailroom/internal/panics"
	"mailroom/internal/store"
)

// Service hands out shared Mailboxes and routes change events to them.
type Service struct {
	st     store.Store
	log    *slog.Logger
	panics *panics.Counter

	mu    sync.Mutex
	boxes map[int64]*Mailbox
	tick  uint64 // orders releases, for keepIdle

	sub  *store.Subscription
	done chan struct{}
	wg   sync.WaitGroup

	// applied is the feed position applied so far (see Barrier).
	appliedMu sync.Mutex
	applied   uint64

	structures *lru[*mime.Message]
	bodies     *lru[cachedBody]
	closeOnce  sync.Once

	// feedMu serialises taking events off sub and applying them (follow
	// and catchUp), so that once catchUp returns every event published
	// before it was called has been applied.
	feedMu sync.Mutex
	// recentMarks keeps, for mailboxes that are not loaded, the \Recent
	// mark (Mailbox.recentUpTo) across unloads, and starts one when mail
	// arrives in a mailbox no session has open: messages above the mark
	// are \Recent for the next session that selects it (RFC 3501 2.3.2).
	// A mailbox without a mark has no \Recent messages. Guarded by mu.
	recentMarks map[int64]uint32

	trainer junkTrainer // see SetJunkTrainer
	warner  quotaWarner // see SetQuotaWarner
}

// NewService starts following the store's change feed. A panic while
// applying an event is logged and counted in p (which may be nil).
func NewService(st store.Store, log *slog.Logger, p *panics.Counter) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Service{st: st, log: log, panics: p, boxes: map[int64]*Mailbox{}, sub: st.Subscribe(0), done: make(chan struct{}),
		structures: newStructureCache(), bodies: newBodyCache(), recentMarks: map[int64]uint32{}}
	r.wg.Add(1)
	go r.follow()
	return r
}

// Close stops following the feed. It may be called more than once.
func (r *Service) Close() {
	r.closeOnce.Do(func() {
		close(r.done)
		r.sub.Close()
	})
	r.wg.Wait()
}

// Open returns the shared state of a mailbox, loading it on first use.
// Call Release when the session deselects it. Every change any session of
// this process committed before Open was called is in it.
func (r *Service) Open(ctx context.Context, mailboxID int64) (*Mailbox, error) {
	if err := r.Barrier(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	if m, ok := r.boxes[mailboxID]; ok {
		m.refs++
		r.mu.Unlock()
		<-m.loaded
		if m.loadErr != nil {
			r.Release(m)
			return nil, m.loadErr
		}
		return m, nil
	}
	m := &Mailbox{id: mailboxID, refs: 1, loaded: make(chan struct{}), reg: r}
	r.boxes[mailboxID] = m
	r.mu.Unlock()

	m.loadErr = m.load(ctx)
	close(m.loaded)
	if m.loadErr != nil {
		r.Release(m)
		return nil, m.loadErr
	}
	return m, nil
}

// keepIdle is how many mailboxes no session has selected stay loaded (and
// current, since they keep following the feed): a client that selects
// INBOX, then Sent, then INBOX again does not reload a 100,000-message
// index each time. The least recently released go first.
const keepIdle = 32

// Release drops a session's reference. Unused mailboxes stay loaded up to
// keepIdle of them.
func (r *Service) Release(m *Mailbox) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.refs--
	if m.refs > 0 || r.boxes[m.id] != m {
		return
	}
	m.threads.clear() // sort keys are kept while a session has the mailbox open
	if m.loadErr != nil {
		delete(r.boxes, m.id)
		return
	}
	r.tick++
	m.released = r.tick
	var idle []*Mailbox
	for _, b := range r.boxes {
		if b.refs == 0 {
			idle = append(idle, b)
		}
	}
	for len(idle) > keepIdle {
		oldest := 0
		for i, b := range idle {
			if b.released < idle[oldest].released {
				oldest = i
			}
		}
		b := idle[oldest]
		b.mu.RLock()
		r.recentMarks[b.id] = b.recentUpTo
		b.mu.RUnlock()
		delete(r.boxes, b.id)
		idle = append(idle[:oldest], idle[oldest+1:]...)
	}
}

// follow applies feed events to the open mailboxes. It is the only
// writer of the shared state, so every mailbox sees changes in the order
// they were committed.
func (r *Service) follow() {
	defer r.wg.Done()
	retry := time.NewTicker(retryBehind)
	defer retry.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-r.sub.Ready():
		case <-retry.C:
			r.retryBehind()
			continue
		}
		if closed := r.catchUp(); closed {
			return
		}
	}
}

// retryBehind is how often mailboxes whose resync failed (the store was
// away) try again when no event comes to make them.
const retryBehind = time.Second

// retryBehind resyncs the open mailboxes that a failed resync left behind.
func (r *Service) retryBehind() {
	r.feedMu.Lock()
	defer r.feedMu.Unlock()
	for _, m := range r.open() {
		if m.isLoaded() && m.isBehind() {
			m.resync(context.Background())
		}
	}
}

// catchUp applies the events pending in the feed and reports whether the
// feed is closed. The follow loop calls it when the feed signals; Barrier
// calls it from the caller's goroutine, so waiting for the feed never
// costs a hand-off between goroutines.
func (r *Service) catchUp() (closed bool) {
	r.feedMu.Lock()
	defer r.feedMu.Unlock()
	b := r.sub.Take()
	if b.Closed {
		return true
	}
	if b.Overflowed {
		// Events were lost: every open mailbox catches up from the store.
		for _, m := range r.open() {
			m.resync(context.Background())
		}
	}
	for _, e := range b.Events {
		r.apply(e)
	}
	r.appliedMu.Lock()
	r.applied = max(r.applied, b.Position)
	r.appliedMu.Unlock()
	return false
}

// Barrier makes sure the shared state has applied every change the store
// had published when Barrier was called: after it, a read of any open
// mailbox shows every write that returned before. It costs a mutex when
// nothing is pending (the usual case); otherwise it applies what is
// pending itself.
func (r *Service) Barrier(ctx context.Context) error {
	target := r.sub.Position()
	r.appliedMu.Lock()
	applied := r.applied
	r.appliedMu.Unlock()
	if applied >= target {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mailbox: waiting for the change feed: %w", err)
	}
	if r.catchUp() {
		return store.ErrClosed
	}
	return nil
}

func (r *Service) open() []*Mailbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Mailbox, 0, len(r.boxes))
	for _, m := range r.boxes {
		out = append(out, m)
	}
	return out
}

func (r *Service) lookup(id int64) *Mailbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.boxes[id]
}

func (r *Service) apply(e store.Event) {
	defer r.panics.Recover(r.log, "mailbox index: applying a change", "mailbox", e.MailboxID) // one event is lost, not the feed
	switch e.Kind {
	case store.EventMessageAdded, store.EventFlagsChanged, store.EventExpunged, store.EventMailboxChanged, store.EventMailboxDeleted:
	case store.EventQuotaLevel:
		r.warner.due(e.AccountID)
		return
	default:
		return
	}
	if e.Kind == store.EventExpunged {
		// Whether or not the mailbox is open here.
		r.structures.forget(e.MailboxID, e.UIDs)
		r.bodies.forget(e.MailboxID, e.UIDs)
	}
	m := r.lookup(e.MailboxID)
	if m == nil {
		r.mu.Lock()
		switch e.Kind {
		case store.EventMessageAdded:
			// The first arrival since the mailbox was last open: it and
			// what follows are \Recent.
			if _, ok := r.recentMarks[e.MailboxID]; !ok && e.Message.UID > 0 {
				r.recentMarks[e.MailboxID] = e.Message.UID - 1
			}
		case store.EventMailboxDeleted:
			delete(r.recentMarks, e.MailboxID)
		}
		r.mu.Unlock()
		return
	}
	<-m.loaded
	if m.loadErr != nil {
		return
	}
	if e.Kind != store.EventMailboxChanged && m.isBehind() {
		// Fill the gap first: applying this event alone would put its
		// change ahead of changes the mailbox never loaded (a message with
		// a higher UID before one with a lower UID, which a session that
		// has announced the higher one can never show).
		m.resync(context.Background())
		if m.isBehind() {
			// Still failing (the store is away, or this node's pooled
			// connections are not all back yet): drop the event. The
			// retry's resync starts from before the gap and brings this
			// change too, in order; until then readers wait for it.
			return
		}
	}
	switch e.Kind {
	case store.EventMessageAdded:
		m.added(e.Message, e.Seen)
	case store.EventFlagsChanged:
		m.flagsChanged(e.Message, e.Seen)
	case store.EventExpunged:
		m.expunged(e.UIDs, e.ModSeq)
	case store.EventMailboxChanged:
		// Written by another process: catch up from the store.
		m.resync(context.Background())
	case store.EventMailboxDeleted:
		m.markDeleted()
	}
}

// RecentCount is Mailbox.RecentCount of a mailbox that may not be loaded:
// without a \Recent mark (no mail arrived since it was last open) it is 0
// without loading it.
func (r *Service) RecentCount(ctx context.Context, mailboxID int64) (int, error) {
	if err := r.Barrier(ctx); err != nil {
		return 0, err
	}
	r.mu.Lock()
	_, loaded := r.boxes[mailboxID]
	_, marked := r.recentMarks[mailboxID]
	r.mu.Unlock()
	if !loaded && !marked {
		return 0, nil
	}
	m, err := r.Open(ctx, mailboxID)
	if err != nil {
		return 0, err
	}
	defer r.Release(m)
	return m.RecentCount(), nil
}
