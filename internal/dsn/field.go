package dsn

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// softLine is the line length that header fields are folded to where
	// their words allow it (RFC 5322 §2.1.1 "SHOULD be no more than 78").
	softLine = 78
	// maxToken is the longest run of octets without a space that is put on
	// one line. Longer runs are broken, so that a line never exceeds the
	// 998 octets of RFC 5322 §2.1.1, whatever the input.
	maxToken = 900
)

// writeField writes a header field, or a DSN field (which has the same
// syntax, RFC 3464 §2.1.1), to b: the name, a colon and the words of the
// value, folded before a word that would take the line past 78 octets.
// Each of lines after the first starts a new line of the field, which is
// how the lines of a multi-line reply are kept apart; unfolded, they are
// joined with a space.
//
// Values must have been cleaned (see clean): a CR or LF in them would end
// the field. Runs of white space in a value become one space.
func writeField(b *bytes.Buffer, name string, lines ...string) {
	b.WriteString(name)
	b.WriteByte(':')
	col := len(name) + 1
	empty := true // no word written yet: the first goes on the name's line
	for i, line := range lines {
		for j, word := range strings.Fields(line) {
			newLine := i > 0 && j == 0
			for word != "" {
				tok := word
				if len(tok) > maxToken {
					tok = cutUTF8(tok, maxToken)
				}
				word = word[len(tok):]
				if !empty && (newLine || col+1+len(tok) > softLine) {
					b.WriteString("\r\n")
					col = 0
				}
				b.WriteByte(' ')
				b.WriteString(tok)
				col += 1 + len(tok)
				empty = false
				// The rest of a broken token starts a line of its own.
				newLine = true
			}
		}
	}
	b.WriteString("\r\n")
}

// cutUTF8 returns the longest prefix of s of at most n octets, and at least
// one character, that does not split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if i == 0 {
		_, size := utf8.DecodeRuneInString(s)
		i = size
	}
	return s[:i]
}

// clean returns s made safe for a header or DSN field: every control
// character (CR and LF among them) and every run of white space becomes
// one space, and leading and trailing space is dropped. Octets that are
// not UTF-8 become U+FFFD. If utf8OK is false, every character outside
// ASCII becomes "?", as fields of message/delivery-status are ASCII (RFC
// 3464 §2.1.1).
func clean(s string, utf8OK bool) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		switch {
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
		case !utf8OK:
			b.WriteByte('?')
		default:
			// A range over invalid UTF-8 yields RuneError, which is
			// written as U+FFFD.
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanCut cleans s as clean does and cuts it to at most max octets. It
// is for values with a limit of their own that only a broken or hostile
// input exceeds; the rest of such a value says nothing useful.
func cleanCut(s string, utf8OK bool, max int) string {
	s = clean(s, utf8OK)
	if len(s) > max {
		s = strings.TrimSpace(cutUTF8(s, max))
	}
	return s
}

// cleanText cleans s for people: like clean, keeping UTF-8, and cut to
// about max octets.
func cleanText(s string, max int) string {
	s = clean(s, true)
	if len(s) > max {
		s = cutUTF8(s, max) + " [...]"
	}
	return s
}

// cleanLines splits s into its lines at CRLF, CR or LF, cleans each with
// UTF-8 kept, drops the empty ones and stops after about max octets.
func cleanLines(s string, max int) []string {
	var lines []string
	n := 0
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }) {
		l = clean(l, true)
		if l == "" {
			continue
		}
		if n+len(l) > max {
			lines = append(lines, cutUTF8(l, max-n)+" [...]")
			break
		}
		n += len(l)
		lines = append(lines, l)
	}
	return lines
}

// cleanAddress returns the address s cleaned, without angle brackets. It
// fails for an address too long to be written on a line of its own.
func cleanAddress(what, s string) (string, error) {
	a := clean(s, true)
	if strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") {
		a = strings.TrimSpace(a[1 : len(a)-1])
	}
	if len(a) > maxAddress {
		return "", fmt.Errorf("%s address of %d octets, longer than %d", what, len(a), maxAddress)
	}
	return a, nil
}

// utf8AddrText encodes addr for the "utf-8" address type of RFC 6533 §3:
// the ASCII characters that are not QCHAR (space, "+", "=", "\" and the
// controls) become EmbeddedUnicodeChar, "\x{HEXPOINT}"; so do all non-ASCII
// characters in the utf-8-addr-xtext form (xtext true), while the
// utf-8-addr-unitext form keeps them as they are.
func utf8AddrText(addr string, xtext bool) string {
	var b strings.Builder
	for _, r := range addr {
		switch {
		case r > ' ' && r < utf8.RuneSelf && r != '+' && r != '=' && r != '\\' && r != 0x7f:
			b.WriteRune(r)
		case r >= utf8.RuneSelf && !xtext:
			b.WriteRune(r)
		default:
			// HEXPOINT has no leading zeros and upper-case digits.
			b.WriteString(`\x{`)
			b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
			b.WriteByte('}')
		}
	}
	return b.String()
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isAtom reports whether s can be an address type such as "rfc822" or
// "utf-8" (RFC 3464 §2.1.2: an atom; in practice letters, digits and "-").
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// idHost returns host reduced to what a Message-ID's right side can hold.
func idHost(host string) string {
	h := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return -1
	}, host)
	if h = strings.Trim(h, "."); h == "" || strings.Contains(h, "..") {
		return "localhost"
	}
	return h
}

// isReply reports whether line starts like a line of an SMTP reply: a
// three-digit code followed by a space, a hyphen or nothing (RFC 5321
// §4.2).
func isReply(line string) bool {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validStatus reports whether s is a status code as RFC 3464 §2.3.4 writes
// it: class "." subject "." detail, the class 2, 4 or 5, the others of one
// to three digits without leading zeros.
func validStatus(s string) bool {
	class, rest, ok1 := strings.Cut(s, ".")
	subject, detail, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || (class != "2" && class != "4" && class != "5") {
		return false
	}
	return validStatusNumber(subject) && validStatusNumber(detail)
}

func validStatusNumber(s string) bool {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// defaultStatus returns the status for a recipient that was given none:
// the enhanced code of its reply (RFC 2034: the first word after the reply
// code) if it has one of the reply's class, else the generic code of the
// action's class.
func defaultStatus(action Action, diag []string) string {
	if len(diag) > 0 && isReply(diag[0]) && len(diag[0]) > 4 {
		code, _, _ := strings.Cut(diag[0][4:], " ")
		if validStatus(code) && code[0] == diag[0][0] {
			return code
		}
	}
	switch action {
	case ActionFailed:
		return "5.0.0"
	case ActionDelayed:
		return "4.0.0"
	}
	return "2.0.0"
}
