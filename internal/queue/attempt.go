package queue

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/dsn"
	"mailroom/internal/remote"
	"mailroom/internal/store"
)

// attemptContained is attempt, with a panic contained to the batch: it
// is logged and counted, the batch's recipients are released for a retry
// at their next interval, and the worker slot goes back to the pool.
// Whatever the attempt had not recorded is tried again: a recipient the
// remote server accepted just before the panic may get a second copy,
// which is better than losing mail.
func (q *Queue) attemptContained(ctx context.Context, b store.QueueBatch) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		q.opts.Panics.Report(q.log, "queue delivery", v, "id", b.Message.ID, "domain", b.Domain)
		q.retryAfterPanic(ctx, b)
	}()
	q.attempt(ctx, b)
}

// retryAfterPanic reschedules a batch whose attempt panicked. Without it
// the recipients would wait for their lease to run out and be tried again
// at once, not at their next interval. A panic that comes back on every
// attempt keeps the message queued, retried at the growing intervals,
// until an operator drops it: a bounce built from an attempt that crashed
// could say nothing true about the recipients.
func (q *Queue) retryAfterPanic(ctx context.Context, b store.QueueBatch) {
	now := q.opts.Now()
	var outcomes []store.QueueOutcome
	for _, r := range b.Message.Recipients {
		outcomes = append(outcomes, store.QueueOutcome{
			RecipientID: r.ID,
			NextAttempt: now.Add(q.retryAfter(r.Attempts)),
			LastError:   "internal error: the delivery attempt failed (see the server log); will retry",
		})
	}
	if err := q.st.FinishQueued(context.WithoutCancel(ctx), q.owner, outcomes); err != nil {
		q.log.Error("rescheduling after a failed delivery attempt failed; the recipients wait for their lease to expire", "id", b.Message.ID, "err", err)
	}
}

