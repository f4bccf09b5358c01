package store

import "time"

// Observer is told about the store's work, for the server's metrics
// (internal/metrics implements it). Backends take one in their options;
// without one they observe nothing. Its methods are called on the write
// path and must not block.
type Observer interface {
	// Commit: one write transaction committed durably after elapsed
	// (from its start), holding batch write requests (SQLite's writer
	// batches them; PostgreSQL commits each alone).
	Commit(elapsed time.Duration, batch int)
	// FeedLag: a subscriber took a change from the feed lag after the
	// commit that published it.
	FeedLag(lag time.Duration)
	// BodyWritten and BodyRead: message bytes staged into, and read from,
	// the store.
	BodyWritten(n int64)
	BodyRead(n int64)
}

// QueueStats is what the outbound queue holds, for monitoring.
type QueueStats struct {
	Messages   int       // messages with a recipient left to try
	Recipients int       // recipients left to try
	Oldest     time.Time // when the oldest message was queued; zero if none
}

// NopObserver observes nothing: what a backend uses without an Observer.
type NopObserver struct{}

func (NopObserver) Commit(time.Duration, int) {}
func (NopObserver) FeedLag(time.Duration)     {}
func (NopObserver) BodyWritten(int64)         {}
func (NopObserver) BodyRead(int64)            {}
