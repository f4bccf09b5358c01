package msgfmt

import (
	"strings"
	"unicode/utf8"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
)

// paramList writes body-fld-param: "(" name SP value *(SP name SP value) ")"
// or NIL. defaultCharset appends charset=us-ascii when ps has no charset,
// for text/* parts (RFC 2045 5.2; Dovecot and Cyrus do the same, and
// clients rely on a charset being there).
func paramList(e *wire.Encoder, ps []mime.Param, defaultCharset bool) {
	if defaultCharset {
		for _, p := range ps {
			if strings.EqualFold(p.Name, "charset") {
				defaultCharset = false
				break
			}
		}
	}
	if len(ps) == 0 && !defaultCharset {
		e.NIL()
		return
	}
	e.BeginList()
	for i, p := range ps {
		if i > 0 {
			e.SP()
		}
		param(e, p)
	}
	if defaultCharset {
		if len(ps) > 0 {
			e.SP()
		}
		e.Raw(`"charset" "us-ascii"`)
	}
	e.EndList()
}

// param writes one name/value pair. mime stores values decoded (RFC 2231
// joined, converted to UTF-8); a value this client cannot receive as a
// quoted string is sent re-encoded in RFC 2231 extended form instead of as
// a literal holding raw 8-bit or control octets.
func param(e *wire.Encoder, p mime.Param) {
	name := cleanText(p.Name)
	if sendable(p.Value, e.UTF8()) {
		e.String(name).SP().String(p.Value)
		return
	}
	e.String(name + "*").SP().String(rfc2231(p.Value))
}

// sendable reports whether v can go as it is: no CR, LF or NUL, and 8-bit
// octets only as valid UTF-8 to a UTF8=ACCEPT client.
func sendable(v string, utf8ok bool) bool {
	high := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0 || c == '\r' || c == '\n':
			return false
		case c >= 0x80:
			high = true
		}
	}
	return !high || utf8ok && utf8.ValidString(v)
}

// rfc2231 encodes v as an RFC 2231 extended value: charset”%XX... The
// bytes are UTF-8 when mime could decode them; otherwise their charset is
// not known, which RFC 1428's "unknown-8bit" says.
func rfc2231(v string) string {
	const hex = "0123456789ABCDEF"
	cs := "utf-8"
	if !utf8.ValidString(v) {
		cs = "unknown-8bit"
	}
	var b strings.Builder
	b.Grow(len(cs) + 2 + len(v)*3)
	b.WriteString(cs)
	b.WriteString("''")
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// isAttrChar reports RFC 2231 attribute-char: US-ASCII except SPACE, CTLs,
// "*", "'", "%" and the RFC 2045 tspecials.
func isAttrChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune(`*'%()<>@,;:\"/[]?=`, rune(c))
}
