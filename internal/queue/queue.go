// Package queue is the outbound queue: mail for other domains, kept in the
// store until the receiving server accepts it, retried with growing
// intervals, and returned to its sender as a delivery status notification
// when it fails for good or waits too long.
//
// Each recipient has its own row, so it is delivered, retried and bounced
// on its own; the recipients of one message in one destination domain go
// in one SMTP transaction. Workers lease the recipients they send, so two
// processes sharing a store never send the same one at once, and a worker
// that dies leaves nothing locked for longer than its short lease, which
// a live worker renews (lease.go; its own restart releases them at once).
package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mailroom/internal/address"
	"mailroom/internal/delivery"
	"mailroom/internal/mime"
	"mailroom/internal/panics"
	"mailroom/internal/remote"
	"mailroom/internal/store"
	"mailroom/internal/tlsrpt"
)

// Transport delivers one message to the recipients of one domain, with one
// result per recipient in order. *remote.Client is the real one.
type Transport interface {
	Deliver(ctx context.Context, domain string, m remote.Message) []remote.Result
}

// Returner delivers a notification to an address wherever it is, from the
// null sender: a local mailbox or, through this queue, another server.
// *delivery.Agent is the real one.
type Returner interface {
	DeliverNotice(ctx context.Context, to string, msg io.Reader) error
}

// Signer adds DKIM signatures for messages from local domains. It returns
// the header fields to prepend, or nil when the domain has no keys.
type Signer interface {
	Sign(ctx context.Context, domain string, msg store.Staged) ([]byte, error)
}

// Options configure a Queue.
type Options struct {
	Store     store.Store
	Transport Transport
	Signer    Signer // nil: no signing
	Hostname  string // our name: Reporting-MTA of DSNs, lease owner
	// RetryIntervals are the waits after each temporary failure; the last
	// one repeats. MaxAge is when a message gives up and bounces.
	RetryIntervals []time.Duration
	MaxAge         time.Duration
	// DelayWarning, if not zero, is when a sender is told once that a
	// recipient is still waiting.
	DelayWarning time.Duration
	// Concurrency is how many deliveries run at once.
	Concurrency int
	// MaxFullReturn is the largest original a bounce carries whole (RET=FULL).
	MaxFullReturn int64
	Logger        *slog.Logger
	// Panics counts the deliveries that ended in a panic (nil: none are
	// counted, they are still logged and contained).
	Panics *panics.Counter
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// TLSReports is the recorder the transport tells the TLS outcome of
	// each session, kept here for the daily TLS-RPT reporter (nil: none).
	TLSReports *tlsrpt.Recorder
	// LeaseTime is how long a claimed recipient stays reserved without a
	// renewal (default DefaultLeaseTime; see lease.go): about how long
	// the recipients of a node that died wait for another node.
	LeaseTime time.Duration
}

// poll is how often the queue looks for work it was not told about (mail
// queued by another process, `mailroom queue retry`).
const poll = 5 * time.Second

// Queue is the outbound queue. It implements delivery.Outbound.
type Queue struct {
	opts  Options
	st    store.Store
	log   *slog.Logger
	owner string
	held  held // claimed recipients, whose leases are renewed (lease.go)

	mu       sync.Mutex
	returner Returner
	wake     chan struct{}

	// Deliveries in progress run under sending, which only Abort ends:
	// stopping Run lets them finish.
	sending context.Context
	abort   context.CancelFunc
}

// New returns a Queue. Call SetReturner before Run, and Run to deliver.
func New(opts Options) *Queue {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.RetryIntervals) == 0 {
		opts.RetryIntervals = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = 5 * 24 * time.Hour
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 20
	}
	if opts.MaxFullReturn == 0 {
		opts.MaxFullReturn = 10 << 20
	}
	if opts.LeaseTime <= 0 {
		opts.LeaseTime = DefaultLeaseTime
	}
	sending, abort := context.WithCancel(context.Background())
	return &Queue{
		opts:    opts,
		st:      opts.Store,
		log:     opts.Logger.With("component", "queue"),
		owner:   opts.Hostname,
		wake:    make(chan struct{}, 1),
		sending: sending,
		abort:   abort,
	}
}

// Abort ends the deliveries in progress: their recipients are not marked
// as attempted, and the next start takes them up again.
func (q *Queue) Abort() { q.abort() }

// SetReturner sets where notifications go (the delivery agent, which in
// turn queues remote ones here).
func (q *Queue) SetReturner(r Returner) {
	q.mu.Lock()
	q.returner = r
	q.mu.Unlock()
}

