package store

import (
	"context"
	"time"
)

// Queue is the outbound queue's durable state: messages for other domains,
// one row per recipient so that each is delivered, retried and bounced on
// its own. Workers claim due recipients with a lease, so that several
// processes (or nodes sharing a database) never send the same recipient at
// the same time; a worker that dies loses its lease and another picks the
// recipients up once it expires.
type Queue interface {
	// Enqueue records a staged message for remote recipients in one
	// transaction: when it returns nil the message is durable.
	Enqueue(ctx context.Context, msg Staged, e QueueEntry) (int64, error)
	// ClaimQueued leases up to limit due recipients (next attempt at or
	// before now, not leased) to owner until now+lease, grouped by message
	// and destination domain.
	ClaimQueued(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]QueueBatch, error)
	// FinishQueued records attempt outcomes. Recipients marked Done leave
	// the queue; the others get their new schedule. A message without
	// recipients left is removed with its body.
	FinishQueued(ctx context.Context, owner string, outcomes []QueueOutcome) error
	// QueuedMessages lists the queue, oldest first.
	QueuedMessages(ctx context.Context) ([]QueuedMessage, error)
	// QueuedMessage returns one queued message with its recipients.
	QueuedMessage(ctx context.Context, id int64) (QueuedMessage, error)
	// OpenQueued opens a queued message's bytes (header prefix included).
	OpenQueued(ctx context.Context, id int64) (Body, error)
	// RetryQueued makes the recipients of message id (0: of every message)
	// due now. It returns how many recipients it rescheduled.
	RetryQueued(ctx context.Context, id int64, now time.Time) (int, error)
	// DropQueued removes a message from the queue and returns what it was.
	DropQueued(ctx context.Context, id int64) (QueuedMessage, error)
	// RenewQueued extends owner's leases of recipients ids to until: a
	// worker renews what it has claimed, every fraction of a short lease,
	// for as long as it is sending, so that a worker that dies holds its
	// recipients for at most one lease. It returns the IDs renewed; one
	// missing was finished or dropped, or its lease was taken over after
	// it expired.
	RenewQueued(ctx context.Context, owner string, ids []int64, until time.Time) ([]int64, error)
	// ReleaseQueued ends owner's leases: a restarted worker has nothing in
	// flight, so its recipients need not wait for the leases to expire.
	ReleaseQueued(ctx context.Context, owner string) error
	// NextQueued returns when the earliest recipient is due (zero time:
	// the queue is empty).
	NextQueued(ctx context.Context) (time.Time, error)
	// QueueStats counts the queue, for the metrics a scrape asks for: one
	// cheap aggregate query.
	QueueStats(ctx context.Context) (QueueStats, error)
}

// QueueEntry describes a message being queued.
type QueueEntry struct {
	From     string // reverse path; "" is the null sender (bounces)
	EnvID    string // DSN ENVID
	Ret      string // DSN RET: FULL, HDRS or ""
	UTF8     bool   // needs SMTPUTF8
	EightBit bool   // has 8-bit content
	// HeaderPrefix is prepended to the stored body when sent (DKIM
	// signatures, the Received line): CRLF-terminated header lines.
	HeaderPrefix []byte
	Recipients   []QueueRecipient
}

// QueueRecipient is one remote recipient of a queued message.
type QueueRecipient struct {
	Address string   // as it will be sent in RCPT TO
	Domain  string   // destination domain, lower case: recipients are batched by it
	Notify  []string // DSN NOTIFY values
	ORcpt   string   // DSN ORCPT
}

// QueuedMessage is a message in the queue.
type QueuedMessage struct {
	ID         int64
	From       string
	EnvID      string
	Ret        string
	UTF8       bool
	EightBit   bool
	Size       int64 // with the header prefix
	Created    time.Time
	Recipients []QueuedRecipient
}

// QueuedRecipient is a recipient still in the queue, with its history.
type QueuedRecipient struct {
	ID int64
	QueueRecipient
	Attempts    int
	NextAttempt time.Time
	LastAttempt time.Time // zero: never tried
	LastError   string    // the last temporary failure, for operators and DSNs
	LeasedUntil time.Time // zero: not being sent
	Warned      bool      // a delay warning was sent
}

// QueueBatch is claimed work: recipients of one message in one domain.
type QueueBatch struct {
	Message    QueuedMessage // Recipients: only the claimed ones
	Domain     string
	LeaseUntil time.Time
}

// QueueOutcome is what became of one claimed recipient.
type QueueOutcome struct {
	RecipientID int64
	// Done removes the recipient: delivered, failed for good and bounced,
	// or expired.
	Done bool
	// Otherwise the recipient is retried at NextAttempt.
	NextAttempt time.Time
	LastError   string
	// Warned records that a delay warning went out.
	Warned bool
}
