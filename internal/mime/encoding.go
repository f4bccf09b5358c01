package mime

import (
	"strings"
	"unicode/utf8"
)

// DecodeHeader decodes the RFC 2047 encoded words of a header value into
// UTF-8. It is best effort and never fails: words that cannot be decoded
// (malformed, unknown charset) are kept as they are, whitespace between
// two adjacent encoded words is dropped (RFC 2047 section 6.2), and invalid
// UTF-8 in the result is replaced by U+FFFD.
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return validUTF8(s)
	}
	var b strings.Builder
	prevWord := false // the last thing written was a decoded word
	for len(s) > 0 {
		i := strings.Index(s, "=?")
		if i < 0 {
			b.WriteString(s)
			break
		}
		n := encodedWordLen(s[i:])
		if n == 0 {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			prevWord = false
			continue
		}
		dec, ok := decodeWord(s[i : i+n])
		if !ok {
			b.WriteString(s[:i+n])
			s = s[i+n:]
			prevWord = false
			continue
		}
		if !(prevWord && isLWSP(s[:i])) {
			b.WriteString(s[:i])
		}
		b.WriteString(dec)
		s = s[i+n:]
		prevWord = true
	}
	return validUTF8(b.String())
}

// encodedWordLen returns the length of the encoded word "=?cs?e?text?=" at
// the start of s, or 0 if there is none. The text may not contain
// whitespace or '?', as RFC 2047 requires; this keeps a stray "=?" from
// swallowing the rest of the header.
func encodedWordLen(s string) int {
	// charset
	i := 2
	for i < len(s) && s[i] != '?' {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return 0
		}
		i++
	}
	if i == 2 || i+2 >= len(s) || s[i] != '?' {
		return 0
	}
	switch s[i+1] {
	case 'b', 'B', 'q', 'Q':
	default:
		return 0
	}
	if s[i+2] != '?' {
		return 0
	}
	for j := i + 3; j < len(s); j++ {
		switch s[j] {
		case '?':
			if j+1 < len(s) && s[j+1] == '=' {
				return j + 2
			}
			return 0
		case ' ', '\t', '\r', '\n':
			return 0
		}
	}
	return 0
}

func isLWSP(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// decodeWord decodes the encoded word w, "=?charset?e?text?=" as
// encodedWordLen found it, through the transfer decoder and charset table
// that bodies use, so that a header and a body in the same charset read the
// same. ok is false for an unknown charset, and for B text holding octets
// outside the base64 alphabet, which is more likely not an encoded word at
// all than a damaged one; a missing padding and malformed Q escapes are
// tolerated as in bodies.
func decodeWord(w string) (dec string, ok bool) {
	w = w[2 : len(w)-2]
	q := strings.IndexByte(w, '?')
	cs, enc, text := w[:q], w[q+1], w[q+3:]
	if !KnownCharset(cs) {
		return "", false
	}
	var raw []byte
	switch enc {
	case 'b', 'B':
		for i := 0; i < len(text); i++ {
			if b64Values[text[i]] == 0xFF && text[i] != '=' {
				return "", false
			}
		}
		raw = AppendDecoded(nil, []byte(text), "base64")
	default:
		// Q is quoted-printable with "_" for a space (RFC 2047 4.2); it
		// has no blanks or line ends, so "=20" keeps a trailing space
		// that quoted-printable would strip.
		raw = AppendDecoded(nil, []byte(strings.ReplaceAll(text, "_", "=20")), "quoted-printable")
	}
	out, _ := toUTF8(cs, raw)
	return string(out), true
}