// attempt sends one claimed batch and records what became of each
// recipient. Bounces and delay warnings are made durable before the
// recipients they report leave the queue.
func (q *Queue) attempt(ctx context.Context, b store.QueueBatch) {
	m := b.Message
	msg := remote.Message{
		From: m.From, UTF8: m.UTF8, EightBit: m.EightBit, Size: m.Size, Ret: m.Ret, EnvID: m.EnvID,
		Open: func() (io.ReadCloser, error) { return q.open(ctx, m.ID) },
	}
	for _, r := range m.Recipients {
		msg.Recipients = append(msg.Recipients, remote.Rcpt{Addr: r.Address, Notify: r.Notify, ORcpt: r.ORcpt})
	}
	start := q.opts.Now()
	results := q.opts.Transport.Deliver(ctx, b.Domain, msg)
	now := q.opts.Now()
	stopping := ctx.Err() != nil

	var outcomes []store.QueueOutcome
	var failed, delayed, relayed []dsn.Recipient
	var failedIDs []int64
	for i, r := range m.Recipients {
		res := remote.Result{Rcpt: r.Address, Code: 0, Enhanced: "4.4.1", Text: "no result from the delivery attempt"}
		if i < len(results) {
			res = results[i]
		}
		log := q.log.With("id", m.ID, "rcpt", r.Address, "attempt", r.Attempts+1, "remote", res.RemoteMTA,
			"reply", reply(res), "tls", res.TLS, "duration", now.Sub(start).Round(time.Millisecond).String())
		switch {
		case res.Delivered:
			log.Info("delivered")
			outcomes = append(outcomes, store.QueueOutcome{RecipientID: r.ID, Done: true})
			// A server without DSN cannot pass NOTIFY=SUCCESS on: the
			// sender hears from us that the message left (RFC 3461 5.2.2).
			if !res.DSN && dsn.ShouldNotify(m.From, r.Notify, dsn.ActionRelayed) {
				relayed = append(relayed, q.dsnRecipient(r, res, dsn.ActionRelayed, now, time.Time{}))
			}
		case res.Permanent:
			log.Warn("delivery failed for good")
			outcomes = append(outcomes, store.QueueOutcome{RecipientID: r.ID, Done: true})
			if dsn.ShouldNotify(m.From, r.Notify, dsn.ActionFailed) {
				failed = append(failed, q.dsnRecipient(r, res, dsn.ActionFailed, now, time.Time{}))
				failedIDs = append(failedIDs, r.ID)
			}
		case stopping:
			// Cut short by shutdown: not an attempt. The lease ends with
			// the process and the restart takes the recipient up again.
		default:
			age := now.Sub(m.Created)
			if age >= q.opts.MaxAge {
				log.Warn("delivery gave up: too long in the queue", "age", age.Round(time.Minute).String())
				outcomes = append(outcomes, store.QueueOutcome{RecipientID: r.ID, Done: true})
				if dsn.ShouldNotify(m.From, r.Notify, dsn.ActionFailed) {
					res.Text = "gave up after " + days(q.opts.MaxAge) + " of trying; last error: " + reply(res)
					failed = append(failed, q.dsnRecipient(r, res, dsn.ActionFailed, now, time.Time{}))
					failedIDs = append(failedIDs, r.ID)
				}
				continue
			}
			next := now.Add(q.retryAfter(r.Attempts))
			if deadline := m.Created.Add(q.opts.MaxAge); next.After(deadline) {
				next = deadline // one last try when the time is up
			}
			o := store.QueueOutcome{RecipientID: r.ID, NextAttempt: next, LastError: reply(res)}
			if q.opts.DelayWarning > 0 && !r.Warned && age >= q.opts.DelayWarning {
				o.Warned = true
				if dsn.ShouldNotify(m.From, r.Notify, dsn.ActionDelayed) {
					delayed = append(delayed, q.dsnRecipient(r, res, dsn.ActionDelayed, now, m.Created.Add(q.opts.MaxAge)))
				}
			}
			log.Info("delivery deferred", "next", next.Format(time.RFC3339))
			outcomes = append(outcomes, o)
		}
	}
	if len(failed) > 0 || len(delayed) > 0 || len(relayed) > 0 {
		if err := q.notify(ctx, m, slices.Concat(failed, delayed, relayed)); err != nil {
			q.log.Error("could not return a delivery notification; will retry it", "id", m.ID, "to", m.From, "err", err)
			// Keep the failed recipients so their bounce is not lost: the
			// next attempt fails again and bounces then.
			for i := range outcomes {
				for _, id := range failedIDs {
					if outcomes[i].RecipientID == id {
						outcomes[i] = store.QueueOutcome{RecipientID: id, NextAttempt: now.Add(q.opts.RetryIntervals[0]), LastError: "bounce not yet returned"}
					}
				}
			}
		}
	}
	if len(outcomes) == 0 {
		return
	}
	// Record outcomes even while shutting down: a delivered recipient must
	// not be sent again.
	if err := q.st.FinishQueued(context.WithoutCancel(ctx), q.owner, outcomes); err != nil {
		q.log.Error("recording delivery outcomes failed", "id", m.ID, "err", err)
	}
}

// retryAfter is the wait after the attempts-th failed attempt (0-based).
func (q *Queue) retryAfter(attempts int) time.Duration {
	iv := q.opts.RetryIntervals
	return iv[min(attempts, len(iv)-1)]
}

// open reads a queued message from the store.
func (q *Queue) open(ctx context.Context, id int64) (io.ReadCloser, error) {
	body, err := q.st.OpenQueued(ctx, id)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{readerOf(body), body}, nil
}

func readerOf(b store.Body) io.Reader { return io.NewSectionReader(b, 0, b.Size()) }

// reply renders a result as one line: "550 5.1.1 no such user".
func reply(res remote.Result) string {
	var b strings.Builder
	if res.Code != 0 {
		b.WriteString(strconv.Itoa(res.Code))
		b.WriteByte(' ')
	}
	if res.Enhanced != "" && !strings.HasPrefix(res.Text, res.Enhanced) {
		b.WriteString(res.Enhanced)
		b.WriteByte(' ')
	}
	b.WriteString(strings.Join(strings.Fields(res.Text), " "))
	return b.String()
}

func days(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
