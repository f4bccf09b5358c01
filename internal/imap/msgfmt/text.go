package msgfmt

import (
	"strings"

	"mailroom/internal/imap/wire"
)

// cleanText drops CR, LF and NUL from a header-derived value. The values
// are unfolded header text, so a CR or LF left in them is a stray bare line
// end (removing it completes the unfolding, as Dovecot does); a NUL cannot
// be sent in a quoted string or a literal. The common case allocates
// nothing.
func cleanText(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	// Byte-wise, not strings.Map: raw 8-bit text need not be UTF-8 and
	// must pass unchanged.
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\r' && c != '\n' && c != 0 {
			b = append(b, c)
		}
	}
	return string(b)
}

// nstring writes s as an nstring: NIL when empty.
func nstring(e *wire.Encoder, s string) {
	e.NString(cleanText(s))
}

// str writes s as a string, "" when empty: for fields the grammar does not
// let be NIL.
func str(e *wire.Encoder, s string) {
	e.String(cleanText(s))
}
