package mailimport

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMboxTreePath(t *testing.T) {
	for _, c := range []struct{ name, path string }{
		{"INBOX", "INBOX.mbox"},
		{"Lists/Dev", filepath.Join("Lists", "Dev.mbox")},
		{"Projekte/Entwürfe", filepath.Join("Projekte", "Entwürfe.mbox")},
		{"..", "%2E..mbox"},
		{".hidden/x", filepath.Join("%2Ehidden", "x.mbox")},
		{"100%", "100%25.mbox"},
		{`back\slash`, "back%5Cslash.mbox"},
		{"a.mbox", "a.mbox.mbox"},
	} {
		p, err := MboxTreePath(c.name)
		if err != nil || p != c.path {
			t.Errorf("MboxTreePath(%q) = %q, %v; want %q", c.name, p, err, c.path)
		}
		if back := mboxTreeFolder(p); back != c.name {
			t.Errorf("mboxTreeFolder(%q) = %q, want %q", p, back, c.name)
		}
	}
	if _, err := MboxTreePath("a//b"); err == nil {
		t.Error("an empty level was accepted")
	}
	if got := mboxTreeFolder("inbox.mbox"); got != "INBOX" {
		t.Errorf("inbox.mbox is %q", got)
	}
	if got := unescapeLevel("50%"); got != "50%" {
		t.Errorf("a lone %% became %q", got)
	}
}

// FuzzMboxTreePath: every valid mailbox name maps to a relative path of
// plain file names that maps back to the same name.
func FuzzMboxTreePath(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "..", "%41", ".x/.y", "a.mbox/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || strings.ContainsRune(name, 0) || strings.EqualFold(name, "INBOX") && name != "INBOX" {
			return
		}
		p, err := MboxTreePath(name)
		if err != nil {
			return
		}
		for _, l := range strings.Split(p, string(filepath.Separator)) {
			if l == "" || l == "." || l == ".." || strings.HasPrefix(l, ".") {
				t.Fatalf("%q: path %q has level %q", name, p, l)
			}
		}
		if filepath.IsAbs(p) || filepath.Clean(p) != p {
			t.Fatalf("%q: path %q is not clean and relative", name, p)
		}
		if back := mboxTreeFolder(p); back != name {
			t.Fatalf("%q -> %q -> %q", name, p, back)
		}
	})
}
