package store

import (
	"context"
	"errors"
	"time"
)

// EmailSubmission is one message sent through JMAP's EmailSubmission/set
// (RFC 8621 §7): what EmailSubmission/get must answer afterwards. A
// submission sent at once went through the delivery agent like any
// submission and this is only the record of it; a held one (FUTURERELEASE,
// RFC 4865) keeps the message to send until SendAt (HoldEmailSubmission).
// Records are kept EmailSubmissionKeep past SendAt and then pruned by the
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
	// UndoStatus is UndoPending, UndoFinal or UndoCanceled.
	UndoStatus string
	// Created and Mod order the account's submission changes: both are
	// set when the submission is stored, Mod again whenever UndoStatus
	// changes, each above every Mod of the account's submissions before
	// (so JMAP /changes can tell created from updated).
	Created, Mod int64
	// Owners are the accounts whose delegation it sent as (a held
	// submission keeps them, to put copies in their Sent at release).
	Owners []int64
	// AuthUser is the login that submitted it (a held submission is
	// delivered with it as the envelope's authenticated user).
	AuthUser string
}

// The undo statuses of RFC 8621 §7.
const (
	UndoPending  = "pending"  // held until SendAt; may still be canceled
	UndoFinal    = "final"    // handed on to the delivery agent
	UndoCanceled = "canceled" // never sent
)

// EmailSubmissionKeep is how long an EmailSubmission is kept after its
// SendAt.
const EmailSubmissionKeep = 7 * 24 * time.Hour

// ErrNotPending: the submission is no longer pending (it was released, is
// being released or was canceled), so it cannot be canceled.
var ErrNotPending = errors.New("submission is not pending")

// EmailSubmissions keeps the records of JMAP submissions, and the held
// ones until they are released.
type EmailSubmissions interface {
	// AddEmailSubmission stores s (ID, Created, Mod and UndoStatus are
	// ignored: it is final) and returns it as stored. The account must
	// exist (ErrNotFound).
	AddEmailSubmission(ctx context.Context, s EmailSubmission) (EmailSubmission, error)
	// HoldEmailSubmission stores s as pending with msg, the exact bytes to
	// send at s.SendAt, durably before it returns. The account must exist
	// (ErrNotFound).
	HoldEmailSubmission(ctx context.Context, s EmailSubmission, msg []byte) (EmailSubmission, error)
	// EmailSubmissions lists the account's submissions by ID.
	EmailSubmissions(ctx context.Context, accountID int64) ([]EmailSubmission, error)
	// NextEmailSubmission returns the earliest SendAt of a pending
	// submission (zero time: none).
	NextEmailSubmission(ctx context.Context) (time.Time, error)
	// ClaimEmailSubmission leases one pending submission due at now (SendAt
	// not after it) and not leased to anyone else to owner until
	// now+lease, and returns it with its message; ok is false if none is
	// due. Several processes or nodes claiming at once get different
	// submissions: each is released by one.
	ClaimEmailSubmission(ctx context.Context, owner string, now time.Time, lease time.Duration) (s EmailSubmission, msg []byte, ok bool, err error)
	// FinishEmailSubmission ends owner's claim of s: it becomes status
	// (UndoFinal: sent; UndoCanceled: refused for good, nothing sent) and
	// its message is dropped. ErrNotPending if owner no longer holds the
	// claim.
	FinishEmailSubmission(ctx context.Context, s EmailSubmission, owner string, status string, now time.Time) error
	// CancelEmailSubmission cancels the account's pending submission id
	// unless it is claimed (a lease not expired at now): ErrNotFound if
	// there is none, ErrNotPending if it was released, is being released
	// or was canceled. The message is dropped.
	CancelEmailSubmission(ctx context.Context, accountID, id int64, now time.Time) error
	// PruneEmailSubmissions removes the submissions, other than pending
	// ones, sent before before and returns how many went.
	PruneEmailSubmissions(ctx context.Context, before time.Time) (int64, error)
}
