package store

import "context"

// Verifier checks a store's own consistency (`mailroom verify`): what its
// rows promise of each other and of the bodies, on a store that may be
// serving at the time. Both backends implement it.
type Verifier interface {
	// Verify runs every check in one consistent snapshot of the store and
	// calls report once per problem found. The error is for a check that
	// could not run (the database unreachable, ctx done), not for a
	// problem found: a store with problems verifies with a nil error.
	Verify(ctx context.Context, report func(Problem)) (VerifySummary, error)
}

// Problem is one inconsistency Verify found.
type Problem struct {
	Check  string // which check: "integrity", "body", "refs", "uid", "modseq", "quota" …
	Detail string // what is wrong, naming the rows or files
}

func (p Problem) String() string { return p.Check + ": " + p.Detail }

// VerifySummary is what Verify looked at.
type VerifySummary struct {
	Accounts  int64
	Mailboxes int64
	Messages  int64
	Contents  int64 // stored bodies (copies share one)
	Blobs     int64 // bodies kept outside the row (files, chunked rows)
	BlobBytes int64
	Uploads   int64 // JMAP uploads waiting to be used (their bodies count in Blobs)
	// Unreferenced are bodies in the body store that no row names: a
	// crash's leftovers (or a body being written right now), which the
	// sweep removes in time. Not a problem; tests use it to see that a
	// failed write left nothing behind.
	Unreferenced int64
}
