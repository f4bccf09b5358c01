package acl

import (
	"errors"
	"testing"
)

func TestParseAndString(t *testing.T) {
	tests := []struct {
		in, out string
		err     bool
	}{
		{"", "", false},
		{"lrswipkxtea", "lrswipkxteacd", false},
		{"lrs", "lrs", false},
		{"srl", "lrs", false},
		{"llrr", "lr", false},
		// RFC 4314 2.1.1: "d" expands to the members of delete (here x, t, e),
		// "c" to the members of create (here k); both come back when any
		// member is present.
		{"lrswida", "lrswixtead", false},
		{"lrswikda", "lrswikxteacd", false},
		{"t", "td", false},
		{"k", "kc", false},
		{"c", "kc", false},
		// RFC 4314 3.1: unknown rights are BAD, never ignored.
		{"lrQswicda", "", true},
		{"lrqswicda", "", true},
		{"lr0", "", true},
		{"lr ", "", true},
		{"l\xff", "", true},
	}
	for _, tt := range tests {
		r, err := Parse(tt.in)
		if tt.err {
			if !errors.Is(err, ErrUnknownRight) {
				t.Errorf("Parse(%q) = %v, %v; want ErrUnknownRight", tt.in, r, err)
			}
			continue
		}
		if err != nil || r.String() != tt.out {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, r.String(), err, tt.out)
		}
	}
}

func TestModification(t *testing.T) {
	// RFC 4314 3.1's example: Chris lrswi, then "+cda".
	old, _ := Parse("lrswi")
	mod, r, err := ParseModification("+cda")
	if err != nil || mod != Add {
		t.Fatalf("ParseModification(+cda) = %v, %v, %v", mod, r, err)
	}
	if got := mod.Apply(old, r).String(); got != "lrswikxteacd" {
		t.Errorf("lrswi +cda = %q", got)
	}
	mod, r, _ = ParseModification("-wd")
	if got := mod.Apply(All, r).String(); got != "lrsipkac" {
		t.Errorf("all -wd = %q", got)
	}
	mod, r, _ = ParseModification("lr")
	if got := mod.Apply(All, r); got != Lookup|Read {
		t.Errorf("all, replaced by lr = %q", got)
	}
	if _, _, err := ParseModification("+Z"); !errors.Is(err, ErrUnknownRight) {
		t.Errorf("+Z: %v", err)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, out string
		kind    Kind
		err     error
	}{
		{"Kim@Example.ORG", "kim@example.org", KindAccount, nil},
		{"@Example.org", "@example.org", KindDomain, nil},
		{"ANYONE", Anyone, KindAnyone, nil},
		{"authenticated", Authenticated, KindAuthenticated, nil},
		{"-kim@example.org", "", 0, ErrNegativeRights},
		{"", "", 0, ErrBadIdentifier},
		{"kim", "", 0, ErrBadIdentifier},
		{"a@b@c", "", 0, ErrBadIdentifier},
		{"@", "", 0, ErrBadIdentifier},
		{"kim@", "", 0, ErrBadIdentifier},
		{"kim @example.org", "", 0, ErrBadIdentifier},
		{"kim\x00@example.org", "", 0, ErrBadIdentifier},
		{"\xffkim@example.org", "", 0, ErrBadIdentifier},
		{string(make([]byte, 300)), "", 0, ErrBadIdentifier},
	}
	for _, tt := range tests {
		out, kind, err := Canonical(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Canonical(%q) = %q, %v; want %v", tt.in, out, err, tt.err)
			}
			continue
		}
		if err != nil || out != tt.out || kind != tt.kind {
			t.Errorf("Canonical(%q) = %q, %v, %v; want %q, %v", tt.in, out, kind, err, tt.out, tt.kind)
		}
	}
}

func TestRightsOf(t *testing.T) {
	entries := []Entry{
		{"kim@example.org", Lookup | Read},
		{"@example.org", Seen},
		{Authenticated, Write},
		{"lee@example.org", All},
		{"@example.net", Insert},
	}
	got := RightsOf(entries, IdentifiersOf("Kim@Example.org"))
	if want := Lookup | Read | Seen | Write; got != want {
		t.Errorf("kim: %q, want %q", got, want)
	}
	if got := RightsOf(entries, IdentifiersOf("sam@example.com")); got != Write {
		t.Errorf("sam: %q, want w", got)
	}
	if got := RightsOf(nil, IdentifiersOf("sam@example.com")); got != 0 {
		t.Errorf("no entries: %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"lrswipkxtecda", "+cd", "-x", "Q", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, r, err := ParseModification(s)
		if err != nil {
			return
		}
		// What String prints parses back to the same rights.
		again, err := Parse(r.Letters())
		if err != nil || again != r {
			t.Fatalf("%q: %q parses back as %q, %v", s, r.Letters(), again.Letters(), err)
		}
		// With the virtual rights, at least the same rights.
		if again, err = Parse(r.String()); err != nil || !again.Has(r) {
			t.Fatalf("%q: %q parses back as %q, %v", s, r.String(), again.Letters(), err)
		}
	})
}
