package web

import (
	"strings"
	"testing"

	"mailroom/internal/mime"
)

// memBody is an in-memory store.Body.
type memBody struct{ *strings.Reader }

func (memBody) Close() error { return nil }

// The webmail reads parts through package mime's decoder, as IMAP and
// SEARCH do; it used the standard library's, which lost what followed a
// base64 padding or a missing one and read "ascii" as Windows-1252.
func TestPartText(t *testing.T) {
	for _, c := range []struct{ head, body, want string }{
		{"Content-Transfer-Encoding: base64", "SGVs\r\nbG8=IHdvcmxk", "Hello world"},
		{"Content-Transfer-Encoding: base64", "SGVsbG8", "Hello"},
		{"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=iso-8859-1", "K=F6ln =80 =\r\nx=ZZ", "Köln € x=ZZ"},
		{"Content-Type: text/plain; charset=ascii", "h\xc3\xa9", "hé"},
		{"Content-Type: text/plain; charset=x-no-such", "h\xc3\xa9 \xff", "hé \uFFFD"},
		{"Content-Transfer-Encoding: x-uuencode", "begin 644 f", "begin 644 f"},
	} {
		raw := c.head + "\r\n\r\n" + c.body
		msg, err := mime.Scan(strings.NewReader(raw), mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got, cut := partText(memBody{strings.NewReader(raw)}, msg.Root)
		if got != c.want || cut {
			t.Errorf("%q: %q (cut %v), want %q", raw, got, cut, c.want)
		}
	}
}
