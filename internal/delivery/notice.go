package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"mailroom/internal/dsn"
	"mailroom/internal/store"
)

// DeliverNotice delivers a message the server itself writes — a delivery
// status notification, later an auto-reply — from the null sender to one
// address: into the local mailbox it leads to, or through the outbound
// queue. A permanent failure (the address does not exist any more) is
// logged and dropped, since a notice about a notice would loop; a
// temporary one is returned for the caller to retry. msg is streamed into
// the store: a bounce returning a 50 MB original is never held in memory.
func (a *Agent) DeliverNotice(ctx context.Context, to string, msg io.Reader) error {
	res, err := a.Resolve(ctx, to, true)
	if err != nil {
		var de *Error
		if errors.As(err, &de) && de.Code >= 500 {
			a.log.Warn("notice dropped: its recipient does not exist", "to", to, "err", err)
			return nil
		}
		return fmt.Errorf("delivery: notice to %s: %w", to, err)
	}
	staged, err := a.st.Stage(ctx, msg)
	if err != nil {
		return fmt.Errorf("delivery: notice to %s: %w", to, err)
	}
	defer staged.Discard()
	env := Envelope{From: "", Recipients: []Recipient{{Address: to, Resolved: res}}}
	if err := a.Deliver(ctx, staged, env); err != nil {
		return fmt.Errorf("delivery: notice to %s: %w", to, err)
	}
	return nil
}

// notifyDelivered sends the "delivered" report (RFC 3461 6.2) to a sender
// who asked NOTIFY=SUCCESS for recipients that were stored here. The
// message is already delivered: a notice that cannot be written is logged,
// not an error of the delivery.
func (a *Agent) notifyDelivered(ctx context.Context, msg store.Staged, env Envelope, refused map[int64]bool) {
	var rcpts []dsn.Recipient
	now := time.Now()
	for _, r := range env.Recipients {
		if len(r.Accounts) == 0 || !dsn.ShouldNotify(env.From, r.DSNNotify, dsn.ActionDelivered) || allRefused(r, refused) {
			continue
		}
		rcpts = append(rcpts, dsn.Recipient{Original: r.DSNORcpt, Final: r.Address, Action: dsn.ActionDelivered,
			Status: "2.0.0", Explanation: "The message was delivered to the recipient's mailbox.", LastAttempt: now})
	}
	if len(rcpts) == 0 {
		return
	}
	if err := a.sendReport(ctx, msg, env, rcpts, now); err != nil {
		a.log.Error("delivered notice not sent", "to", env.From, "err", err)
	}
}

// sendReport writes a delivery status notification (RFC 3464) for rcpts
// to the envelope sender, with the message's header, and delivers it.
func (a *Agent) sendReport(ctx context.Context, msg store.Staged, env Envelope, rcpts []dsn.Recipient, now time.Time) error {
	body, err := msg.Open()
	if err != nil {
		return err
	}
	defer body.Close()
	host := a.cfg.Hostname
	if host == "" {
		host = "localhost"
	}
	var buf bytes.Buffer
	if err := dsn.Write(&buf, dsn.Report{ReportingMTA: host, To: env.From, EnvID: env.DSNEnvID, Arrival: now,
		Return: "HDRS", UTF8: env.UTF8, Recipients: rcpts, Now: now}, body, msg.Size()); err != nil {
		return err
	}
	return a.DeliverNotice(ctx, env.From, &buf)
}
