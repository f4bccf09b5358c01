package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Several Mailroom nodes may serve one store. What a single process kept
// to itself (a certificate in the data directory, a lock in memory) has to
// live in the store for every node to see it: SharedFiles and Leases are
// the two general shapes of that state.

// MaxSharedFileSize bounds one shared file. They are small by design
// (certificates, keys, cached policies, counters), read whole into memory.
const MaxSharedFileSize = 1 << 20

// MaxSharedNameLen bounds the name of a shared file or a lease, in octets.
const MaxSharedNameLen = 255

// SharedFiles are small named files every node of an installation shares:
// certificates and their keys, DKIM keys, cached MTA-STS policies,
// counters. Names are free-form UTF-8 ("acme/mail.example.org.crt"); a
// "/" carries no meaning but makes ListFiles' prefixes natural.
type SharedFiles interface {
	// ReadFile returns the file's contents (ErrNotFound if there is none).
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// WriteFile creates or replaces the file; it is durable when
	// WriteFile returns nil.
	WriteFile(ctx context.Context, name string, data []byte) error
	// DeleteFile removes the file; one that is not there is no error.
	DeleteFile(ctx context.Context, name string) error
	// ListFiles returns the names that start with prefix, sorted
	// bytewise.
	ListFiles(ctx context.Context, prefix string) ([]string, error)
	// UpdateFile is an atomic read-modify-write: fn gets the current
	// contents (exists false: there is no such file) and returns the new
	// ones and whether to write them; an error from fn aborts the update
	// and is returned. No other WriteFile, DeleteFile or UpdateFile of
	// the name, on any node, comes between fn's read and its write, so
	// two nodes incrementing a counter never lose an increment, and
	// "generate a certificate unless there is one" generates one once.
	//
	// fn may be called more than once (a backend may retry a transaction
	// that conflicted), so it must do nothing but compute its result; and
	// it runs while the update holds a lock, so it must be quick:
	// generate a key before, not inside, fn.
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) (data []byte, write bool, err error)) error
}

// Leases are named expiring locks: a POP3 maildrop lock, "one node runs
// this job". A lease is held by an owner (a token unique to its holder)
// until a time; a holder that dies simply lets it expire. Expiry is judged
// by the clock of the node asking, so nodes' clocks should agree to well
// within a lease's length (NTP does).
type Leases interface {
	// AcquireLease takes the lease name for owner until the given time,
	// if it is free, expired, or already owner's (then it is extended or
	// shortened to until). It reports whether owner now holds it.
	AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error)
	// ReleaseLease gives the lease up if owner holds it; otherwise (it
	// expired and someone else took it, say) it does nothing.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// CheckSharedName validates the name of a shared file, a lease, or a
// lease's owner: non-empty, at most MaxSharedNameLen octets of UTF-8
// without NUL (which PostgreSQL's text cannot hold).
func CheckSharedName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalid)
	case len(name) > MaxSharedNameLen:
		return fmt.Errorf("%w: name of %d octets, more than %d", ErrInvalid, len(name), MaxSharedNameLen)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: name %q is not UTF-8 text", ErrInvalid, name)
	}
	return nil
}

// CheckSharedFile validates a shared file's contents.
func CheckSharedFile(data []byte) error {
	if len(data) > MaxSharedFileSize {
		return fmt.Errorf("%w: shared file of %d octets, more than %d", ErrInvalid, len(data), MaxSharedFileSize)
	}
	return nil
}
