package delivery

import (
	"context"
	"fmt"

	"mailroom/internal/store"
)

// Sent copies of submitted mail, for the webmail and SMTP submission
// alike: the sender's own Sent, and, for mail sent as or on behalf of
// another account whose delegation.sent_copy is "both", that owner's.

// SentCopy is one Sent mailbox a submitted message is kept in.
type SentCopy struct {
	Target    store.Target
	AccountID int64  // the mailbox's owner
	Owner     string // its address
}

// SentCopyOf returns the copy g's owner asks for in its Sent mailbox
// (ok false: the owner keeps none, or has no Sent mailbox).
func (a *Agent) SentCopyOf(ctx context.Context, g store.Delegation) (SentCopy, bool, error) {
	settings, err := a.st.Settings(ctx, g.OwnerID)
	if err != nil {
		return SentCopy{}, false, fmt.Errorf("delivery: settings of %s: %w", g.Owner, err)
	}
	if settings.String(store.SentCopySetting) != store.SentCopyBoth {
		return SentCopy{}, false, nil
	}
	return a.OwnSentCopy(ctx, g.OwnerID, g.Owner)
}

// OwnSentCopy returns the copy for an account's own Sent mailbox (ok
// false: it has none).
func (a *Agent) OwnSentCopy(ctx context.Context, accountID int64, email string) (SentCopy, bool, error) {
	list, err := a.st.MailboxList(ctx, accountID)
	if err != nil {
		return SentCopy{}, false, fmt.Errorf("delivery: mailboxes of %s: %w", email, err)
	}
	for _, mb := range list {
		if mb.SpecialUse == store.SpecialSent {
			return SentCopy{Target: store.Target{MailboxID: mb.ID, Flags: store.FlagSeen}, AccountID: accountID, Owner: email}, true, nil
		}
	}
	return SentCopy{}, false, nil
}

// KeepSent stores msg in every copy's mailbox, \Seen: one transaction,
// unless an owner is over quota, whose copy is then dropped and the others
// kept (a full shared mailbox must not cost the sender their own copy).
// It returns the copies refused for their owner's quota.
func (a *Agent) KeepSent(ctx context.Context, msg store.Staged, copies []SentCopy) ([]*store.OverQuotaError, error) {
	targets := make([]store.Target, len(copies))
	accounts := make([]int64, len(copies))
	for i, c := range copies {
		targets[i], accounts[i] = c.Target, c.AccountID
	}
	return a.appendAround(ctx, msg, targets, accounts)
}
