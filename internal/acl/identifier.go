package acl

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The identifiers an access control list can name (RFC 4314 2): an
// account by its address ("kim@example.org"), every account of a domain
// ("@example.org"), and the two special identifiers.
const (
	Anyone        = "anyone"        // every user, logged in or not (RFC 4314)
	Authenticated = "authenticated" // every logged-in user
)

// MaxIdentifierLength bounds an identifier, in octets.
const MaxIdentifierLength = 255

// Kind is what an identifier names.
type Kind int

// The kinds of identifiers.
const (
	KindAccount Kind = iota
	KindDomain
	KindAnyone
	KindAuthenticated
)

// ErrBadIdentifier is an identifier that cannot name anything: empty, too
// long, not UTF-8, or with control characters (RFC 4314 3: BAD).
var ErrBadIdentifier = errors.New("invalid identifier")

// ErrNegativeRights is an identifier starting with "-": a negative right,
// which RFC 4314 lets a server not support, and this one does not.
var ErrNegativeRights = errors.New("negative rights are not supported")

// Canonical checks an identifier and returns its stored form and kind:
// the special identifiers and addresses in lower case. Whether the
// account or domain exists is for the caller to check.
func Canonical(id string) (string, Kind, error) {
	switch {
	case id == "":
		return "", 0, fmt.Errorf("%w: empty", ErrBadIdentifier)
	case len(id) > MaxIdentifierLength:
		return "", 0, fmt.Errorf("%w: longer than %d octets", ErrBadIdentifier, MaxIdentifierLength)
	case !utf8.ValidString(id):
		return "", 0, fmt.Errorf("%w: not UTF-8", ErrBadIdentifier)
	case strings.HasPrefix(id, "-"):
		return "", 0, ErrNegativeRights
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", 0, fmt.Errorf("%w: %q contains %q", ErrBadIdentifier, id, r)
		}
	}
	lower := strings.ToLower(id)
	switch {
	case lower == Anyone:
		return Anyone, KindAnyone, nil
	case lower == Authenticated:
		return Authenticated, KindAuthenticated, nil
	case strings.HasPrefix(lower, "@") && len(lower) > 1 && !strings.Contains(lower[1:], "@"):
		return lower, KindDomain, nil
	case strings.Count(lower, "@") == 1 && !strings.HasSuffix(lower, "@"):
		return lower, KindAccount, nil
	}
	return "", 0, fmt.Errorf("%w: %q is not an address, @domain, %q or %q", ErrBadIdentifier, id, Anyone, Authenticated)
}

// IdentifiersOf returns the identifiers that name the account with this
// address: itself, its domain, "authenticated" and "anyone". A user's
// rights are the union of the rights of these identifiers' entries.
func IdentifiersOf(address string) []string {
	a := strings.ToLower(address)
	ids := []string{a}
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		ids = append(ids, a[at:])
	}
	return append(ids, Authenticated, Anyone)
}

// Entry is one line of an access control list.
type Entry struct {
	Identifier string
	Rights     Rights
}

// RightsOf returns the union of the rights the entries give to any of ids
// (RFC 4314 leaves the combination to the server; a union is what users
// expect: sharing with a person and with their domain adds up).
func RightsOf(entries []Entry, ids []string) Rights {
	var r Rights
	for _, e := range entries {
		for _, id := range ids {
			if e.Identifier == id {
				r |= e.Rights
			}
		}
	}
	return r
}
