// Package query parses the search language people type into a search box
// (Gmail's, in the part people use) into the mailbox service's search
// criteria, so that the web and, later, JMAP answer the same words the
// same way with the same evaluator as IMAP SEARCH.
//
// The language:
//
//	word              the word in the sender, the subject or the text
//	"two words"       the phrase, as one string, in the same places
//	from:ann          in From (display name or address); also to:, cc:,
//	                  bcc:, subject:; the value may be quoted:
//	                  subject:"two words"
//	has:attachment    the message has an attachment
//	is:unread         also is:read, is:flagged (is:starred)
//	after:2026-01-31  received on that day or later (inclusive)
//	before:2026-02-01 received before that day (exclusive); dates are
//	                  YYYY-MM-DD or YYYY/MM/DD, days in the server's zone
//	in:Archive        search that folder only; in:anywhere searches every
//	                  folder, Junk and Trash included
//	-term             not term: -from:bob, -"two words", -is:read
//	a OR b            either; OR binds tighter than the implicit AND
//	                  between terms, so "x a OR b" is x and (a or b)
//
// Strings match as IMAP SEARCH matches them: case-insensitive substrings.
// Operator names are case-insensitive; OR must be upper case ("or" is a
// word, as in Gmail). A word with a colon that is not an operator
// ("re:lunch", "http://x") is a plain word. Parentheses are not
// supported: they are ordinary characters.
//
// Without in:, a search covers every folder except Junk and Trash, as
// Gmail's does; the caller applies that, Parse only reports In and
// Anywhere.
package query

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mailroom/internal/mailbox/search"
)

// Bounds on a query. Nobody types more; anything beyond is refused before
// any work, so a pasted megabyte costs one length check.
const (
	MaxBytes = 2000
	MaxTerms = 50
)

// Query is a parsed search.
type Query struct {
	// Key is the criteria: {Op: "ALL"} for an empty query.
	Key *search.Key
	// In is the folder named by in: ("" without one). It is the name as
	// typed; resolving it (case, special folders) is the caller's.
	In string
	// Anywhere is in:anywhere: every folder, Junk and Trash included.
	Anywhere bool
}

// Error is a query the user must fix; its text is meant to be shown.
type Error struct {
	Msg string
}

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// token is one whitespace-separated element of a query.
type token struct {
	or     bool   // the OR operator
	neg    bool   // a leading "-"
	op     string // lower-case operator name, "" for a plain word or phrase
	value  string
	quoted bool // value was a quoted string
}

