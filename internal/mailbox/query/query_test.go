package query

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/mailbox/search"
)

// sexp renders criteria compactly for comparison: (AND a b), FROM"x",
// BEFORE:2026-01-31.
func sexp(k *search.Key) string {
	switch k.Op {
	case "AND", "OR", "NOT":
		parts := []string{k.Op}
		for _, c := range k.Children {
			parts = append(parts, sexp(c))
		}
		return "(" + strings.Join(parts, " ") + ")"
	case "BEFORE", "SINCE":
		return k.Op + ":" + k.Date.Format("2006-01-02")
	case "FROM", "TO", "CC", "BCC", "SUBJECT", "TEXT":
		return fmt.Sprintf("%s%q", k.Op, k.Value)
	}
	return k.Op
}

// word is what a plain word or phrase compiles to.
func word(w string) string {
	return fmt.Sprintf(`(OR FROM%q (OR SUBJECT%q TEXT%q))`, w, w, w)
}

func TestParse(t *testing.T) {
	cases := []struct {
		in, want string
		folder   string
		anywhere bool
	}{
		{"", "ALL", "", false},
		{"   \t ", "ALL", "", false},
		{"lunch", word("lunch"), "", false},
		{"lunch friday", "(AND " + word("lunch") + " " + word("friday") + ")", "", false},
		{`"two words"`, word("two words"), "", false},
		{"日本語のメール", word("日本語のメール"), "", false},
		{"re:lunch", word("re:lunch"), "", false},
		{"http://example.org/x", word("http://example.org/x"), "", false},
		{`say"hi"`, word(`say"hi"`), "", false},
		{"or", word("or"), "", false},
		{"from:bob", `FROM"bob"`, "", false},
		{"FROM:Bob@Example.org", `FROM"Bob@Example.org"`, "", false},
		{"to:ann", `TO"ann"`, "", false},
		{"cc:carol", `CC"carol"`, "", false},
		{"bcc:dave", `BCC"dave"`, "", false},
		{"subject:lunch", `SUBJECT"lunch"`, "", false},
		{`subject:"two words"`, `SUBJECT"two words"`, "", false},
		{`from:"Bob Smith" lunch`, `(AND FROM"Bob Smith" ` + word("lunch") + ")", "", false},
		{"has:attachment", "HASATTACHMENT", "", false},
		{"has:Attachment", "HASATTACHMENT", "", false},
		{"is:unread", "UNSEEN", "", false},
		{"is:read", "SEEN", "", false},
		{"is:flagged", "FLAGGED", "", false},
		{"is:starred", "FLAGGED", "", false},
		{"IS:UNREAD", "UNSEEN", "", false},
		{"before:2026-02-01", "BEFORE:2026-02-01", "", false},
		{"after:2026/1/31", "SINCE:2026-01-31", "", false},
		{"after:2026-01-31 before:2026-02-02", "(AND SINCE:2026-01-31 BEFORE:2026-02-02)", "", false},
		{"-from:bob", `(NOT FROM"bob")`, "", false},
		{`-"two words"`, "(NOT " + word("two words") + ")", "", false},
		{"-is:read", "(NOT SEEN)", "", false},
		{"-lunch", "(NOT " + word("lunch") + ")", "", false},
		{"from:ann OR from:bob", `(OR FROM"ann" FROM"bob")`, "", false},
		{"from:ann OR from:bob OR from:carol", `(OR FROM"ann" (OR FROM"bob" FROM"carol"))`, "", false},
		{"lunch from:ann OR -from:bob", "(AND " + word("lunch") + ` (OR FROM"ann" (NOT FROM"bob")))`, "", false},
		{"-OR", "(NOT " + word("OR") + ")", "", false},
		{"in:Archive", "ALL", "Archive", false},
		{"in:junk lunch", word("lunch"), "junk", false},
		{`in:"My Folder" is:unread`, "UNSEEN", "My Folder", false},
		{"in:anywhere", "ALL", "", true},
		{"in:ANYWHERE from:bob", `FROM"bob"`, "", true},
		{`in:"anywhere"`, "ALL", "anywhere", false},
	}
	for _, c := range cases {
		q, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := sexp(q.Key); got != c.want || q.In != c.folder || q.Anywhere != c.anywhere {
			t.Errorf("Parse(%q) = %s in %q anywhere %v\nwant        %s in %q anywhere %v", c.in, got, q.In, q.Anywhere, c.want, c.folder, c.anywhere)
		}
		// Every result compiles with the evaluator IMAP uses.
		if _, err := search.Compile(q.Key, search.Context{}); err != nil {
			t.Errorf("Parse(%q): Compile: %v", c.in, err)
		}
	}
}

// TestParseDates: the dates are days, given as midnight UTC as
// search.Key wants them.
func TestParseDates(t *testing.T) {
	q, err := Parse("before:2026-03-29")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC); !q.Key.Date.Equal(want) || q.Key.Date.Location() != time.UTC {
		t.Fatalf("date %v, want %v", q.Key.Date, want)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`"two words`, "quote is not closed"},
		{`subject:"two words`, "quote is not closed"},
		{`"a"b`, "space after the closing quote"},
		{"is:urgent", "is:urgent is not known"},
		{"is:", "is: needs a value"},
		{"has:pdf", "has:pdf is not known"},
		{"before:2026-13-01", "not a date"},
		{"after:yesterday", "not a date"},
		{"before:2026-02-30", "not a date"},
		{"after:0001-01-01", "not a date"},
		{"from:", "from: needs a value"},
		{`from:""`, "from: needs a value"},
		{`""`, "empty phrase"},
		{"OR lunch", "OR needs a term"},
		{"lunch OR", "OR needs a term"},
		{"a OR OR b", "OR needs a term"},
		{"- lunch", "must be followed by a term"},
		{"-", "must be followed by a term"},
		{"-in:Junk", "cannot be negated"},
		{"in:Junk OR in:Trash", "cannot be negated or combined with OR"},
		{"in:Junk in:Trash", "Only one in:"},
		{"in:anywhere in:Trash", "Only one in:"},
		{"in:", "in: needs a folder name"},
		{strings.Repeat("x", MaxBytes+1), "too long"},
		{strings.Repeat("a ", MaxTerms+1), "too many terms"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var qe *Error
		if !errors.As(err, &qe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%.60q) = %v, want an *Error with %q", c.in, err, c.want)
		}
	}
}

// TestParseBounds: a megabyte, or a hundred thousand terms, are refused
// at once, not parsed.
func TestParseBounds(t *testing.T) {
	for _, in := range []string{strings.Repeat("a", 1<<20), strings.Repeat("w ", 100000), strings.Repeat(`"`, 1<<20)} {
		start := time.Now()
		if _, err := Parse(in); err == nil {
			t.Fatalf("a %d-byte query was accepted", len(in))
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("refusing a %d-byte query took %v", len(in), d)
		}
	}
	// The longest accepted query, every term an OR, still compiles.
	in := strings.TrimSuffix(strings.Repeat("from:x OR ", MaxTerms/2), " OR ")
	q, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := search.Compile(q.Key, search.Context{}); err != nil {
		t.Fatal(err)
	}
}
