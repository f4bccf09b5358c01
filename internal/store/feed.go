package store

import (
	"sync"
	"time"
)

// EventKind says what changed.
type EventKind uint8

// The kinds of change events.
const (
	// EventMessageAdded: Event.Message was delivered, appended, copied or moved in.
	EventMessageAdded EventKind = iota + 1
	// EventFlagsChanged: Event.Message has new flags and modseq.
	EventFlagsChanged
	// EventExpunged: Event.UIDs left the mailbox (expunged or moved out).
	EventExpunged
	// EventMailboxCreated: Event.Name was created.
	EventMailboxCreated
	// EventMailboxRenamed: Event.OldName is now Event.Name (children follow).
	EventMailboxRenamed
	// EventMailboxDeleted: Event.Name is gone.
	EventMailboxDeleted
	// EventMailboxSubscribed: Event.Name's subscription changed.
	EventMailboxSubscribed
	// EventMailboxChanged: something changed in the mailbox up to
	// Event.ModSeq but the details are not in the feed (another process or
	// node wrote it). Subscribers call ChangesSince to catch up.
	EventMailboxChanged
	// EventAccountChanged: the account's settings, credentials or existence changed.
	EventAccountChanged
	// EventACLChanged: the access control list of Event.MailboxID (of
	// Event.AccountID, its owner) changed: a mailbox may have appeared or
	// gone for the accounts it names (Event.Name is empty when the event
	// came from another process or node).
	EventACLChanged
	// EventQuotaLevel: a write took Event.AccountID's usage to a warning
	// level of its quota (80%, 95%) it has not been warned of yet
	// (Quotas.ClaimQuotaWarnings hands the warning out). Published only
	// to the writing process: whoever wrote sends the warning.
	EventQuotaLevel
)

// Event is one change, published after it is durable.
type Event struct {
	Kind      EventKind
	AccountID int64
	MailboxID int64
	ModSeq    uint64
	Message   MessageMeta // EventMessageAdded, EventFlagsChanged
	// Seen: EventMessageAdded, EventFlagsChanged: the account whose
	// private \Seen of Message changed (see PrivateSeen), and how;
	// Message.Flags are the message's own flags all the same.
	Seen    SeenChange
	UIDs    []uint32 // EventExpunged
	Name    string   // mailbox events
	OldName string   // EventMailboxRenamed
}

// DefaultSubscriptionBuffer is how many events a subscription holds before
// it overflows.
const DefaultSubscriptionBuffer = 4096

// Feed fans change events out to subscribers. Publishing never blocks: a
// subscriber that falls more than its buffer behind is marked overflowed,
// its queue is dropped, and it must resynchronise from the store. So a stuck
// IMAP client can neither stall delivery nor grow memory without bound.
//
// Backends own one Feed and publish into it after each commit.
type Feed struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	buffer int
	seq    uint64 // numbers the batches published, from 1
	// lag, if set, is told how long events waited between Publish and
	// the subscriber taking them (see ObserveLag).
	lag func(time.Duration)
}

// NewFeed returns a feed whose subscriptions hold up to buffer events
// (DefaultSubscriptionBuffer if buffer <= 0).
func NewFeed(buffer int) *Feed {
	if buffer <= 0 {
		buffer = DefaultSubscriptionBuffer
	}
	return &Feed{subs: make(map[*Subscription]struct{}), buffer: buffer}
}

// ObserveLag makes the feed report, each time a subscriber takes its
// pending events, how long the oldest of them waited since it was
// published, which backends do right after the commit. Call it before
// anyone subscribes.
func (f *Feed) ObserveLag(fn func(time.Duration)) { f.lag = fn }

