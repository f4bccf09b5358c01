package htmlmail

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzCharsets = []string{"", "utf-8", "iso-8859-1", "windows-1252", "utf-16le", "shift_jis", "utf-7", "bogus"}

// FuzzSanitize asserts the safety invariants (see problems) on arbitrary
// input, in every charset and both image modes. The only acceptable error
// is ErrMalformed (nesting beyond the parser's limit); in particular the
// internal verification must never fail.
//
//	go test -run=^$ -fuzz=FuzzSanitize ./internal/htmlmail/
func FuzzSanitize(f *testing.F) {
	for _, v := range xssVectors {
		f.Add(v.payload, false, uint8(0))
	}
	f.Add(newsletter, true, uint8(1))
	f.Add(remoteMessage, false, uint8(1))
	f.Add("caf\xe9 <b>\x93x\x94</b>", false, uint8(3))
	f.Add("\xff\xfe<\x00b\x00>\x00", false, uint8(4))
	f.Add(newsletter, false, uint8(0x81))

	s := NewSanitizer()
	f.Fuzz(func(t *testing.T, in string, allowRemote bool, cs uint8) {
		// The high bit of cs keeps the sheets, so the seed corpus
		// stays valid.
		opts := Options{AllowRemoteImages: allowRemote, CIDURL: testCIDURL, Styles: cs&0x80 != 0}
		res, err := s.Sanitize(strings.NewReader(in), fuzzCharsets[int(cs)%len(fuzzCharsets)], opts)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error: %v\n  in: %q", err, in)
			}
			return
		}
		for _, p := range append(problems(res.HTML, allowRemote), cssProblems(res.CSS, allowRemote)...) {
			t.Errorf("%s\n  in:  %q\n  out: %q", p, in, res.HTML)
		}
		if !utf8.ValidString(res.HTML) {
			t.Errorf("output not UTF-8: %q", res.HTML)
		}
		if allowRemote && res.RemoteBlocked != 0 {
			t.Errorf("RemoteBlocked = %d with remote images allowed", res.RemoteBlocked)
		}
	})
}

// FuzzPlainToHTML asserts that plain text output holds only the expected
// markup and, where the input has no quote markers to strip, that the text
// a reader sees is exactly the input.
func FuzzPlainToHTML(f *testing.F) {
	f.Add("hello <b>world</b> https://example.com/ javascript:alert(1)", false)
	f.Add("> quoted \n> more\n>> deeper\nreply\n-- \nsig", true)
	f.Add(" stuffed\nmailto:a@b.example?x=\"y\"", true)
	f.Add("a\x00b\xff&amp;", false)
	f.Fuzz(func(t *testing.T, in string, flowed bool) {
		out := PlainToHTML(in, flowed)
		for _, p := range plainProblems(out) {
			t.Errorf("%s\n  in:  %q\n  out: %q", p, in, out)
		}
		if flowed || strings.Contains(in, ">") || strings.ContainsAny(in, "\r\x00") || !utf8.ValidString(in) {
			return
		}
		if got, want := textContent(out), strings.TrimSuffix(in, "\n"); got != want {
			t.Errorf("text changed\n  in:  %q\n  got: %q", want, got)
		}
	})
}
