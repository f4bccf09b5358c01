package mime

import (
	"slices"
	"strings"
	"testing"
)

func TestMessageIDs(t *testing.T) {
	tests := []struct {
		field string
		want  []string
	}{
		{"", nil},
		{"<a@x>", []string{"a@x"}},
		{"<a@x> <b@y>\r\n\t<c@z>", []string{"a@x", "b@y", "c@z"}},
		{`<a@x> (Joe's message) "phrase" <b@y>`, []string{"a@x", "b@y"}},
		{`<"01KF8"@x.com>`, []string{"01KF8@x.com"}},
		{"<a\r\n @x>", []string{"a@x"}},
		{"<junk <a@x>", []string{"a@x"}},
		{"<noat> <@x> <a@> <a@x", nil},
		{"<" + strings.Repeat("a", 1000) + "@x> <b@y>", []string{"b@y"}},
	}
	for _, tt := range tests {
		if got := slices.Collect(MessageIDs(tt.field)); !slices.Equal(got, tt.want) {
			t.Errorf("MessageIDs(%q) = %q, want %q", tt.field, got, tt.want)
		}
	}
	// Stopping early stops the scan.
	for id := range MessageIDs("<a@x> <b@y>") {
		if id != "a@x" {
			t.Fatalf("first id %q", id)
		}
		break
	}
}
