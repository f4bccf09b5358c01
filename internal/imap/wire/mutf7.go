package wire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 section 5.1.3), the mailbox name encoding of
// clients that did not enable UTF8=ACCEPT:
//
//   - printable US-ASCII (0x20-0x7e) except "&" represents itself;
//   - "&" is written "&-";
//   - anything else is UTF-16BE in modified BASE64 (RFC 2152 with ","
//     for "/", no padding) between "&" and "-".

const mutf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// errMUTF7 is the single error of DecodeMUTF7: a client sending a
// malformed name gets "invalid mailbox name" whatever the detail.
var errMUTF7 = errors.New("invalid modified UTF-7 mailbox name")

func isMUTF7Direct(c byte) bool { return c >= 0x20 && c <= 0x7e }

// EncodeMUTF7 encodes a UTF-8 mailbox name in modified UTF-7. Invalid UTF-8
// octets are encoded as U+FFFD.
func EncodeMUTF7(s string) string {
	i := 0
	for i < len(s) && isMUTF7Direct(s[i]) && s[i] != '&' {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if isMUTF7Direct(c) {
			if c == '&' {
				b.WriteString("&-")
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		// One shift sequence for the whole run of characters that cannot
		// represent themselves.
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for i < len(s) && !isMUTF7Direct(s[i]) {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			var units [2]uint16
			n := 1
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				units[0], units[1] = uint16(r1), uint16(r2)
				n = 2
			} else {
				units[0] = uint16(r)
			}
			for _, u := range units[:n] {
				acc = acc<<16 | uint32(u)
				bits += 16
				for bits >= 6 {
					bits -= 6
					b.WriteByte(mutf7Alphabet[(acc>>bits)&0x3f])
				}
			}
		}
		if bits > 0 {
			b.WriteByte(mutf7Alphabet[(acc<<(6-bits))&0x3f])
		}
		b.WriteByte('-')
	}
	return b.String()
}

// DecodeMUTF7 decodes a modified UTF-7 mailbox name into UTF-8. It is
// strict: octets outside printable ASCII, an unterminated or empty shift
// sequence, characters outside the BASE64 alphabet, leftover bits that are
// not zero or make a partial UTF-16 unit, unpaired surrogates, and
// printable ASCII encoded in BASE64 (RFC 3501: "MUST NOT") are errors.
// Adjacent shift sequences are accepted: they are valid RFC 2152 and
// decode unambiguously.
func DecodeMUTF7(s string) (string, error) {
	i := 0
	for i < len(s) && isMUTF7Direct(s[i]) && s[i] != '&' {
		i++
	}
	if i == len(s) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if !isMUTF7Direct(c) {
			return "", errMUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", errMUTF7
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		if err := decodeShift(&b, enc); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// decodeShift decodes the BASE64 of one shift sequence into b.
func decodeShift(b *strings.Builder, enc string) error {
	var acc uint32
	bits := 0
	var high rune = -1 // pending high surrogate
	for i := 0; i < len(enc); i++ {
		v := strings.IndexByte(mutf7Alphabet, enc[i])
		if v < 0 {
			return errMUTF7
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits < 16 {
			continue
		}
		bits -= 16
		u := rune(acc>>bits) & 0xffff
		acc &= 1<<bits - 1
		switch {
		case high >= 0:
			if !utf16.IsSurrogate(u) || u < 0xdc00 {
				return errMUTF7
			}
			b.WriteRune(utf16.DecodeRune(high, u))
			high = -1
		case u >= 0xd800 && u < 0xdc00:
			high = u
		case u >= 0xdc00 && u < 0xe000:
			return errMUTF7
		case u < 0x80 && isMUTF7Direct(byte(u)):
			return errMUTF7
		default:
			b.WriteRune(u)
		}
	}
	// Padding: fewer than 6 bits, all zero; and a sequence that produced
	// nothing ("&A-") or ends inside a surrogate pair is malformed.
	if bits >= 6 || acc != 0 || high >= 0 || len(enc)*6 < 16 {
		return errMUTF7
	}
	return nil
}
