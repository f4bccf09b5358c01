package pgstore

import (
	"slices"
	"sync"

	"mailroom/internal/store"
)

// This node's own writes reach its feed in detail (the events sqlitestore
// publishes: which message was added, which flags changed, which UIDs
// left, which mailbox was created or renamed), before the write call
// returns, which is what the mailbox service's read-your-writes rests on.
// Other nodes learn of the same write from the change log (feed.go),
// which skips this node's own rows, so nothing reaches a subscriber twice.
//
// Order. Subscribers apply events in the order they arrive, so the events
// of one mailbox must arrive in commit order: an IMAP client must not see
// UID 6 before UID 5, nor an expunge before the message it removes. Writes
// run on many goroutines and commit in parallel, and nothing makes the
// goroutine that committed first also publish first. What does order them
// is the mailbox row lock every write of a mailbox holds until it commits
// (deliver.go): of two writes of one mailbox, the second takes the lock
// only after the first committed. So each write takes a ticket in the
// queue of each mailbox it changed while it still holds their locks (just
// before COMMIT), and publishes after the commit once its ticket leads all
// of them. Tickets of different mailboxes do not wait for each other, and
// a waiting write waits for at most the COMMIT round trips of writes that
// already hold tickets ahead of it.
//
// Other nodes. The change log brings other nodes' changes as "mailbox
// changed up to modseq" events (EventMailboxChanged), upon which the
// mailbox service reads ChangesSince(its highest modseq). Those can arrive
// after this node's later write of the same mailbox: B commits modseq 9,
// this node commits 10 and publishes it at once, the listener brings 9
// afterwards. A subscriber that applied 10 would then ask for changes
// since 10 and miss 9 for good. So a write whose mailbox's previous
// modseq is not one this node knows to be published (known) puts an
// EventMailboxChanged before its own events: the subscriber catches up
// from the store first. known holds, per mailbox, the modseq up to which
// every change is published or queued ahead: raised by this node's writes
// and by the listener's events. A fresh mailbox (modseq 1, nothing
// happened) needs no catching up; a mailbox this node has not written
// since it started costs one catch-up on its first write.

// maxKnown bounds the mailboxes known remembers. Forgetting costs a
// subscriber's catch-up read on the mailbox's next write, nothing more.
const maxKnown = 1 << 16

// publisher hands committed writes' events to the node's feed in commit
// order per mailbox.
type publisher struct {
	feed *store.Feed

	mu      sync.Mutex
	turn    *sync.Cond                // signalled when a ticket leaves a queue
	pending map[int64][]*ticket       // mailbox → its tickets, in commit order
	known   map[int64]uint64          // mailbox → modseq up to which everything is published or queued
	onWait  func(t *ticket, mb int64) // tests: called (p.mu held) when a ticket waits for its turn
	// committed is called by tests after a commit, before its publish.
	committed func(t *ticket)
}

// ticket is one write transaction's place in the queues of its mailboxes.
type ticket struct {
	events []store.Event
	boxes  []int64
}

func newPublisher(feed *store.Feed) *publisher {
	p := &publisher{feed: feed, pending: map[int64][]*ticket{}, known: map[int64]uint64{}}
	p.turn = sync.NewCond(&p.mu)
	return p
}

// register queues a transaction's events in the queues of the mailboxes
// they touch. The transaction must hold those mailboxes' row locks (or
// have created them) and not have committed yet. It returns nil when
// there is nothing to publish.
//
// prev holds, per mailbox the transaction gave new modseqs, its highest
// modseq before (txn.prev).
func (p *publisher) register(events []store.Event, prev map[int64]uint64) *ticket {
	if len(events) == 0 {
		return nil
	}
	t := &ticket{}
	type span struct {
		account    int64
		first, top uint64 // the lowest and highest modseq of this write
	}
	spans := map[int64]*span{}
	for _, e := range events {
		if e.MailboxID == 0 {
			continue // no order to keep: subscriptions, the account
		}
		sp := spans[e.MailboxID]
		if sp == nil {
			sp = &span{account: e.AccountID}
			spans[e.MailboxID] = sp
			t.boxes = append(t.boxes, e.MailboxID)
		}
		if e.ModSeq != 0 && (sp.first == 0 || e.ModSeq < sp.first) {
			sp.first = e.ModSeq
		}
		sp.top = max(sp.top, e.ModSeq)
	}
	slices.Sort(t.boxes)
	p.mu.Lock()
	defer p.mu.Unlock()
	var catchUp []store.Event
	for _, mb := range t.boxes {
		sp := spans[mb]
		// The modseq before this write, as the transaction read it.
		if pr, ok := prev[mb]; ok && sp.first != 0 && pr > 1 && p.known[mb] < pr {
			catchUp = append(catchUp, store.Event{Kind: store.EventMailboxChanged, AccountID: sp.account, MailboxID: mb, ModSeq: pr})
		}
		p.pending[mb] = append(p.pending[mb], t)
	}
	for _, e := range events {
		switch {
		case e.Kind == store.EventMailboxCreated:
			p.remember(e.MailboxID, 1) // a new mailbox starts at modseq 1
		case e.Kind == store.EventMailboxDeleted:
			delete(p.known, e.MailboxID)
		case e.MailboxID != 0 && e.ModSeq != 0:
			p.remember(e.MailboxID, e.ModSeq)
		}
	}
	t.events = append(catchUp, events...)
	return t
}