// Subscribe returns a subscription to one account's events (0: all accounts).
func (f *Feed) Subscribe(accountID int64) *Subscription {
	s := &Subscription{feed: f, account: accountID, ready: make(chan struct{}, 1), limit: f.buffer, lag: f.lag}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Publish delivers events to every interested subscriber.
func (f *Feed) Publish(events []Event) {
	if len(events) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	var now time.Time
	if f.lag != nil {
		now = time.Now()
	}
	for s := range f.subs {
		s.push(events, f.seq, now)
	}
}

// Close closes every subscription.
func (f *Feed) Close() {
	f.mu.Lock()
	subs := f.subs
	f.subs = map[*Subscription]struct{}{}
	f.mu.Unlock()
	for s := range subs {
		s.markClosed()
	}
}

func (f *Feed) remove(s *Subscription) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

// Subscription receives the events of one account. Wait on Ready, then call
// Next to take what is pending.
type Subscription struct {
	feed    *Feed
	account int64
	ready   chan struct{}
	limit   int

	// follow are more accounts whose events the subscriber wants (the
	// owners of folders shared with it), and acl asks for every account's
	// EventACLChanged (a new share may come from anyone); see Follow.
	// Guarded by mu.
	follow map[int64]bool
	acl    bool

	mu       sync.Mutex
	queue    []Event
	overflow bool
	closed   bool
	pushed   uint64 // the feed position of the last batch offered to this subscription
	// since is when the oldest pending event was published (zero: none
	// pending, or no lag observer); lag reports the wait on taking them.
	since time.Time
	lag   func(time.Duration)
}

// taken reports the lag of the events being taken; under s.mu.
func (s *Subscription) taken() {
	if s.lag != nil && !s.since.IsZero() {
		if len(s.queue) > 0 {
			s.lag(time.Since(s.since))
		}
		s.since = time.Time{}
	}
}

// Ready is signalled when events are pending (or the subscription overflowed or closed).
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Next returns the pending events. If overflowed is true, events were lost:
// the subscriber must reload its view from the store (the events returned
// are then empty). closed is true once the store has closed.
func (s *Subscription) Next() (events []Event, overflowed, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken()
	events, overflowed, closed = s.queue, s.overflow, s.closed
	s.queue, s.overflow = nil, false
	return events, overflowed, closed
}

// Batch is what Take returns: the pending events, and the feed position
// they bring the subscriber to.
type Batch struct {
	Events []Event
	// Position is the feed position up to which the subscriber has now
	// been offered every batch (see Position).
	Position   uint64
	Overflowed bool // events were lost: reload from the store (Events is empty)
	Closed     bool // the store has closed
}

// Take is Next with the feed position the batch reaches.
func (s *Subscription) Take() Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken()
	b := Batch{Events: s.queue, Position: s.pushed, Overflowed: s.overflow, Closed: s.closed}
	s.queue, s.overflow = nil, false
	return b
}

// Position returns the feed position of the last batch published to the
// subscription, whether or not it held events of its account. A write
// whose call has returned was published before it returned, so a
// subscriber that has taken and applied everything up to Position has
// seen that write: this is how the mailbox service gives read-your-writes.
func (s *Subscription) Position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushed
}

// Follow widens a subscription to one account: it also gets the events
// of the accounts listed (replacing those of an earlier call), and every
// account's EventACLChanged, which is how a mailbox shared with the
// subscriber's account announces itself. Folders shared with a user live
// in other accounts; a session that watches them (IMAP NOTIFY) follows
// their owners.
func (s *Subscription) Follow(accounts []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follow = make(map[int64]bool, len(accounts))
	for _, id := range accounts {
		s.follow[id] = true
	}
	s.acl = true
}

// Close unsubscribes.
func (s *Subscription) Close() {
	s.feed.remove(s)
	s.markClosed()
}

func (s *Subscription) push(events []Event, seq uint64, published time.Time) {
	s.mu.Lock()
	s.pushed = seq
	added := false
	for i := range events {
		e := &events[i]
		if s.account != 0 && e.AccountID != s.account && !s.follow[e.AccountID] && !(s.acl && e.Kind == EventACLChanged) {
			continue
		}
		added = true
		if s.overflow {
			continue
		}
		if len(s.queue) >= s.limit {
			s.queue, s.overflow = nil, true
			continue
		}
		if len(s.queue) == 0 && s.since.IsZero() {
			s.since = published
		}
		s.queue = append(s.queue, *e)
	}
	s.mu.Unlock()
	if added {
		s.signal()
	}
}

func (s *Subscription) markClosed() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
