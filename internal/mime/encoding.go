package mime

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	stdmime "mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// maxDecodedText bounds the output of a charset conversion of header text;
// inputs are bounded by MaxHeaderBytes already, this is a second fence.
const maxDecodedText = 1 << 20

// wordDecoder decodes single RFC 2047 encoded words. It holds no mutable
// state, so one value can serve concurrent scans.
var wordDecoder = stdmime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	// RFC 2231 section 5 lets an encoded word name a language:
	// "=?utf-8*en?q?...?=".
	if i := strings.IndexByte(cs, '*'); i >= 0 {
		cs = cs[:i]
	}
	if isUTF8Charset(cs) {
		return r, nil
	}
	cr, err := charset.Reader(cs, r)
	if err != nil {
		return nil, fmt.Errorf("mime: charset %q: %w", cs, err)
	}
	return cr, nil
}

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
		dec, err := wordDecoder.Decode(s[i : i+n])
		if err != nil {
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

// isUTF8Charset reports charsets whose bytes can be used as UTF-8 as is.
func isUTF8Charset(cs string) bool {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968":
		return true
	}
	return false
}

// toUTF8 converts b from charset cs to UTF-8. ok is false when the charset
// is unknown (b is returned unchanged). The result may still hold invalid
// UTF-8 for a UTF-8 charset with bad bytes.
func toUTF8(cs string, b []byte) ([]byte, bool) {
	if isUTF8Charset(cs) {
		return b, true
	}
	r, err := charset.Reader(strings.ToLower(strings.TrimSpace(cs)), bytes.NewReader(b))
	if err != nil {
		return b, false
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecodedText))
	if err != nil && len(out) == 0 {
		return b, false
	}
	return out, true
}

// decodeTransfer undoes a Content-Transfer-Encoding leniently: the input may
// be cut anywhere (the preview keeps only a prefix of the part) or be
// malformed; whatever decodes is returned.
func decodeTransfer(enc string, b []byte) []byte {
	switch enc {
	case "base64":
		return decodeBase64Lenient(b)
	case "quoted-printable":
		return decodeQPLenient(b)
	}
	return b
}

// decodeBase64Lenient drops every byte outside the base64 alphabet,
// decodes complete quanta and ignores a trailing partial one.
func decodeBase64Lenient(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			// padding ends a quantum; anything after it starts a new one
			// (concatenated base64 blocks exist in the wild)
			for len(clean)%4 != 0 {
				clean = append(clean, '=')
			}
		}
	}
	clean = clean[:len(clean)/4*4]
	out := make([]byte, 0, len(clean)/4*3)
	for i := 0; i+4 <= len(clean); i += 4 {
		var q [3]byte
		n, err := base64.StdEncoding.Decode(q[:], clean[i:i+4])
		if err != nil {
			continue
		}
		out = append(out, q[:n]...)
	}
	return out
}

// decodeQPLenient decodes quoted-printable, keeping malformed escapes
// literally and joining soft line breaks.
func decodeQPLenient(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			i++
			continue
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			i += 2
			continue
		}
		if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
			continue
		}
		// soft break followed by trailing whitespace, or garbage
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) && (b[j] == '\n' || (b[j] == '\r' && j+1 < len(b) && b[j+1] == '\n')) {
			if b[j] == '\r' {
				j++
			}
			i = j
			continue
		}
		if i+2 >= len(b) {
			break // cut in the middle of an escape
		}
		out = append(out, c)
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
