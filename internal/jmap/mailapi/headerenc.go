package mailapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"mailroom/internal/jmap/emailprops"
)

// Header field values as a client gives them in an Email create, encoded
// for the message: RFC 2047 encoded-words for non-ASCII text and display
// names, addresses and message ids checked so that no value can end the
// field early or start another (a CR or LF in a value never reaches the
// message as a line break).

// dateLayout is RFC 5322's date-time.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// encodeHeaderValue encodes one value of a header field given in form
// (nil: the field is absent). raw reports a Raw-form value, written as the
// client gave it.
func encodeHeaderValue(name string, form emailprops.Form, v json.RawMessage) (*string, bool, error) {
	if string(v) == "null" {
		return nil, false, nil
	}
	var out string
	switch form {
	case emailprops.FormRaw:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false, errors.New("a Raw value is a string")
		}
		if !validRaw(s) {
			return nil, false, errors.New("a Raw value may hold a line break only as folding (CRLF then space or tab), and no NUL")
		}
		return &s, true, nil
	case emailprops.FormText:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false, errors.New("a Text value is a string")
		}
		out = encodeText(s)
	case emailprops.FormAddresses:
		var list []emailprops.EmailAddress
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, false, errors.New("an Addresses value is a list of {name, email}")
		}
		s, err := encodeAddresses(list)
		if err != nil {
			return nil, false, err
		}
		out = s
	case emailprops.FormGroupedAddresses:
		var groups []emailprops.EmailAddressGroup
		if err := json.Unmarshal(v, &groups); err != nil {
			return nil, false, errors.New("a GroupedAddresses value is a list of {name, addresses}")
		}
		var parts []string
		for _, g := range groups {
			s, err := encodeAddresses(g.Addresses)
			if err != nil {
				return nil, false, err
			}
			if g.Name == nil {
				if s != "" {
					parts = append(parts, s)
				}
				continue
			}
			parts = append(parts, encodePhrase(*g.Name)+": "+s+";")
		}
		out = strings.Join(parts, ", ")
	case emailprops.FormMessageIds:
		var ids []string
		if err := json.Unmarshal(v, &ids); err != nil {
			return nil, false, errors.New("a MessageIds value is a list of strings")
		}
		for i, id := range ids {
			if !validMsgID(id) {
				return nil, false, errors.New("not a message id: " + strings.ToValidUTF8(id, "?"))
			}
			ids[i] = "<" + id + ">"
		}
		out = strings.Join(ids, " ")
	case emailprops.FormDate:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false, errors.New("a Date value is a string")
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, false, errors.New("a Date is an RFC 3339 date-time (2024-01-31T12:00:00+01:00)")
		}
		out = t.Format(dateLayout)
	case emailprops.FormURLs:
		var urls []string
		if err := json.Unmarshal(v, &urls); err != nil {
			return nil, false, errors.New("a URLs value is a list of strings")
		}
		for i, u := range urls {
			if !validURL(u) {
				return nil, false, errors.New("not a URL: " + strings.ToValidUTF8(u, "?"))
			}
			urls[i] = "<" + u + ">"
		}
		out = strings.Join(urls, ", ")
	default:
		return nil, false, errors.New("unknown form")
	}
	return &out, false, nil
}

// validRaw: valid UTF-8, no NUL, and CR and LF only as "CRLF WSP".
func validRaw(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0:
			return false
		case '\r':
			if i+2 >= len(s) || s[i+1] != '\n' || (s[i+2] != ' ' && s[i+2] != '\t') {
				return false
			}
		case '\n':
			if i == 0 || s[i-1] != '\r' {
				return false
			}
		}
	}
	return true
}

// cleanText turns every control character (CR and LF among them) into a
// space: a Text value is one unfolded line, and a line break a client put
// in a subject must not start a header field of its own.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// encodeText is unstructured text (RFC 5322 §3.2.5): as it is if it is
// plain ASCII that cannot be mistaken for an encoded-word, else RFC 2047
// Q encoded-words, which split at 75 characters so the field can fold.
func encodeText(s string) string {
	s = cleanText(s)
	if !needsEncoding(s) {
		return s
	}
	return encodedWords(s, true)
}

func needsEncoding(s string) bool {
	if strings.Contains(s, "=?") {
		return true
	}
	word := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c < 0x20 {
			return true
		}
		if c == ' ' {
			word = 0
		} else if word++; word > 900 {
			// A word too long to fold within the line limit.
			return true
		}
	}
	return false
}

