package delivery

import (
	"context"
	"errors"
	"slices"

	"mailroom/internal/junk"
	"mailroom/internal/junkfilter"
	"mailroom/internal/store"
)

// JunkFilter scores a message for the accounts it is delivered to
// (internal/junkfilter implements it).
type JunkFilter interface {
	// Classify returns one verdict per account, in order.
	Classify(ctx context.Context, msg store.Staged, accountIDs []int64) ([]junk.Verdict, error)
	// Threshold is the score from which a message is junk.
	Threshold() float64
}

// classify scores an inbound message for the accounts of steps. It
// returns a verdict per account, none where it was not scored. A filter
// that fails costs the score, never the message: the copies go to INBOX
// unscored (junk mail in INBOX is better than mail refused or lost).
func (a *Agent) classify(ctx context.Context, msg store.Staged, env Envelope, steps []step) map[int64]*junk.Verdict {
	out := map[int64]*junk.Verdict{}
	if a.cfg.Junk == nil || !env.Inbound || len(steps) == 0 {
		return out
	}
	var ids []int64
	for _, s := range steps {
		if !slices.Contains(ids, s.acct.ID) {
			ids = append(ids, s.acct.ID)
		}
	}
	vs, err := a.cfg.Junk.Classify(ctx, msg, ids)
	if err != nil || len(vs) != len(ids) {
		a.log.Error("junk filter failed: delivering unscored", "err", err)
		return out
	}
	for i := range vs {
		out[ids[i]] = &vs[i]
	}
	return out
}

// destination is the mailbox a local copy for acct goes to, and the
// header field that records why (junkfilter.Record, nil if there is
// nothing to say): INBOX, or the account's Junk mailbox when a check
// upstream quarantined the message (env.Quarantine: DMARC p=quarantine, a
// blocklist hit) or the junk filter's verdict v (nil if not scored) says
// it is junk.
// junkReason is why it is Junk: "quarantine", "filter", or "" for INBOX.
func (a *Agent) destination(ctx context.Context, acct store.Account, env Envelope, v *junk.Verdict) (id int64, field []byte, junkReason string, err error) {
	rec := junkfilter.Record{Quarantine: env.Quarantine, Junk: len(env.Quarantine) > 0}
	// A verdict without a single clue (a filter that has learned nothing
	// yet) says nothing worth recording.
	if v != nil && (v.Clues > 0 || v.Junk) {
		rec.Scored, rec.Score, rec.Threshold, rec.Clues = true, v.Score, a.cfg.Junk.Threshold(), v.Reasons
		rec.Junk = rec.Junk || v.Junk
	}
	if rec.Scored || rec.Junk {
		field = rec.Field()
	}
	switch {
	case len(env.Quarantine) > 0:
		junkReason = "quarantine"
	case rec.Junk:
		junkReason = "filter"
	}
	if rec.Junk {
		id, err = a.junk(ctx, acct.ID)
	} else {
		id, err = a.inbox(ctx, acct.ID)
	}
	return id, field, junkReason, err
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
