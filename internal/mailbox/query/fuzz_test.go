package query

import (
	"errors"
	"testing"

	"mailroom/internal/mailbox/search"
)

// FuzzParse: any input parses into criteria the evaluator accepts, or
// into an *Error; never a panic or a tree deeper than its terms.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "lunch", `"two words"`, `subject:"two words" -from:bob`, "a OR b OR -c",
		"in:Junk is:unread has:attachment", "after:2026/1/31 before:2026-02-01",
		`"unterminated`, "OR", "- x", "in:anywhere", "日本語 OR Ünïcödé", "\xff\xfe",
		`from:"a"b`, "is:urgent",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Msg == "" {
				t.Fatalf("Parse(%q): error %v is not a user message", s, err)
			}
			return
		}
		if q.Key == nil {
			t.Fatalf("Parse(%q): nil key", s)
		}
		if _, err := search.Compile(q.Key, search.Context{}); err != nil {
			t.Fatalf("Parse(%q): Compile: %v", s, err)
		}
	})
}
