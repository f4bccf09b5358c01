package delivery

import (
	"context"
	"errors"

	"mailroom/internal/store"
)

// destination is the mailbox a local copy for acct goes to: INBOX, or the
// account's Junk mailbox when a check upstream quarantined the message
// (env.Quarantine: DMARC p=quarantine, a blocklist hit).
func (a *Agent) destination(ctx context.Context, acct store.Account, env Envelope) (int64, error) {
	if len(env.Quarantine) > 0 {
		return a.junk(ctx, acct.ID)
	}
	return a.inbox(ctx, acct.ID)
}

// junk returns the account's Junk mailbox: the one marked \Junk (RFC 6154),
// whatever the user renamed it to, or else one named "Junk", created if
// the user deleted it, so that quarantined mail never lands in INBOX.
func (a *Agent) junk(ctx context.Context, accountID int64) (int64, error) {
	list, err := a.st.MailboxList(ctx, accountID)
	if err != nil {
		return 0, err
	}
	for _, mb := range list {
		if mb.SpecialUse == store.SpecialJunk {
			return mb.ID, nil
		}
	}
	mb, err := a.st.Mailbox(ctx, accountID, "Junk")
	if errors.Is(err, store.ErrNotFound) {
		mb, err = a.st.CreateMailbox(ctx, accountID, "Junk", store.SpecialJunk)
		if errors.Is(err, store.ErrExists) { // created meanwhile
			mb, err = a.st.Mailbox(ctx, accountID, "Junk")
		}
	}
	if err != nil {
		return 0, err
	}
	return mb.ID, nil
}
