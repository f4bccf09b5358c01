package mailapi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitTerms(t *testing.T) {
	got := strings.Join(splitTerms(`  big "quarterly report" 'it\'s' x\y  `), "|")
	if want := `big|quarterly report|it's|x\y`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzSnippet: search text and body text of any shape give a marked
// preview within 255 octets, valid UTF-8, with no markup but <mark>.
func FuzzSnippet(f *testing.F) {
	f.Add(`report "big one"`, "The big one: a <report> & more "+strings.Repeat("é", 300))
	f.Add(`'`, `'`)
	f.Fuzz(func(t *testing.T, query, text string) {
		terms := splitTerms(query)
		m, ok := previewSnippet(text, terms)
		if !ok {
			return
		}
		if len(m) > maxSnippetBytes {
			t.Fatalf("preview of %d octets", len(m))
		}
		if utf8.ValidString(text) && !utf8.ValidString(m) {
			t.Fatalf("invalid UTF-8: %q", m)
		}
		rest := strings.ReplaceAll(strings.ReplaceAll(m, "<mark>", ""), "</mark>", "")
		if strings.ContainsAny(rest, "<>") {
			t.Fatalf("unescaped markup: %q", m)
		}
	})
}
