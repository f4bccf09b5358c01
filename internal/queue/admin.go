package queue

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mailroom/internal/dsn"
	"mailroom/internal/store"
)

// Drop removes a message from the queue for the operator (`mailroom queue
// drop`). Unless silent, its sender is told that it was not delivered to
// the recipients still waiting, as for any other permanent failure.
func (q *Queue) Drop(ctx context.Context, id int64, silent bool) (store.QueuedMessage, error) {
	m, err := q.st.QueuedMessage(ctx, id)
	if err != nil {
		return m, err
	}
	bounced := false
	if !silent {
		now := q.opts.Now()
		var recipients []dsn.Recipient
		for _, r := range m.Recipients {
			if dsn.ShouldNotify(m.From, r.Notify, dsn.ActionFailed) {
				recipients = append(recipients, dsn.Recipient{
					Original: r.ORcpt, Final: r.Address, Action: dsn.ActionFailed, Status: "5.0.0",
					Explanation: "The postmaster removed this message from the queue before it could be delivered." +
						lastError(r), LastAttempt: now,
				})
			}
		}
		// The bounce is delivered before the message goes: it is written
		// from the queued body, streamed. A drop that then fails leaves
		// the message queued, and the operator can drop it again silently.
		if len(recipients) > 0 {
			if err := q.notify(ctx, m, recipients); err != nil {
				return m, fmt.Errorf("queue: message %d not dropped: its bounce could not be delivered: %w", id, err)
			}
			bounced = true
		}
	}
	if m, err = q.st.DropQueued(ctx, id); err != nil {
		return m, err
	}
	q.log.Info("dropped by the operator", "id", id, "from", m.From, "recipients", len(m.Recipients), "bounced", bounced)
	return m, nil
}

func lastError(r store.QueuedRecipient) string {
	if r.LastError == "" {
		return ""
	}
	return " The last attempt to deliver it failed with: " + r.LastError
}

// report is a DSN about recipients of queued message m, written while it
// is read: the returned original (RET=FULL, up to MaxFullReturn) streams
// from the store. Close it when done.
func (q *Queue) report(ctx context.Context, m store.QueuedMessage, recipients []dsn.Recipient) (io.ReadCloser, error) {
	body, err := q.st.OpenQueued(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer body.Close()
		// This goroutine is not under its worker's recover: a panic
		// here fails the report (the reader gets an error) instead.
		defer func() {
			if v := recover(); v != nil {
				q.opts.Panics.Report(q.log, "queue: writing a delivery report", v, "id", m.ID)
				pw.CloseWithError(errors.New("queue: writing the delivery report failed"))
			}
		}()
		err := dsn.Write(pw, dsn.Report{
			ReportingMTA: q.opts.Hostname,
			From:         "MAILER-DAEMON@" + q.opts.Hostname,
			To:           m.From,
			EnvID:        m.EnvID,
			Arrival:      m.Created,
			Return:       m.Ret,
			MaxFull:      q.opts.MaxFullReturn,
			EightBit:     m.EightBit,
			UTF8:         m.UTF8,
			Recipients:   recipients,
			Now:          q.opts.Now(),
		}, readerOf(body), body.Size())
		if err != nil {
			err = fmt.Errorf("queue: writing the delivery report: %w", err)
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}
