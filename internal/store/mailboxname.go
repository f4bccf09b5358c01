package store

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMailboxNameLength bounds a mailbox's full name in bytes.
const MaxMailboxNameLength = 1000

// MaxMailboxDepth bounds the levels of the hierarchy.
const MaxMailboxDepth = 32

// NormalizeMailboxName validates a mailbox name (UTF-8, levels separated by
// Delimiter) and returns its canonical form: "INBOX" in any case as the first
// level is spelled "INBOX", as IMAP requires (RFC 9051 5.1).
func NormalizeMailboxName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty mailbox name", ErrInvalid)
	}
	if len(name) > MaxMailboxNameLength {
		return "", fmt.Errorf("%w: mailbox name longer than %d bytes", ErrInvalid, MaxMailboxNameLength)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: mailbox name is not UTF-8", ErrInvalid)
	}
	levels := strings.Split(name, Delimiter)
	if len(levels) > MaxMailboxDepth {
		return "", fmt.Errorf("%w: mailbox name has more than %d levels", ErrInvalid, MaxMailboxDepth)
	}
	for _, l := range levels {
		if l == "" {
			return "", fmt.Errorf("%w: mailbox name %q has an empty level", ErrInvalid, name)
		}
	}
	for _, r := range name {
		// * and % are LIST wildcards; control characters break clients.
		if r == '*' || r == '%' || unicode.IsControl(r) || r == utf8.RuneError {
			return "", fmt.Errorf("%w: mailbox name %q contains %q", ErrInvalid, name, r)
		}
	}
	if strings.EqualFold(levels[0], "INBOX") {
		levels[0] = "INBOX"
	}
	return strings.Join(levels, Delimiter), nil
}

// ParentNames returns the names of the levels above name, top first.
func ParentNames(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if strings.HasPrefix(name[i:], Delimiter) {
			out = append(out, name[:i])
		}
	}
	return out
}