// encodePhrase is a display name: atoms as they are, a quoted-string for
// other ASCII, B encoded-words (whose alphabet has none of the address
// specials, RFC 2047 §5) for anything else.
func encodePhrase(s string) string {
	s = strings.TrimSpace(cleanText(s))
	if s == "" {
		return `""`
	}
	if needsEncoding(s) {
		return encodedWords(s, false)
	}
	atoms := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && !isAtext(c) {
			atoms = false
			break
		}
	}
	if atoms && !strings.Contains(s, "  ") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// encodedWords encodes all of s as RFC 2047 encoded-words of at most 75
// characters, split between characters and separated by spaces (which
// decoders drop between encoded-words): Q encoding (q) for text, B for
// phrases. Unlike mime.WordEncoder it encodes ASCII too, so text that
// looks like an encoded-word comes back as it was written.
func encodedWords(s string, q bool) string {
	const prefixQ, prefixB, suffix = "=?utf-8?q?", "=?utf-8?b?", "?="
	var out, word strings.Builder
	var raw []byte // B: the bytes of the current word
	flush := func() {
		if q && word.Len() == 0 || !q && len(raw) == 0 {
			return
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		if q {
			out.WriteString(prefixQ + word.String() + suffix)
		} else {
			out.WriteString(prefixB + base64.StdEncoding.EncodeToString(raw) + suffix)
		}
		word.Reset()
		raw = raw[:0]
	}
	for _, r := range s {
		var enc string
		if q {
			var b strings.Builder
			for _, c := range []byte(string(r)) {
				switch {
				case c == ' ':
					b.WriteByte('_')
				case c > ' ' && c < 0x7f && c != '=' && c != '?' && c != '_':
					b.WriteByte(c)
				default:
					fmt.Fprintf(&b, "=%02X", c)
				}
			}
			enc = b.String()
			if len(prefixQ)+word.Len()+len(enc)+len(suffix) > 75 {
				flush()
			}
			word.WriteString(enc)
			continue
		}
		rb := []byte(string(r))
		if len(prefixB)+base64.StdEncoding.EncodedLen(len(raw)+len(rb))+len(suffix) > 75 {
			flush()
		}
		raw = append(raw, rb...)
	}
	flush()
	return out.String()
}

func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// encodeAddresses is an address-list; a mailbox without a name is its
// bare addr-spec.
func encodeAddresses(list []emailprops.EmailAddress) (string, error) {
	parts := make([]string, 0, len(list))
	for _, a := range list {
		if !validAddrSpec(a.Email) {
			return "", errors.New("not an email address: " + strings.ToValidUTF8(a.Email, "?"))
		}
		if a.Name == nil || strings.TrimSpace(*a.Name) == "" {
			parts = append(parts, a.Email)
			continue
		}
		parts = append(parts, encodePhrase(*a.Name)+" <"+a.Email+">")
	}
	return strings.Join(parts, ", "), nil
}

// validAddrSpec is lenient (a draft may hold a half-typed address, RFC
// 8621 §4.6) but refuses what would break the field's structure: space,
// controls, and the characters that delimit addresses.
func validAddrSpec(s string) bool {
	return s != "" && len(s) <= 998 && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`<>(),;:"\`, r)
	})
}

// validMsgID: a msg-id's content without its angle brackets.
func validMsgID(s string) bool {
	return s != "" && len(s) <= 998 && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`<>()[],;\"`, r)
	})
}

// validURL: a URI as RFC 2369 puts it between angle brackets.
func validURL(s string) bool {
	return s != "" && len(s) <= 998 && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || r == '<' || r == '>'
	})
}

// validToken: an RFC 2045 token (media type parts, dispositions, charsets).
func validToken(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

func validMediaType(s string) bool {
	t, sub, ok := strings.Cut(s, "/")
	return ok && validToken(t) && validToken(sub)
}

// validLanguage: an RFC 5646 tag's characters.
func validLanguage(s string) bool {
	if s == "" || len(s) > 64 {
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

// formatMediaType writes a type with parameters, RFC 2231-encoding those
// that need it.
func formatMediaType(t string, params map[string]string) string {
	if s := mime.FormatMediaType(t, params); s != "" {
		return s
	}
	return t
}

// foldField writes "Name: value" folded at spaces so lines stay within 78
// characters where the words allow; unfolding gives the value back
// exactly. A raw value is written as given.
func foldField(b *strings.Builder, f field) {
	b.WriteString(f.name)
	b.WriteByte(':')
	if f.raw {
		b.WriteString(f.value)
		b.WriteString("\r\n")
		return
	}
	b.WriteByte(' ')
	line := len(f.name) + 2
	words := strings.Split(f.value, " ")
	for i, w := range words {
		if i > 0 {
			if w != "" && line+1+len(w) > 78 && line > 1 {
				b.WriteString("\r\n")
				line = 0
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\r\n")
}