func (q *Queue) getReturner() Returner {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.returner
}

// Enqueue implements delivery.Outbound: the message is durable in the
// queue when it returns nil. Messages from a local domain with DKIM keys
// are signed here, once, before they are stored.
func (q *Queue) Enqueue(ctx context.Context, env delivery.Envelope, msg store.Staged) error {
	e := store.QueueEntry{
		From:     env.From,
		EnvID:    env.DSNEnvID,
		Ret:      env.DSNRet,
		UTF8:     env.UTF8,
		EightBit: msg.Structure().Flags&mime.EightBit != 0,
	}
	for _, r := range env.Recipients {
		orcpt := r.DSNORcpt
		if orcpt == "" {
			orcpt = "rfc822;" + r.Address
		}
		for _, addr := range r.Remote {
			a, err := address.Parse(addr)
			if err != nil {
				return fmt.Errorf("queue: recipient %q: %w", addr, err)
			}
			e.Recipients = append(e.Recipients, store.QueueRecipient{
				Address: addr, Domain: strings.ToLower(a.Domain), Notify: r.DSNNotify, ORcpt: orcpt,
			})
		}
	}
	if len(e.Recipients) == 0 {
		return errors.New("queue: no remote recipient")
	}
	if q.opts.Signer != nil {
		if domain := signingDomain(env.From, msg.Structure()); domain != "" {
			sig, err := q.opts.Signer.Sign(ctx, domain, msg)
			if err != nil {
				return fmt.Errorf("queue: DKIM signing: %w", err)
			}
			e.HeaderPrefix = sig
		}
	}
	id, err := q.st.Enqueue(ctx, msg, e)
	if err != nil {
		return err
	}
	q.log.Info("queued", "id", id, "from", env.From, "recipients", len(e.Recipients), "size", msg.Size())
	q.Wake()
	return nil
}

// signingDomain is the domain a message is signed for: the From header's
// (what DMARC aligns with), else the envelope sender's. The Signer decides
// whether it has keys for it.
func signingDomain(from string, m *mime.Message) string {
	if m != nil && m.Root != nil && m.Root.Envelope != nil && len(m.Root.Envelope.From) > 0 {
		if h := m.Root.Envelope.From[0].Host; h != "" {
			return strings.ToLower(h)
		}
	}
	if a, err := address.Parse(from); err == nil {
		return strings.ToLower(a.Domain)
	}
	return ""
}

// Wake makes the queue look for due work now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the deliveries in progress
// to finish (Abort cuts them short).
func (q *Queue) Run(ctx context.Context) error {
	if err := q.st.ReleaseQueued(ctx, q.owner); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it began: a normal stop
		}
		return err
	}
	// The renewer outlives ctx: the deliveries in progress finish after
	// it ends (below, wg.Wait runs first), and hold their leases until then.
	rctx, stopRenewing := context.WithCancel(context.WithoutCancel(ctx))
	renewing := make(chan struct{})
	go func() {
		defer close(renewing)
		q.renew(rctx)
	}()
	defer func() {
		stopRenewing()
		<-renewing
	}()
	sem := make(chan struct{}, q.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// Take a slot first, so that claimed work starts at once.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		free := 1 + q.opts.Concurrency - len(sem)
		batches, err := q.st.ClaimQueued(ctx, q.owner, q.opts.Now(), q.opts.LeaseTime, free*50)
		if err != nil {
			<-sem
			if ctx.Err() != nil {
				return nil
			}
			q.log.Error("claiming queued mail failed", "err", err)
			if !sleep(ctx, poll, nil) {
				return nil
			}
			continue
		}
		q.held.add(batches)
		for i, b := range batches {
			if i > 0 {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					// Not started: no longer renewed, their leases end
					// within one lease time (or at the restart's release).
					q.held.drop(batches[i:]...)
					return nil
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer q.Wake() // its recipients' next attempt may be the earliest
				defer func() { <-sem }()
				defer q.held.drop(b)
				q.attemptContained(q.sending, b)
			}()
		}
		if len(batches) > 0 {
			continue
		}
		<-sem
		wait := poll
		if next, err := q.st.NextQueued(ctx); err == nil && !next.IsZero() {
			if d := next.Sub(q.opts.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		if !sleep(ctx, wait, q.wake) {
			return nil
		}
	}
}

// sleep waits for d, a wake-up or the end of ctx (then it returns false).
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
		return false
	}
	return true
}
