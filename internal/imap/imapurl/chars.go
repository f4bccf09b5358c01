package imapurl

import (
	"strings"
	"unicode/utf8"
)

// Character classes of RFC 5092 section 11 (and RFC 3986).

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// sub-delims-sh = "!" / "$" / "'" / "(" / ")" / "*" / "+" / ","
func isSubDelimSh(c byte) bool { return strings.IndexByte("!$'()*+,", c) >= 0 }

// sub-delims of RFC 3986, for the host.
func isSubDelim(c byte) bool { return isSubDelimSh(c) || c == '&' || c == ';' || c == '=' }

// achar = uchar / "&" / "=" / "~"; uchar = unreserved / pct-encoded /
// sub-delims-sh. ("%" is handled by decode.)
func isAChar(c byte) bool { return isUnreserved(c) || isSubDelimSh(c) || c == '&' || c == '=' }

// bchar = achar / ":" / "@" / "/"
func isBChar(c byte) bool { return isAChar(c) || c == ':' || c == '@' || c == '/' }

// mechanism = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")
func isMechChar(c byte) bool { return isAlpha(c) || isDigit(c) || c == '-' || c == '.' }

func allChars(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// decode undoes percent-encoding of a component whose literal characters
// must satisfy ok; the result must be UTF-8 (RFC 5092 section 3.2 names
// mailboxes in UTF-8) without control characters.
func decode(s string, ok func(byte) bool, pos int) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		for i := 0; i < len(s); i++ {
			if !ok(s[i]) {
				return "", errAt(pos+i, "character %q must be percent-encoded", s[i])
			}
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", errAt(pos+i, "bad percent-encoding")
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case ok(c):
			b = append(b, c)
		default:
			return "", errAt(pos+i, "character %q must be percent-encoded", c)
		}
	}
	if !utf8.Valid(b) {
		return "", errAt(pos, "percent-encoded octets are not UTF-8")
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return "", errAt(pos, "control character in a URL component")
		}
	}
	return string(b), nil
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// encode percent-encodes what ok does not allow literally.
func encode(s string, ok func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ok(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
