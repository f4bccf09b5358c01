package mailapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"mailroom/internal/delivery"
	"mailroom/internal/store"
)

// The Releaser sends held submissions (FUTURERELEASE) when they are due.
// Every node runs one. It claims a due submission with a lease
// (store.EmailSubmissions.ClaimEmailSubmission: one node gets each, and a
// claimed one can no longer be canceled), delivers the message kept at
// creation exactly as a submission sent at once is delivered, and marks
// it final. A node that dies mid-release loses its lease and another
// sends the submission once it expires: a message may then go twice,
// never not at all, as with the outbound queue. A submission due while
// the server was down goes as soon as it runs again.

// ReleaserOptions are what a Releaser works with.
type ReleaserOptions struct {
	Store    store.Store
	Delivery *delivery.Agent
	Logger   *slog.Logger
	// Poll is how often it looks for due submissions (default
	// releasePoll).
	Poll time.Duration
}

// releasePoll: sendAt has second precision, so a second late at most.
// The look is one indexed query.
const releasePoll = time.Second

// releaseLease is how long a claim holds: far longer than a delivery
// takes. A release that failed temporarily is tried again once it
// expires.
const releaseLease = 5 * time.Minute

// Releaser releases held submissions; see ReleaserOptions.
type Releaser struct {
	opts  ReleaserOptions
	log   *slog.Logger
	owner string // names this process's claims
}

// NewReleaser returns a Releaser; Run starts it.
func NewReleaser(opts ReleaserOptions) *Releaser {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Poll <= 0 {
		opts.Poll = releasePoll
	}
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Releaser{opts: opts, log: opts.Logger.With("component", "jmap-release"),
		owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))}
}

// Run releases due submissions until ctx is done. Without a delivery
// agent there is nothing to send with: it only waits.
func (r *Releaser) Run(ctx context.Context) error {
	if r.opts.Delivery == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		r.releaseDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// releaseDue releases every submission due now.
func (r *Releaser) releaseDue(ctx context.Context) {
	st := r.opts.Store
	next, err := st.NextEmailSubmission(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("jmap: held submissions: look for due ones", "err", err)
		}
		return
	}
	if next.IsZero() || next.After(time.Now()) {
		return
	}
	for ctx.Err() == nil {
		s, msg, ok, err := st.ClaimEmailSubmission(ctx, r.owner, time.Now(), releaseLease)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("jmap: held submissions: claim", "err", err)
			}
			return
		}
		if !ok {
			return
		}
		r.release(ctx, s, msg)
	}
}

// release sends one claimed submission. A temporary failure leaves the
// claim to expire, and the submission is tried again; a permanent one
// (every recipient refused) cancels it: nothing was sent.
func (r *Releaser) release(ctx context.Context, s store.EmailSubmission, msg []byte) {
	log := r.log.With("account", s.AuthUser, "submission", s.ID)
	agent := r.opts.Delivery
	// Sending switched off meanwhile (an account taken over, say): the
	// held messages do not go either.
	settings, err := r.opts.Store.Settings(ctx, s.AccountID)
	if err != nil {
		log.Warn("jmap: held submission: read settings; trying again later", "err", err)
		return
	}
	if !settings.Bool("submission.enabled") {
		log.Warn("jmap: held submission canceled: sending is switched off for the account (submission.enabled)")
		r.finish(ctx, log, s, store.UndoCanceled)
		return
	}
	env := delivery.Envelope{From: s.MailFrom, UTF8: !isASCII(s.MailFrom), AuthUser: s.AuthUser}
	for _, rcpt := range s.RcptTo {
		res, err := agent.Resolve(ctx, rcpt, true)
		if err != nil {
			var de *delivery.Error
			if errors.As(err, &de) && !de.Temporary() {
				// Gone since the submission (an account deleted): the
				// others still get it.
				log.Warn("jmap: held submission: a recipient no longer exists; not sent to it", "rcpt", rcpt, "err", err)
				continue
			}
			log.Warn("jmap: held submission: resolve a recipient; trying again later", "rcpt", rcpt, "err", err)
			return
		}
		env.Recipients = append(env.Recipients, delivery.Recipient{Address: rcpt, Resolved: res})
		env.UTF8 = env.UTF8 || !isASCII(rcpt)
	}
	if len(env.Recipients) == 0 {
		r.finish(ctx, log, s, store.UndoCanceled)
		return
	}
	staged, err := r.opts.Store.Stage(ctx, bytes.NewReader(msg))
	if err != nil {
		log.Warn("jmap: held submission: stage the message; trying again later", "err", err)
		return
	}
	defer staged.Discard()
	if err := agent.Deliver(ctx, staged, env); err != nil {
		var de *delivery.Error
		if errors.As(err, &de) && !de.Temporary() {
			log.Warn("jmap: held submission refused; canceled, nothing sent", "err", err)
			r.finish(ctx, log, s, store.UndoCanceled)
			return
		}
		log.Warn("jmap: held submission: deliver; trying again later", "err", err)
		return
	}
	log.Info("held message sent through JMAP", "from", env.From, "rcpts", len(env.Recipients), "size", staged.Size(), "due", s.SendAt)
	if len(s.Owners) > 0 {
		grants, err := r.opts.Store.DelegatedTo(ctx, s.AccountID, s.AuthUser)
		if err != nil {
			log.Error("jmap: held submission: delegations; no copy kept in the owners' Sent", "err", err)
		}
		grants = slices.DeleteFunc(grants, func(g store.Delegation) bool { return !slices.Contains(s.Owners, g.OwnerID) })
		keepOwnerCopies(ctx, agent, r.log, s.AuthUser, staged, grants)
	}
	r.finish(ctx, log, s, store.UndoFinal)
}

// finish records the outcome of a release, even when the server is
// stopping: a message sent and not recorded would go again.
func (r *Releaser) finish(ctx context.Context, log *slog.Logger, s store.EmailSubmission, status string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.opts.Store.FinishEmailSubmission(ctx, s, r.owner, status, time.Now()); err != nil {
		log.Error("jmap: held submission: record that it was "+status, "err", err)
	}
}
