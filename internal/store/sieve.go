package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sieve scripts (RFC 5228) are the account's own mail filters: ManageSieve
// (RFC 5804) and the webmail's rules editor write them, delivery runs the
// active one. An account has any number of scripts up to
// MaxSieveScripts, each up to MaxSieveScriptSize octets, and at most one
// of them active.
const (
	// MaxSieveScriptSize bounds one script, in octets (Dovecot's default
	// sieve_max_script_size is the same).
	MaxSieveScriptSize = 1 << 20
	// MaxSieveScripts bounds how many scripts one account keeps.
	MaxSieveScripts = 100
	// MaxSieveScriptName bounds a script's name, in octets.
	MaxSieveScriptName = 255
)

// ErrSieveActive is returned when deleting the active script: RFC 5804
// 2.10 asks the client to deactivate it first.
var ErrSieveActive = errors.New("the script is active")

// ErrSieveTooBig is returned for a script over MaxSieveScriptSize.
var ErrSieveTooBig = errors.New("the script is too large")

// ErrSieveTooMany is returned when storing a new script would exceed
// MaxSieveScripts.
var ErrSieveTooMany = errors.New("too many scripts")

// SieveScript is one of an account's scripts.
type SieveScript struct {
	Name    string
	Content string // empty in lists (SieveScripts)
	Active  bool
	// Updated is when the content was last stored (PutSieveScript): a
	// rename or an activation leaves it.
	Updated time.Time
}

// SieveScripts keeps the accounts' Sieve scripts. Every change publishes
// EventAccountChanged for the account, so caches of the active script
// (delivery's) drop it, in this process and in the others.
type SieveScripts interface {
	// SieveScripts lists the account's scripts by name, without their
	// content.
	SieveScripts(ctx context.Context, accountID int64) ([]SieveScript, error)
	// SieveScript returns one script with its content, ErrNotFound if
	// there is none of that name.
	SieveScript(ctx context.Context, accountID int64, name string) (SieveScript, error)
	// ActiveSieveScript returns the active script with its content,
	// ErrNotFound if none is active.
	ActiveSieveScript(ctx context.Context, accountID int64) (SieveScript, error)
	// PutSieveScript creates the script or replaces its content (an
	// active script stays active). The caller has checked that the
	// content compiles; the store checks the name (not empty, at most
	// MaxSieveScriptName octets, no control characters), the size
	// (MaxSieveScriptSize, else ErrSieveTooBig) and the count
	// (ErrSieveTooMany).
	PutSieveScript(ctx context.Context, accountID int64, name, content string) error
	// RenameSieveScript renames a script: ErrNotFound if old does not
	// exist, ErrExists if new does.
	RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error
	// DeleteSieveScript deletes a script: ErrNotFound if it does not
	// exist, ErrSieveActive if it is the active one.
	DeleteSieveScript(ctx context.Context, accountID int64, name string) error
	// SetActiveSieveScript makes the named script the active one (and
	// no other), or, with name "", leaves none active. ErrNotFound if
	// there is no such script.
	SetActiveSieveScript(ctx context.Context, accountID int64, name string) error

	// SieveDuplicateSeen reports whether the duplicate-tracking id
	// (RFC 7352) was recorded for the account and has not expired at now.
	SieveDuplicateSeen(ctx context.Context, accountID int64, id string, now time.Time) (bool, error)
	// RecordSieveDuplicate records the id until expires, replacing an
	// earlier record of it. Expired records are removed along the way.
	RecordSieveDuplicate(ctx context.Context, accountID int64, id string, expires time.Time) error
}

// CheckSieveScriptName checks a script's name as RFC 5804 2.1 has it:
// not empty, at most MaxSieveScriptName octets of UTF-8, and no control
// characters (Cc: NUL, CR, LF and the rest of U+0000–U+001F,
// U+007F–U+009F) nor line or paragraph separators (Zl U+2028, Zp U+2029),
// which would break the protocol's lines and the webmail's lists. Names
// are compared as they are: case matters, and no normalization is made.
func CheckSieveScriptName(name string) error {
	if name == "" || len(name) > MaxSieveScriptName || !utf8.ValidString(name) {
		return fmt.Errorf("%w: a script's name must be 1 to %d octets of UTF-8", ErrInvalid, MaxSieveScriptName)
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) }) >= 0 {
		return fmt.Errorf("%w: script name %q has a control character", ErrInvalid, name)
	}
	return nil
}

// CheckSieveScript checks what the store itself asks of a script's
// content: at most MaxSieveScriptSize octets (else ErrSieveTooBig), UTF-8
// without NUL. A compiled script is both (RFC 5228 2.2 and its grammar,
// which has no place for NUL), but the store does not rely on its caller
// for what PostgreSQL's text would refuse and SQLite's would keep: both
// backends refuse the same content.
func CheckSieveScript(content string) error {
	if len(content) > MaxSieveScriptSize {
		return fmt.Errorf("%w: %d octets, at most %d", ErrSieveTooBig, len(content), MaxSieveScriptSize)
	}
	if !utf8.ValidString(content) || strings.IndexByte(content, 0) >= 0 {
		return fmt.Errorf("%w: a script must be UTF-8 without NUL", ErrInvalid)
	}
	return nil
}

// SieveDuplicateKey is what the backends store for a duplicate-tracking
// id: its SHA-256. An id is whatever the script made of the message (its
// Message-ID, a :uniqueid, with the :handle), of any length and any
// octets; the digest keeps every row and index entry small (PostgreSQL's
// btree refuses entries over about 2.7 kB) and the same on both backends.
func SieveDuplicateKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}
