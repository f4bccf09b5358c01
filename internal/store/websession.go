package store

import (
	"context"
	"crypto/sha256"
	"time"
)

// WebSessionHashSize is the length of a web session's key: the SHA-256 of
// the token in the browser's cookie.
const WebSessionHashSize = sha256.Size

// MaxWebSessions bounds the web sessions one account keeps: creating one
// more ends the one seen least recently. A script that logs in over and
// over cannot grow the table without bound.
const MaxWebSessions = 100

// WebSession is one logged-in browser of the webmail. The store keeps only
// the hash of the cookie's token: a copy of the database (a backup, a
// replica) holds nothing a browser could present.
type WebSession struct {
	TokenHash []byte // WebSessionHashSize octets
	AccountID int64
	Email     string // the account's address (read from the account)
	// Admin is whether the account was an administrator at login. It only
	// decides whether pages show the admin link: the admin pages read the
	// account's setting on every request.
	Admin    bool
	Created  time.Time
	LastSeen time.Time
}

// WebSessions keeps the webmail's login sessions, so that they survive a
// restart and every node behind a load balancer sees the same ones. The
// store only keeps times; the web decides when a session has expired.
// Times are kept to the second.
type WebSessions interface {
	// CreateWebSession stores a new session (Email is ignored). The
	// account must exist (ErrNotFound); a hash already stored is
	// ErrExists, a hash of the wrong length ErrInvalid. The account's
	// sessions beyond MaxWebSessions, least recently seen first, end.
	CreateWebSession(ctx context.Context, s WebSession) error
	// WebSession returns the session with this token hash (ErrNotFound).
	WebSession(ctx context.Context, tokenHash []byte) (WebSession, error)
	// TouchWebSession records that the session was used at lastSeen. It
	// never moves LastSeen back, and a session that is gone is no error.
	TouchWebSession(ctx context.Context, tokenHash []byte, lastSeen time.Time) error
	// DeleteWebSession ends one session; one that is gone is no error.
	DeleteWebSession(ctx context.Context, tokenHash []byte) error
	// DeleteAccountWebSessions ends every session of the account except
	// the one with hash keep (nil: keep none). Deleting an account ends
	// its sessions too.
	DeleteAccountWebSessions(ctx context.Context, accountID int64, keep []byte) error
	// DeleteExpiredWebSessions ends the sessions last seen before
	// idleBefore or created before createdBefore, and returns how many.
	DeleteExpiredWebSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)
}