// Parse parses a query. Errors are *Error.
func Parse(s string) (Query, error) {
	if len(s) > MaxBytes {
		return Query{}, errorf("The search is too long (%d bytes at most).", MaxBytes)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	toks, err := tokenize(s)
	if err != nil {
		return Query{}, err
	}
	q := Query{}
	and := &search.Key{Op: "AND"}
	// Each group is terms joined by OR; groups are ANDed.
	for i := 0; i < len(toks); {
		if toks[i].or {
			return Query{}, errorf("OR needs a term on each side.")
		}
		if toks[i].op == "in" && toks[i].value == "" {
			return Query{}, errorf("in: needs a folder name, as in %s", example("in"))
		}
		group := []token{toks[i]}
		i++
		for i < len(toks) && toks[i].or {
			if i+1 >= len(toks) || toks[i+1].or {
				return Query{}, errorf("OR needs a term on each side.")
			}
			group = append(group, toks[i+1])
			i += 2
		}
		var keys []*search.Key
		for _, t := range group {
			if t.op == "in" {
				if len(group) > 1 || t.neg {
					return Query{}, errorf("in: cannot be negated or combined with OR.")
				}
				if q.In != "" || q.Anywhere {
					return Query{}, errorf("Only one in: per search.")
				}
				if strings.EqualFold(t.value, "anywhere") && !t.quoted {
					q.Anywhere = true
				} else {
					q.In = t.value
				}
				continue
			}
			k, err := keyOf(t)
			if err != nil {
				return Query{}, err
			}
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			and.Children = append(and.Children, orOf(keys))
		}
	}
	switch len(and.Children) {
	case 0:
		q.Key = &search.Key{Op: "ALL"}
	case 1:
		q.Key = and.Children[0]
	default:
		q.Key = and
	}
	return q, nil
}

// orOf joins keys with search's two-child OR, nested to the right.
func orOf(keys []*search.Key) *search.Key {
	k := keys[len(keys)-1]
	for i := len(keys) - 2; i >= 0; i-- {
		k = &search.Key{Op: "OR", Children: []*search.Key{keys[i], k}}
	}
	return k
}

// tokenize splits a query into tokens.
func tokenize(s string) ([]token, error) {
	var toks []token
	var err error
	for i := 0; ; {
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i == len(s) {
			return toks, nil
		}
		if len(toks) == MaxTerms {
			return nil, errorf("The search has too many terms (%d at most).", MaxTerms)
		}
		var t token
		if s[i] == '-' {
			t.neg = true
			i++
		}
		start := i
		if i < len(s) && s[i] == '"' {
			v, next, err := quoted(s, i)
			if err != nil {
				return nil, err
			}
			t.value, t.quoted, i = v, true, next
		} else {
			end := wordEnd(s, i)
			word := s[i:end]
			if name, rest, ok := strings.Cut(word, ":"); ok && isOperator(name) {
				t.op = strings.ToLower(name)
				t.value, i = rest, end
				if v := i - len(rest); strings.HasPrefix(rest, `"`) {
					// op:"quoted value", which may hold spaces.
					if t.value, i, err = quoted(s, v); err != nil {
						return nil, err
					}
					t.quoted = true
				}
			} else {
				i = end
				t.value = word
				t.or = word == "OR" && !t.neg
			}
		}
		if i == start {
			return nil, errorf("A “-” must be followed by a term, as in -from:bob.")
		}
		// A quoted string ends a token only where whitespace follows.
		if i < len(s) {
			if r, _ := utf8.DecodeRuneInString(s[i:]); !unicode.IsSpace(r) {
				return nil, errorf("Put a space after the closing quote of %q.", s[start:i])
			}
		}
		toks = append(toks, t)
	}
}

// wordEnd is where the unquoted word starting at i ends: at whitespace.
func wordEnd(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// quoted reads the quoted string starting at s[i] == '"': its content and
// the index after the closing quote. There are no escapes; a phrase with a
// double quote in it cannot be written, as in Gmail.
func quoted(s string, i int) (string, int, error) {
	end := strings.IndexByte(s[i+1:], '"')
	if end < 0 {
		return "", 0, errorf("A quote is not closed: %s", s[i:min(len(s), i+40)])
	}
	return s[i+1 : i+1+end], i + 2 + end, nil
}

func isOperator(name string) bool {
	switch strings.ToLower(name) {
	case "from", "to", "cc", "bcc", "subject", "has", "is", "before", "after", "in":
		return true
	}
	return false
}

// keyOf is the criteria of one term (in: is handled by Parse).
func keyOf(t token) (*search.Key, error) {
	k, err := positive(t)
	if err != nil || !t.neg {
		return k, err
	}
	return &search.Key{Op: "NOT", Children: []*search.Key{k}}, nil
}

func positive(t token) (*search.Key, error) {
	if t.op != "" && t.value == "" {
		return nil, errorf("%s: needs a value, as in %s", t.op, example(t.op))
	}
	switch t.op {
	case "":
		if t.value == "" {
			return nil, errorf("An empty phrase (\"\") finds nothing: put words between the quotes.")
		}
		// A plain word matches the sender, the subject or the text, as
		// the web's search always did; TEXT alone would also find it
		// there, but FROM also matches the parsed address
		// ("<ann (x)@ example.org>" as ann@example.org).
		return &search.Key{Op: "OR", Children: []*search.Key{
			{Op: "FROM", Value: t.value},
			{Op: "OR", Children: []*search.Key{{Op: "SUBJECT", Value: t.value}, {Op: "TEXT", Value: t.value}}},
		}}, nil
	case "from", "to", "cc", "bcc", "subject":
		return &search.Key{Op: strings.ToUpper(t.op), Value: t.value}, nil
	case "has":
		if strings.EqualFold(t.value, "attachment") {
			return &search.Key{Op: "HASATTACHMENT"}, nil
		}
		return nil, errorf("has:%s is not known; has:attachment is.", t.value)
	case "is":
		switch strings.ToLower(t.value) {
		case "unread":
			return &search.Key{Op: "UNSEEN"}, nil
		case "read":
			return &search.Key{Op: "SEEN"}, nil
		case "flagged", "starred":
			return &search.Key{Op: "FLAGGED"}, nil
		}
		return nil, errorf("is:%s is not known; is:unread, is:read and is:flagged are.", t.value)
	case "before", "after":
		d, err := parseDate(t.value)
		if err != nil {
			return nil, errorf("%s:%s is not a date; write it as YYYY-MM-DD, as in %s", t.op, t.value, example(t.op))
		}
		// Gmail's after: includes its day and before: excludes its day:
		// exactly IMAP's SINCE and BEFORE.
		op := "BEFORE"
		if t.op == "after" {
			op = "SINCE"
		}
		return &search.Key{Op: op, Date: d}, nil
	}
	return nil, errorf("%s: is not known.", t.op)
}

// parseDate reads YYYY-MM-DD or YYYY/MM/DD as midnight UTC of that day,
// the form search.Key's dates take (the day is then taken in the
// server's zone).
func parseDate(s string) (time.Time, error) {
	s = strings.ReplaceAll(s, "/", "-")
	d, err := time.Parse("2006-1-2", s)
	if err == nil && d.Year() < 1900 {
		err = fmt.Errorf("year %d out of range", d.Year())
	}
	return d, err
}

func example(op string) string {
	switch op {
	case "before", "after":
		return op + ":2026-01-31"
	case "has":
		return "has:attachment"
	case "is":
		return "is:unread"
	case "in":
		return "in:Archive"
	}
	return op + ":ann"
}