// remember raises known[mb] to modseq (p.mu held).
func (p *publisher) remember(mb int64, modseq uint64) {
	if _, ok := p.known[mb]; !ok && len(p.known) >= maxKnown {
		clear(p.known)
	}
	p.known[mb] = max(p.known[mb], modseq)
}

// publish hands a committed transaction's events to the feed once every
// ticket ahead of it in its mailboxes' queues has been published. It does
// not give up on a cancelled context: the transaction has committed, and
// its events must go out before the write returns.
func (p *publisher) publish(t *ticket) {
	if t == nil {
		return
	}
	if p.committed != nil {
		p.committed(t)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		mb, ahead := p.waitingFor(t)
		if !ahead {
			break
		}
		if p.onWait != nil {
			p.onWait(t, mb)
		}
		p.turn.Wait()
	}
	// Under p.mu, so publishing and leaving the queues is one step for the
	// tickets that wait on them.
	p.feed.Publish(t.events)
	p.leave(t)
}

// waitingFor reports a mailbox where a ticket ahead of t is still
// queued (p.mu held).
func (p *publisher) waitingFor(t *ticket) (int64, bool) {
	for _, mb := range t.boxes {
		if q := p.pending[mb]; len(q) > 0 && q[0] != t {
			return mb, true
		}
	}
	return 0, false
}

// leave takes t out of its queues and wakes the tickets behind it (p.mu held).
func (p *publisher) leave(t *ticket) {
	for _, mb := range t.boxes {
		q := slices.DeleteFunc(p.pending[mb], func(x *ticket) bool { return x == t })
		if len(q) == 0 {
			delete(p.pending, mb)
		} else {
			p.pending[mb] = q
		}
	}
	p.turn.Broadcast()
}

// abandon withdraws the ticket of a transaction whose COMMIT failed. If
// PostgreSQL said it failed (committed is false), nothing happened and
// nothing is published. Otherwise (the connection broke, say) it may have
// committed: this node's own change log rows never come back through the
// listener, so its subscribers get, in the ticket's turn, the coarse
// events another node's would, and catch up from the store if anything
// changed. Either way the mailboxes' modseqs are no longer known.
func (p *publisher) abandon(t *ticket, maybeCommitted bool) {
	if t == nil {
		return
	}
	p.mu.Lock()
	for _, mb := range t.boxes {
		delete(p.known, mb)
	}
	if !maybeCommitted {
		p.leave(t)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	var coarse []store.Event
	for _, e := range t.events {
		switch e.Kind {
		case store.EventMessageAdded, store.EventFlagsChanged, store.EventExpunged, store.EventMailboxChanged:
			e = store.Event{Kind: store.EventMailboxChanged, AccountID: e.AccountID, MailboxID: e.MailboxID, ModSeq: e.ModSeq}
		case store.EventAccountChanged:
		default: // the mailbox list: subscribers list it again
			e = store.Event{Kind: store.EventMailboxChanged, AccountID: e.AccountID}
		}
		i := slices.IndexFunc(coarse, func(c store.Event) bool {
			return c.Kind == e.Kind && c.AccountID == e.AccountID && c.MailboxID == e.MailboxID
		})
		if i < 0 {
			coarse = append(coarse, e)
		} else {
			coarse[i].ModSeq = max(coarse[i].ModSeq, e.ModSeq)
		}
	}
	t.events = coarse
	p.publish(t)
}

// fromLog publishes other nodes' changes read from the change log, and
// records that every change of their mailboxes up to their modseqs is
// published: the log is read in commit order per mailbox, and this node's
// own earlier writes of the mailbox took their tickets before they
// committed, so before the read. Recorded after publishing, so that a
// write that reads known waits for nothing not yet out.
func (p *publisher) fromLog(events []store.Event) {
	if len(events) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.feed.Publish(events)
	for _, e := range events {
		if e.Kind == store.EventMailboxChanged && e.MailboxID != 0 && e.ModSeq != 0 {
			p.remember(e.MailboxID, e.ModSeq)
		}
	}
}
