package store

import (
	"fmt"
	"slices"
	"strings"
)

// Flags is the set of IMAP system flags of a message. Keywords ($Forwarded,
// $Junk, user labels) are kept separately as strings.
type Flags uint8

// The IMAP system flags (RFC 9051 2.3.2). \Recent is not stored: IMAP4rev2
// dropped it and IMAP4rev1 sessions derive it themselves.
const (
	FlagSeen Flags = 1 << iota
	FlagAnswered
	FlagFlagged
	FlagDeleted
	FlagDraft
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagSeen, `\Seen`},
	{FlagAnswered, `\Answered`},
	{FlagFlagged, `\Flagged`},
	{FlagDeleted, `\Deleted`},
	{FlagDraft, `\Draft`},
}

// Names returns the IMAP names of the flags in f.
func (f Flags) Names() []string {
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (f Flags) String() string { return strings.Join(f.Names(), " ") }

// ParseFlag returns the system flag for an IMAP flag name (case-insensitive),
// or ok=false if name is a keyword.
func ParseFlag(name string) (f Flags, ok bool) {
	for _, n := range flagNames {
		if strings.EqualFold(n.name, name) {
			return n.f, true
		}
	}
	return 0, false
}

// ValidKeyword reports whether s can be stored as a keyword: an IMAP atom
// (RFC 9051 flag-keyword) of at most 100 bytes, not starting with a backslash.
func ValidKeyword(s string) bool {
	if s == "" || len(s) > 100 || s[0] == '\\' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// NormalizeKeywords checks, de-duplicates (case-insensitively, keeping the
// first spelling) and sorts keywords.
func NormalizeKeywords(kw []string) ([]string, error) {
	if len(kw) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(kw))
	for _, k := range kw {
		if !ValidKeyword(k) {
			return nil, fmt.Errorf("%w: keyword %q", ErrInvalid, k)
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, k) }) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

// KeywordInterner shares the keyword slices that many messages carry when
// a backend reads them from their stored form (space-separated); a nil
// KeywordInterner shares nothing.
type KeywordInterner map[string][]string

// Split returns the keywords of s.
func (ki KeywordInterner) Split(s string) []string {
	if s == "" {
		return nil
	}
	if ki == nil {
		return strings.Fields(s)
	}
	if kw, ok := ki[s]; ok {
		return kw
	}
	kw := strings.Fields(s)
	ki[s] = kw
	return kw
}
