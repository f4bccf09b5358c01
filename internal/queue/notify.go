package queue

import (
	"context"
	"errors"
	"time"

	"mailroom/internal/dsn"
	"mailroom/internal/remote"
	"mailroom/internal/store"
)

// dsnRecipient describes one recipient's fate for a notification.
func (q *Queue) dsnRecipient(r store.QueuedRecipient, res remote.Result, action dsn.Action, now, retryUntil time.Time) dsn.Recipient {
	status := res.Enhanced
	if status == "" {
		status = "4.0.0"
		if res.Permanent {
			status = "5.0.0"
		}
	}
	diag := ""
	if res.Code != 0 {
		diag = reply(res)
	}
	return dsn.Recipient{
		Original:       r.ORcpt,
		Final:          r.Address,
		Action:         action,
		Status:         status,
		RemoteMTA:      res.RemoteMTA,
		Diagnostic:     diag,
		Explanation:    res.Text,
		LastAttempt:    now,
		WillRetryUntil: retryUntil,
	}
}

// notify sends the sender of m one notification about recipients: a
// bounce (failed) or a delay warning, or both in one report.
func (q *Queue) notify(ctx context.Context, m store.QueuedMessage, recipients []dsn.Recipient) error {
	ret := q.getReturner()
	if ret == nil {
		return errors.New("no way to return notifications configured")
	}
	report, err := q.report(ctx, m, recipients)
	if err != nil {
		return err
	}
	defer report.Close() // ends the writer if delivery gave up early
	return ret.DeliverNotice(context.WithoutCancel(ctx), m.From, report)
}
