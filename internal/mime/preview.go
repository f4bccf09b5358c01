package mime

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// previewCapture bounds the raw bytes of a part kept for the preview. 16 KiB
// of even base64-encoded HTML holds far more than 256 runes of text in
// practice.
const previewCapture = 16 << 10

// capture keeps the first bytes of a part's body for the preview.
type capture struct {
	part *Part
	buf  []byte
	mark int // len(buf) at the start of the current line
}

func (c *capture) add(seg []byte) {
	if room := previewCapture - len(c.buf); room > 0 {
		if c.buf == nil {
			c.buf = make([]byte, 0, 4<<10)
		}
		if len(seg) > room {
			seg = seg[:room]
		}
		c.buf = append(c.buf, seg...)
	}
}

// previewMargin is how many runes past the preview length a decoded prefix
// of the capture must yield to be trusted: cutting the raw bytes can only
// garble the tail of the text (a partial escape, multibyte sequence,
// entity or tag), never more than a few dozen runes.
const previewMargin = 64

// text decodes the captured bytes to UTF-8 plain text, whitespace collapsed
// and cut to max runes. It decodes growing prefixes of the capture and stops
// as soon as one yields enough text, since a preview needs a few hundred
// runes, not 16 KiB.
func (c *capture) text(max int) string {
	if c.part == nil {
		return ""
	}
	for n := 2 << 10; n < len(c.buf); n *= 2 {
		t := c.decode(c.cutPrefix(c.buf[:n]))
		if utf8.RuneCountInString(collapse(t, max+previewMargin)) >= max+previewMargin {
			return collapse(t, max)
		}
	}
	if len(c.buf) >= previewCapture {
		return collapse(c.decode(c.cutPrefix(c.buf)), max)
	}
	return collapse(c.decode(c.buf), max)
}

// cutPrefix trims a prefix of a body of what its cut may have broken. The
// transfer decoder takes the end of its input for the end of the part,
// where a quoted-printable escape cut in two ("=4") is content; in a
// prefix it is half an escape, to drop. (A cut base64 quantum decodes to
// exact octets, and a cut multi-byte character is the margin's business.)
func (c *capture) cutPrefix(raw []byte) []byte {
	if n := len(raw); c.part.Encoding == "quoted-printable" && n >= 2 && raw[n-2] == '=' && isHex(raw[n-1]) {
		return raw[:n-2]
	}
	return raw
}

// decode undoes the transfer encoding, the charset and HTML of raw.
func (c *capture) decode(raw []byte) string {
	b := AppendDecoded(nil, raw, c.part.Encoding)
	cs, _ := c.part.Param("charset")
	b, _ = toUTF8(cs, b)
	if c.part.Subtype == "html" {
		return stripHTML(string(b))
	}
	return string(b)
}

// collapse turns every run of whitespace and control characters into one
// space, trims, replaces invalid UTF-8, and cuts at max runes.
func collapse(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for i := 0; i < len(s) && n < max; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			r = '\uFFFD'
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u200b' || r == '\ufeff' {
			space = b.Len() > 0
			continue
		}
		if space {
			if n+1 >= max {
				break // no room for a word after the space
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// stripHTML reduces HTML to its text: tags and comments removed, the
// content of script, style, head and title elements dropped, block-level
// tags turned into whitespace, character references decoded. It is a
// scanner, not a parser: good enough for a 256-rune preview of a cut-off
// prefix.
func stripHTML(s string) string {
	var b strings.Builder
	skipUntil := "" // closing tag whose content is not text
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			if skipUntil == "" {
				b.WriteString(html.UnescapeString(s))
			}
			break
		}
		if skipUntil == "" {
			b.WriteString(html.UnescapeString(s[:i]))
		}
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			j := strings.Index(s, "-->")
			if j < 0 {
				break
			}
			s = s[j+3:]
			continue
		}
		j := tagEnd(s)
		if j < 0 {
			break // cut inside a tag
		}
		tag := tagName(s[1:j])
		s = s[j+1:]
		if skipUntil != "" {
			if tag == skipUntil {
				skipUntil = ""
			}
			continue
		}
		switch tag {
		case "script", "style", "head", "title":
			skipUntil = "/" + tag
		case "br", "p", "/p", "div", "/div", "tr", "/tr", "td", "th", "li", "h1", "h2", "h3", "h4", "h5", "h6",
			"/h1", "/h2", "/h3", "/h4", "/h5", "/h6", "table", "/table", "blockquote", "/blockquote", "hr":
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// tagName returns the lower-case name of a tag, with a leading '/' for an
// end tag.
func tagName(t string) string {
	t = strings.TrimLeft(t, " \t\r\n")
	end := 0
	if strings.HasPrefix(t, "/") {
		end = 1
	}
	for end < len(t) {
		c := t[end]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' && end > 0 || c == '>' {
			break
		}
		end++
	}
	return strings.ToLower(t[:end])
}

// tagEnd finds the '>' closing the tag at the start of s, skipping quoted
// attribute values; -1 if the tag is cut off.
func tagEnd(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

// PlainText reduces decoded UTF-8 body text to a preview line, as the
// scanner makes Message.Preview: HTML stripped to its text when html is
// set, whitespace collapsed, invalid UTF-8 replaced, cut to maxRunes. It
// is exported for JMAP, which derives a preview from a stored message
// when its structure carries none.
func PlainText(s string, html bool, maxRunes int) string {
	if html {
		s = stripHTML(s)
	}
	return collapse(s, maxRunes)
}
