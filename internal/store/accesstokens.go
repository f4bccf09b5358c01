package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AccessToken is a bearer token an account's owner made for one app or
// script (JMAP's "Authorization: Bearer"), revocable on its own. The store
// keeps only the SHA-256 of its secret: a copy of the database holds
// nothing a client could present. A token is 256 random bits, so a fast
// hash is enough; no password hash's slowness is needed against guessing.
type AccessToken struct {
	ID        int64
	AccountID int64
	Name      string // what the user called it ("calendar sync")
	Created   time.Time
	Expires   time.Time // zero: never
	LastUsed  time.Time // zero: never used
}

// Expired reports whether the token no longer authenticates at now.
func (t AccessToken) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// Bounds and form of access tokens.
const (
	MaxAccessTokens    = 20 // per account, expired ones included until revoked
	MaxAccessTokenName = 64 // octets of printable UTF-8
	// AccessTokenPrefix starts every token, so that a leaked one is
	// recognisable (secret scanners, logs) and a client cannot confuse
	// it with a password.
	AccessTokenPrefix = "mrt_"
	// AccessTokenUseInterval is how stale LastUsed may be: a lookup
	// records its use only if the last record is older, so that a busy
	// client's requests are not all writes.
	AccessTokenUseInterval = time.Minute
)

// accessTokenEncoding is lower-case base32 without padding: no
// characters that URLs, shells or config files treat specially.
var accessTokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// accessTokenLen is the length of a token: the prefix and 32 random
// octets in base32.
var accessTokenLen = len(AccessTokenPrefix) + accessTokenEncoding.EncodedLen(32)

// NewAccessTokenSecret makes a token's secret and the hash the store keeps.
func NewAccessTokenSecret() (secret string, hash []byte) {
	var b [32]byte
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return an error).
	_, _ = rand.Read(b[:])
	secret = AccessTokenPrefix + accessTokenEncoding.EncodeToString(b[:])
	return secret, AccessTokenHash(secret)
}

// AccessTokenHash is the key the store finds a token by.
func AccessTokenHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// WellFormedAccessToken reports whether s could be a token: the prefix and
// the length and alphabet of one. Anything else is not looked up.
func WellFormedAccessToken(s string) bool {
	if len(s) != accessTokenLen || !strings.HasPrefix(s, AccessTokenPrefix) {
		return false
	}
	_, err := accessTokenEncoding.DecodeString(s[len(AccessTokenPrefix):])
	return err == nil
}

// AccessTokenName trims and checks a token's name (ErrInvalid).
func AccessTokenName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxAccessTokenName || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: an access token's name must be 1 to %d octets of UTF-8", ErrInvalid, MaxAccessTokenName)
	}
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
		return "", fmt.Errorf("%w: access token name %q has a character that is not printable", ErrInvalid, name)
	}
	return name, nil
}

// AccessTokens keeps accounts' bearer tokens (see AccessToken). Times are
// kept to the second.
type AccessTokens interface {
	// CreateAccessToken makes a token for the account and returns it with
	// its secret, which is never stored and cannot be read again. The name
	// is trimmed and must be unique in the account (ErrExists); expires
	// is zero (never) or after now (ErrInvalid); an account has at most
	// MaxAccessTokens (ErrInvalid); the account must exist (ErrNotFound).
	CreateAccessToken(ctx context.Context, accountID int64, name string, expires time.Time) (AccessToken, string, error)
	// AccessTokens lists the account's tokens, expired ones too, oldest
	// first.
	AccessTokens(ctx context.Context, accountID int64) ([]AccessToken, error)
	// DeleteAccessToken revokes one (ErrNotFound if the account has no
	// token with that id). The next request with it fails: every request
	// looks its token up. Deleting the account deletes its tokens.
	DeleteAccessToken(ctx context.Context, accountID, id int64) error
	// LookupAccessToken finds the token with this secret and its account.
	// A malformed, unknown or expired token is ErrNotFound. It records the
	// use (LastUsed) if the last record is older than
	// AccessTokenUseInterval; the token returned has it.
	LookupAccessToken(ctx context.Context, secret string) (Account, AccessToken, error)
}
