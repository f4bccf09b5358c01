package sieve

import (
	"errors"
	"strings"

	"github.com/migadu/go-sieve/interp"
)

// matcher is the match type and comparator of the tests this package
// adds (spamtest, virustest, hasflag): RFC 5228 2.7 and RFC 5231. The
// tests go-sieve evaluates use its own.
type matcher struct {
	kind       string // "is" (default), "contains", "matches", "value", "count"
	rel        string // for value and count: gt, ge, lt, le, eq, ne
	comparator string // "" means i;ascii-casemap
	set        int    // match types given: more than one is an error
}

func (m *matcher) tags() map[string]interp.SpecTag {
	kind := func(k string) interp.SpecTag {
		return interp.SpecTag{MatchBool: func() { m.kind = k; m.set++ }}
	}
	rel := func(k string) interp.SpecTag {
		return interp.SpecTag{NeedsValue: true, MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) {
			m.kind, m.rel = k, strings.ToLower(v[0])
			m.set++
		}}
	}
	return map[string]interp.SpecTag{
		"is": kind("is"), "contains": kind("contains"), "matches": kind("matches"),
		"value": rel("value"), "count": rel("count"),
		"comparator": {NeedsValue: true, MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) { m.comparator = v[0] }},
	}
}

func (m *matcher) validate(s *Script) error {
	if m.set > 1 {
		return errors.New("more than one match type")
	}
	if m.kind == "" {
		m.kind = "is"
	}
	if m.kind == "value" || m.kind == "count" {
		if !s.lib.RequiresExtension("relational") {
			return errors.New(":" + m.kind + " needs require \"relational\"")
		}
		switch m.rel {
		case "gt", "ge", "lt", "le", "eq", "ne":
		default:
			return errors.New("unknown relational operator " + m.rel)
		}
	}
	switch m.comparator {
	case "", "i;ascii-casemap", "i;octet":
	case "i;ascii-numeric":
		if !s.lib.RequiresExtension("comparator-i;ascii-numeric") {
			return errors.New("the comparator i;ascii-numeric needs require \"comparator-i;ascii-numeric\"")
		}
		if m.kind == "contains" || m.kind == "matches" {
			return errors.New("i;ascii-numeric does not support :" + m.kind)
		}
	default:
		return errors.New("unknown comparator " + m.comparator)
	}
	return nil
}

// match reports whether any value matches any key.
func (m matcher) match(values, keys []string) bool {
	if m.kind == "count" {
		n := itoa(len(values))
		for _, k := range keys {
			if relation(compareNumeric(n, k), m.rel) {
				return true
			}
		}
		return false
	}
	for _, v := range values {
		for _, k := range keys {
			if m.one(v, k) {
				return true
			}
		}
	}
	return false
}

func (m matcher) one(v, k string) bool {
	switch m.comparator {
	case "i;ascii-numeric":
		c := compareNumeric(v, k)
		if m.kind == "value" {
			return relation(c, m.rel)
		}
		return c == 0
	case "i;octet":
	default:
		v, k = strings.ToLower(v), strings.ToLower(k)
	}
	switch m.kind {
	case "contains":
		return strings.Contains(v, k)
	case "matches":
		return wildcard(v, k)
	case "value":
		return relation(strings.Compare(v, k), m.rel)
	}
	return v == k
}

func relation(c int, rel string) bool {
	switch rel {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	}
	return false
}

// compareNumeric is i;ascii-numeric (RFC 4790 9.1): the leading digits
// as a number; a string without them is positive infinity.
func compareNumeric(a, b string) int {
	da, db := leadingDigits(a), leadingDigits(b)
	switch {
	case da == "" && db == "":
		return 0
	case da == "":
		return 1
	case db == "":
		return -1
	}
	da, db = strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
	if len(da) != len(db) {
		if len(da) < len(db) {
			return -1
		}
		return 1
	}
	return strings.Compare(da, db)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// wildcard is :matches (RFC 5228 2.7.1): * any run, ? one character,
// backslash quotes the next. Iterative with one backtrack point, so a
// pattern of many stars costs O(len(s)·len(p)), never exponential time.
func wildcard(s, p string) bool {
	sr, pr := []rune(s), []rune(p)
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(sr) {
		if pi < len(pr) {
			c := pr[pi]
			switch {
			case c == '*':
				star, mark = pi, si
				pi++
				continue
			case c == '?':
				si++
				pi++
				continue
			case c == '\\' && pi+1 < len(pr):
				if pr[pi+1] == sr[si] {
					si++
					pi += 2
					continue
				}
			case c == sr[si]:
				si++
				pi++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		si, pi = mark, star+1
	}
	for pi < len(pr) && pr[pi] == '*' {
		pi++
	}
	return pi == len(pr)
}
