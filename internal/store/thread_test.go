package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"mailroom/internal/mime"
)

func TestMessageIDs(t *testing.T) {
	tests := []struct {
		field string
		keep  int
		want  []string
	}{
		{"<a@x>", 1, []string{"a@x"}},
		{"  <a@x>  <b@y>\r\n\t<c@z>", 5, []string{"a@x", "b@y", "c@z"}},
		{"<a@x> <b@y> <c@z> <d@w> <e@v>", 3, []string{"a@x", "d@w", "e@v"}},
		{"<a@x> <b@y> <c@z>", 1, []string{"a@x"}},
		{"<a@x> <b@y> <c@z>", 2, []string{"a@x", "c@z"}},
		{`"Joe" <a@x> (Joe's message),, <b@y>`, 5, []string{"a@x", "b@y"}},
		{"a@x b@y, c@z junk", 5, []string{"a@x", "b@y", "c@z"}},
		{"<a@x", 5, []string{"a@x"}},
		{"<junk <a@x> <<b@y>>", 5, []string{"a@x", "b@y"}},
		{"<a\r\n @x>", 5, []string{"a@x"}},
		{"<> < > <<>>", 5, nil},
		{"", 5, nil},
		{"<a@x>", 0, nil},
		{"<" + strings.Repeat("z", 999) + "> <a@x>", 5, []string{"a@x"}},
	}
	for _, tc := range tests {
		if got := MessageIDs(tc.field, tc.keep); !slices.Equal(got, tc.want) {
			t.Errorf("MessageIDs(%q, %d) = %q, want %q", tc.field, tc.keep, got, tc.want)
		}
	}
}

// TestMessageIDsLong: 10,000 ids cost one pass and keep ThreadRefsKept.
func TestMessageIDsLong(t *testing.T) {
	var b strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&b, "<r%d@x> ", i)
	}
	got := MessageIDs(b.String(), ThreadRefsKept)
	if len(got) != ThreadRefsKept || got[0] != "r0@x" || got[1] != fmt.Sprintf("r%d@x", 10_000-ThreadRefsKept+1) || got[len(got)-1] != "r9999@x" {
		t.Fatalf("kept %d ids: %q", len(got), got)
	}
	allocs := testing.AllocsPerRun(5, func() { MessageIDs(b.String(), ThreadRefsKept) })
	if allocs > 10 {
		t.Fatalf("%v allocations for 10,000 ids: the ids between first and last must not be kept", allocs)
	}
}

func TestThreadKeysOf(t *testing.T) {
	env := &mime.Envelope{MessageID: "<m@x>", InReplyTo: "<p@x>", References: "<r@x> <p@x>", DecodedSubject: "Re: [list] Hello  World"}
	k := ThreadKeysOf(env)
	if len(k.IDs) != 3 || !slices.IsSorted(k.IDs) {
		t.Fatalf("keys %v: want 3 distinct sorted ids", k.IDs)
	}
	if k.Subject != ThreadSubjectHash("hello world") || k.Subject == ThreadSubjectHash("hello") {
		t.Fatal("subject hash is not that of the folded base subject")
	}
	if none := ThreadKeysOf(nil); len(none.IDs) != 0 {
		t.Fatal("nil envelope has keys")
	}
	if c := (ThreadKeys{Subject: 1}).OrContent(7); len(c.IDs) != 1 || c.Subject != 1 || c.IDs[0] == (ThreadKeys{}).OrContent(8).IDs[0] {
		t.Fatalf("content key %+v", c)
	}
	if k2 := k.OrContent(7); !slices.Equal(k2.IDs, k.IDs) {
		t.Fatal("OrContent replaced real ids")
	}
}

func FuzzMessageIDs(f *testing.F) {
	for _, s := range []string{"<a@x>", "<a@x> <b@y>", `"Joe" <a@x> (c),, <b`, "a@x b@y", "<<>>", "<a\r\n @x>", ""} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, field string, keep int) {
		keep = keep%40 + 1
		if keep < 1 {
			keep = -keep + 1
		}
		got := MessageIDs(field, keep)
		if len(got) > keep {
			t.Fatalf("%d ids kept, at most %d", len(got), keep)
		}
		for _, id := range got {
			if id == "" || len(id) > maxMessageIDLen || strings.ContainsAny(id, "<> \t\r\n") && strings.ContainsAny(field, "<") {
				t.Fatalf("bad id %q from %q", id, field)
			}
			if utf8.ValidString(field) && !utf8.ValidString(id) {
				t.Fatalf("invalid UTF-8 id %q from valid %q", id, field)
			}
		}
	})
}
