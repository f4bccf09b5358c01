// Package blob declares what the stores need of a place to keep message
// bodies: write one streamed, get back a reference to record in a row,
// read ranges of it, remove it. Bodies are immutable once written, and
// copies of a message share one body (the stores count references), so a
// blob store never updates in place.
//
// Implementations: blobfs (files on the node's disk, for sqlitestore) and
// pgstore's chunked bodies in PostgreSQL (several nodes, no shared disk).
// An S3-compatible store can be a third without any change to the code
// above the store, since references are opaque text with a scheme prefix
// chosen by the implementation ("pg:42"; blobfs's have none for
// compatibility with existing installations).
//
// Durability and the rows that point at a body: a Writer's Commit returns a
// reference only once the bytes are durable, and the caller records it in a
// later transaction. A crash between the two leaves an unreferenced body,
// which each implementation's sweep removes; the opposite order (a row
// pointing at bytes that are not there) can never happen. Writing the body
// inside the caller's transaction instead would keep that transaction open
// for as long as a client takes to send 50 MB, holding a connection and
// PostgreSQL's vacuum horizon; so no implementation does. Removal is the
// mirror image: the rows go first, then the body (blobfs via its trash
// list, pgstore in the same transaction since its bodies are rows too).
package blob

import (
	"context"
	"errors"
	"io"
)

// Store keeps bodies.
type Store interface {
	// Create starts a new body. The Writer must be ended with Commit or
	// Abort.
	Create(ctx context.Context) (Writer, error)
	// Open opens a committed body for reading. A reference that is not
	// one of this store's is ErrBadRef; one that is well-formed but names
	// no (or no longer a) body is ErrNotFound.
	Open(ctx context.Context, ref string) (Reader, error)
	// Remove deletes a body. Removing one that is already gone is not an
	// error (removal is retried after crashes); a malformed reference is
	// ErrBadRef.
	Remove(ctx context.Context, ref string) error
}

// Writer streams one new body in. Implementations hold at most a bounded
// buffer, whatever the body's size.
type Writer interface {
	io.Writer
	// Size is the number of bytes written so far.
	Size() int64
	// Commit finishes the body and returns its reference once the body is
	// durable. On error the body is discarded as by Abort.
	Commit(ctx context.Context) (ref string, err error)
	// Abort discards the unfinished body. It may be called after Commit
	// failed, and does nothing after Commit succeeded.
	Abort()
}

// Reader reads a committed body. ReadAt follows io.ReaderAt: a read that
// reaches past the end returns the bytes there are and io.EOF; a read that
// starts at or after the end returns 0, io.EOF. Concurrent ReadAt calls on
// one Reader are safe.
type Reader interface {
	io.ReaderAt
	Size() int64
	Close() error
}

var (
	// ErrBadRef is a reference this store did not make.
	ErrBadRef = errors.New("blob: malformed reference")
	// ErrNotFound is a well-formed reference to no body: removed, never
	// committed, or damage.
	ErrNotFound = errors.New("blob: not found")
)
