package thread

import "strings"

// maxRefs bounds the message ids taken from one References field: the
// last ones, the nearest ancestors, are kept. RFC 5322 section 3.6.4 lets
// writers trim the middle of long fields the same way, and it keeps a
// hostile field from making threading cost more than its size suggests.
const maxRefs = 500

// MsgIDs appends the message ids of a Message-ID, In-Reply-To or
// References field to dst, normalised (see normalizeID), and returns it.
// Text outside angle brackets (comments, phrases of obsolete In-Reply-To
// syntax) is skipped, and so is anything between brackets that is not
// id-left "@" id-right. At most maxRefs ids are kept: the last ones.
func MsgIDs(dst []string, v string) []string {
	start := len(dst)
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		v = v[i+1:]
		j := strings.IndexAny(v, "<>")
		if j < 0 {
			break
		}
		if v[j] == '<' { // "<junk <id@x>": start again at the inner bracket
			v = v[j:]
			continue
		}
		if id, ok := normalizeID(v[:j]); ok {
			dst = append(dst, id)
		}
		v = v[j+1:]
	}
	if n := len(dst) - start; n > maxRefs {
		copy(dst[start:], dst[len(dst)-maxRefs:])
		dst = dst[:start+maxRefs]
	}
	return dst
}

// FirstMsgID returns the first valid message id of a field, or "".
func FirstMsgID(v string) string {
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return ""
		}
		v = v[i+1:]
		j := strings.IndexAny(v, "<>")
		if j < 0 {
			return ""
		}
		if v[j] == '<' {
			v = v[j:]
			continue
		}
		if id, ok := normalizeID(v[:j]); ok {
			return id
		}
		v = v[j+1:]
	}
}

// normalizeID checks the text between "<" and ">" and returns it in the
// form RFC 5256 section 4 asks ids to be compared in: quoting removed, so
// <"01KF8JCEOCBS0045PS"@xxx.yyy.com> and <01KF8JCEOCBS0045PS@xxx.yyy.com>
// are the same id, and folding whitespace dropped. The id must have a
// non-empty left and right side around its last "@".
func normalizeID(s string) (string, bool) {
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
