package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// DeliverNotice delivers a message the server itself writes — a delivery
// status notification, later an auto-reply — from the null sender to one
// address: into the local mailbox it leads to, or through the outbound
// queue. A permanent failure (the address does not exist any more) is
// logged and dropped, since a notice about a notice would loop; a
// temporary one is returned for the caller to retry.
func (a *Agent) DeliverNotice(ctx context.Context, to string, msg []byte) error {
	res, err := a.Resolve(ctx, to, true)
	if err != nil {
		var de *Error
		if errors.As(err, &de) && de.Code >= 500 {
			a.log.Warn("notice dropped: its recipient does not exist", "to", to, "err", err)
			return nil
		}
		return fmt.Errorf("delivery: notice to %s: %w", to, err)
	}
	staged, err := a.st.Stage(ctx, bytes.NewReader(msg))
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
