package mailbox

import (
	"context"

	"mailroom/internal/store"
)

// The operations below are the one way protocols change mail. Each writes
// through the store (one transaction, durable when it returns) and then
// waits for the shared state to catch up (Barrier), so when it returns:
//
//   - the caller's next read — its own View.Sync, a SELECT, a STATUS, a web
//     page, from this session or any other of this process — shows the
//     change;
//   - other sessions with the mailbox open get it as updates (their Views)
//     and, in IDLE, at once through their watchers.
//
// If the write succeeded but waiting is cut short (the caller's context
// ended, the store closed), the operation still reports the write's result
// and no error: the change is durable and will be applied by the feed; only
// the read-your-writes guarantee of that one call is lost.

// sync waits for the shared state after a successful write.
func (r *Service) sync(ctx context.Context) {
	if err := r.Barrier(ctx); err != nil {
		r.log.Debug("mailbox: change applied without waiting for the index", "err", err)
	}
}

// Append puts a staged message into each target mailbox in one transaction
// (IMAP APPEND, saving a draft or a sent message, local delivery).
func (r *Service) Append(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error) {
	r.setText(ctx, msg)
	d, err := r.st.Deliver(ctx, msg, targets)
	if err != nil {
		return nil, err
	}
	r.remember(msg, targets, d)
	r.sync(ctx)
	return d, nil
}

// AppendAll makes several deliveries in one transaction: all or none
// (IMAP MULTIAPPEND, RFC 3502).
func (r *Service) AppendAll(ctx context.Context, deliveries []store.Delivery) ([]store.Delivered, error) {
	for _, x := range deliveries {
		r.setText(ctx, x.Msg)
	}
	all, err := r.st.DeliverAll(ctx, deliveries)
	if err != nil {
		return nil, err
	}
	rest := all
	for _, x := range deliveries {
		r.remember(x.Msg, x.Targets, rest[:len(x.Targets)])
		rest = rest[len(x.Targets):]
	}
	r.sync(ctx)
	return all, nil
}

// UpdateFlags sets, adds or removes flags and keywords (IMAP STORE, the
// web's flag buttons, POP3's mark-as-seen).
func (r *Service) UpdateFlags(ctx context.Context, mailboxID int64, upd store.FlagUpdate) (store.FlagResult, error) {
	res, err := r.st.UpdateFlags(ctx, mailboxID, upd)
	if err != nil {
		return res, err
	}
	if len(res.Updated) > 0 {
		r.sync(ctx)
	}
	r.flagged(ctx, mailboxID, upd, res)
	return res, nil
}

// MarkSeen adds \Seen to messages (reading one).
func (r *Service) MarkSeen(ctx context.Context, mailboxID int64, uids []uint32) (store.FlagResult, error) {
	return r.UpdateFlags(ctx, mailboxID, store.FlagUpdate{UIDs: uids, Op: store.FlagsAdd, Flags: store.FlagSeen})
}

// Expunge removes messages for good and returns the UIDs it removed.
func (r *Service) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	gone, err := r.st.Expunge(ctx, mailboxID, uids)
	if err != nil {
		return nil, err
	}
	if len(gone) > 0 {
		r.sync(ctx)
	}
	return gone, nil
}

// Copy copies messages into another mailbox, keeping the flags keep says.
func (r *Service) Copy(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64, keep store.Keep) (store.CopyResult, error) {
	res, err := r.st.Copy(ctx, srcMailboxID, uids, dstMailboxID, keep)
	if err != nil {
		return res, err
	}
	r.sync(ctx)
	r.filed(ctx, srcMailboxID, dstMailboxID, res)
	return res, nil
}

// Move moves messages into another mailbox, keeping their identity within
// the account (RFC 6851) and the flags keep says.
func (r *Service) Move(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64, keep store.Keep) (store.CopyResult, error) {
	res, err := r.st.Move(ctx, srcMailboxID, uids, dstMailboxID, keep)
	if err != nil {
		return res, err
	}
	r.sync(ctx)
	r.filed(ctx, srcMailboxID, dstMailboxID, res)
	return res, nil
}

// CreateMailbox creates a mailbox and any missing parents.
func (r *Service) CreateMailbox(ctx context.Context, accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	mb, err := r.st.CreateMailbox(ctx, accountID, name, use)
	if err != nil {
		return mb, err
	}
	r.sync(ctx)
	return mb, nil
}

// RenameMailbox renames a mailbox and its children (RFC 3501 6.3.5 for INBOX).
func (r *Service) RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error {
	if err := r.st.RenameMailbox(ctx, accountID, oldName, newName); err != nil {
		return err
	}
	r.sync(ctx)
	return nil
}

// DeleteMailbox deletes a mailbox and its messages; sessions that have it
// open learn that it is gone.
func (r *Service) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	if err := r.st.DeleteMailbox(ctx, accountID, name); err != nil {
		return err
	}
	r.sync(ctx)
	return nil
}

// SetSubscribed subscribes or unsubscribes a name.
func (r *Service) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	if err := r.st.SetSubscribed(ctx, accountID, name, subscribed); err != nil {
		return err
	}
	r.sync(ctx)
	return nil
}

// HideFromPOP3 records messages a POP3 client deleted in "keep" mode.
func (r *Service) HideFromPOP3(ctx context.Context, accountID int64, ids []int64) error {
	if err := r.st.HideFromPOP3(ctx, accountID, ids); err != nil {
		return err
	}
	r.sync(ctx)
	return nil
}
