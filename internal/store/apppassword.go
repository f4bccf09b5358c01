package store

import (
	"context"
	"time"

	"mailroom/internal/auth"
)

// AppPassword is an extra password of an account, made for one device or
// program and revocable on its own, without changing the main password.
// Its hash never leaves the store except through LookupCredentials.
type AppPassword struct {
	ID       int64
	Name     string // what the user called it ("phone", "laptop Thunderbird")
	Created  time.Time
	LastUsed time.Time // zero: not recorded
}

// Bounds on app passwords. Every login tries the account's hashes in turn
// (see auth.CredentialLookup), so their number bounds what a wrong
// password costs.
const (
	MaxAppPasswords    = 20 // per account
	MaxAppPasswordName = 64 // octets of printable UTF-8
)

// AppPasswordStore keeps accounts' app passwords. LookupCredentials
// returns their hashes after the main one, so they log in wherever a
// password does (PLAIN, LOGIN, POP3 USER/PASS, IMAP LOGIN); SCRAM cannot
// use them, as its stored key is derived from the main password's salt.
type AppPasswordStore interface {
	// CreateAppPassword stores a new app password (only cred.Argon2id is
	// kept). The name is trimmed and must be unique in the account
	// (ErrExists); an account has at most MaxAppPasswords (ErrInvalid).
	CreateAppPassword(ctx context.Context, accountID int64, name string, cred auth.Credentials) (AppPassword, error)
	// AppPasswords lists the account's app passwords, oldest first.
	AppPasswords(ctx context.Context, accountID int64) ([]AppPassword, error)
	// DeleteAppPassword revokes one (ErrNotFound if the account has no app
	// password with that id). It takes effect at the next login: its hash
	// is no longer looked up, so no verification cached for it matches.
	DeleteAppPassword(ctx context.Context, accountID, id int64) error
}

// VacationLog remembers whom each account's vacation notice went to, so
// that a sender gets it at most once per interval (RFC 3834 §2).
type VacationLog interface {
	// ClaimVacationReply reports whether the account may send its notice
	// to sender at now: yes unless it did within interval before now. A
	// yes is recorded as a reply sent at now. Check and record are one
	// transaction, so of concurrent deliveries from one sender only one
	// gets a yes. The sender address is compared case-insensitively.
	ClaimVacationReply(ctx context.Context, accountID int64, sender string, now time.Time, interval time.Duration) (bool, error)
}
