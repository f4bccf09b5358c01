package mime

import "strings"

// SkipCFWS drops leading white space and comments (RFC 5322 3.2.2's CFWS,
// nested, with quoted-pairs) from a header field value. An unterminated
// comment takes the rest of the value: nothing follows it.
func SkipCFWS(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(s, "(") {
			return s
		}
		depth := 0
		i := 0
	comment:
		for ; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					break comment
				}
			}
		}
		if i >= len(s) {
			return ""
		}
		s = s[i+1:]
	}
}
