package mime

import (
	"iter"
	"strings"
)

// MessageIDs yields the message ids of a Message-ID, In-Reply-To or
// References field value, without angle brackets and normalised (see
// NormalizeMessageID), in field order. Text outside angle brackets
// (comments, phrases of obsolete In-Reply-To syntax) is skipped, and so is
// anything between brackets that is not id-left "@" id-right; in
// "<junk <id@x>" the inner id counts. It allocates only to normalise an
// id that needs it, so callers bound their own work by how many ids they
// keep: threading (IMAP THREAD, the store's conversations) reads it.
func MessageIDs(field string) iter.Seq[string] {
	return func(yield func(string) bool) {
		v := field
		for {
			i := strings.IndexByte(v, '<')
			if i < 0 {
				return
			}
			v = v[i+1:]
			j := strings.IndexAny(v, "<>")
			if j < 0 {
				return
			}
			if v[j] == '<' {
				v = v[j:]
				continue
			}
			if id, ok := NormalizeMessageID(v[:j]); ok {
				if !yield(id) {
					return
				}
			}
			v = v[j+1:]
		}
	}
}

// NormalizeMessageID checks the text between "<" and ">" and returns it in
// the form RFC 5256 section 4 asks ids to be compared in: quoting removed,
// so <"01KF8JCEOCBS0045PS"@xxx.yyy.com> and <01KF8JCEOCBS0045PS@xxx.yyy.com>
// are the same id, and folding whitespace dropped. The id must have a
// non-empty left and right side around its last "@", and at most 998
// bytes (an RFC 5322 line: anything longer is junk).
func NormalizeMessageID(s string) (string, bool) {
	if len(s) > maxMessageIDLen {
		return "", false
	}
	if strings.ContainsAny(s, "\" \t\r\n\\") {
		var b strings.Builder
		b.Grow(len(s))
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case '"', ' ', '\t', '\r', '\n':
			case '\\':
				if i+1 < len(s) {
					i++
					if c := s[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
						b.WriteByte(c)
					}
				}
			default:
				b.WriteByte(c)
			}
		}
		s = b.String()
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", false
	}
	return s, true
}

const maxMessageIDLen = 998
