package store

import (
	"context"
	"time"
)

// EmailSubmission is one message sent through JMAP's EmailSubmission/set
// (RFC 8621 §7): what EmailSubmission/get must answer afterwards. The
// message itself went through the delivery agent like any submission; this
// is only the record of it, kept EmailSubmissionKeep and then pruned by the
// backends' maintenance (RFC 8621 §7 lets a server forget them).
type EmailSubmission struct {
	ID         int64 // assigned by AddEmailSubmission, increasing per store
	AccountID  int64
	IdentityID string // the JMAP Identity id it was sent with
	EmailID    int64  // the per-account message ID (MessageMeta.ID)
	ThreadID   int64
	MailFrom   string
	RcptTo     []string
	SendAt     time.Time // second precision
}

// EmailSubmissionKeep is how long an EmailSubmission is kept.
const EmailSubmissionKeep = 7 * 24 * time.Hour

// EmailSubmissions keeps the records of JMAP submissions.
type EmailSubmissions interface {
	// AddEmailSubmission stores s (ID is ignored) and returns it with its
	// ID. The account must exist (ErrNotFound).
	AddEmailSubmission(ctx context.Context, s EmailSubmission) (EmailSubmission, error)
	// EmailSubmissions lists the account's submissions by ID.
	EmailSubmissions(ctx context.Context, accountID int64) ([]EmailSubmission, error)
	// PruneEmailSubmissions removes the submissions sent before before and
	// returns how many went.
	PruneEmailSubmissions(ctx context.Context, before time.Time) (int64, error)
}
