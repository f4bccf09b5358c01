package store

import (
	"errors"
	"slices"
	"testing"
)

func TestNormalizeMailboxName(t *testing.T) {
	good := map[string]string{
		"INBOX": "INBOX", "inbox": "INBOX", "Inbox/Sub": "INBOX/Sub", "Work/Projects": "Work/Projects",
		"Entwürfe": "Entwürfe", "a b": "a b", "InboxOther": "InboxOther",
	}
	for in, want := range good {
		got, err := NormalizeMailboxName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeMailboxName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/", "a/", "/a", "a//b", "a*", "a%b", "a\x00b", "a\nb", "\xff"} {
		if got, err := NormalizeMailboxName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeMailboxName(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
	if got := ParentNames("a/b/c"); !slices.Equal(got, []string{"a", "a/b"}) {
		t.Errorf("ParentNames = %v", got)
	}
}

func FuzzNormalizeMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b/c", "inbox/x", "", "//", "ü/ö"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeMailboxName(s)
		if err != nil {
			return
		}
		// Normal forms are fixed points.
		if again, err := NormalizeMailboxName(n); err != nil || again != n {
			t.Fatalf("%q -> %q -> %q, %v", s, n, again, err)
		}
	})
}
