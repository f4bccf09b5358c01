package htmlmail

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A small tokenizer for CSS Syntax Level 3 (§4, "Tokenization"). It exists
// so that stylesheets are judged on the tokens a browser will see, not on
// substrings: "u\rl(", "\75rl(", comments inside a url and "</style>" in a
// string all mean what the spec says they mean. Comments are dropped here;
// nothing the sanitiser emits is copied from the input byte for byte.

type cssKind uint8

const (
	cssWS cssKind = iota
	cssIdent
	cssFunction // value is the name; the '(' is implied
	cssAtKeyword
	cssHash // value is the name; id is set for an "id" type flag
	cssString
	cssBadString
	cssURL // value is the URL of an unquoted url(…)
	cssBadURL
	cssDelim
	cssNumber     // num is the representation
	cssPercentage // num is the representation
	cssDimension  // num, and value is the unit
	cssCDO
	cssCDC
	cssColon
	cssSemicolon
	cssComma
	cssLBracket
	cssRBracket
	cssLParen
	cssRParen
	cssLBrace
	cssRBrace
)

type cssToken struct {
	kind  cssKind
	value string
	num   string
	id    bool
}

// cssTokenizer holds the preprocessed input (§3.3: CR, FF and CRLF become
// LF; NUL and surrogates become U+FFFD) as runes.
type cssTokenizer struct {
	in  []rune
	pos int
}

// tokenizeCSS returns the tokens of s, at most max of them; ok is false if
// there were more (the caller drops the sheet: bounded work, never a
// truncated sheet whose meaning changed).
func tokenizeCSS(s string, max int) ([]cssToken, bool) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	in := make([]rune, 0, utf8.RuneCountInString(s))
	for _, r := range s {
		switch {
		case r == '\r' || r == '\f':
			r = '\n'
		case r == 0 || (r >= 0xD800 && r <= 0xDFFF):
			r = utf8.RuneError
		}
		in = append(in, r)
	}
	t := &cssTokenizer{in: in}
	var out []cssToken
	for {
		tok, ok := t.next()
		if !ok {
			return out, true
		}
		if len(out) == max {
			return nil, false
		}
		out = append(out, tok)
	}
}

func (t *cssTokenizer) peek(i int) rune {
	if t.pos+i < len(t.in) {
		return t.in[t.pos+i]
	}
	return -1 // EOF
}

func isCSSWS(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }

func isNameStart(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r >= 0x80
}

func isNameChar(r rune) bool {
	return isNameStart(r) || r >= '0' && r <= '9' || r == '-'
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isHex(r rune) bool {
	return isDigit(r) || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// validEscape: §4.3.8.
func validEscape(a, b rune) bool { return a == '\\' && b != '\n' }

// startsIdent: §4.3.9.
func startsIdent(a, b, c rune) bool {
	switch {
	case a == '-':
		return isNameStart(b) || b == '-' || validEscape(b, c)
	case isNameStart(a):
		return true
	case a == '\\':
		return validEscape(a, b)
	}
	return false
}

// startsNumber: §4.3.10.
func startsNumber(a, b, c rune) bool {
	switch {
	case a == '+' || a == '-':
		return isDigit(b) || b == '.' && isDigit(c)
	case a == '.':
		return isDigit(b)
	}
	return isDigit(a)
}

// next consumes a token (§4.3.1), skipping comments.
func (t *cssTokenizer) next() (cssToken, bool) {
	for t.peek(0) == '/' && t.peek(1) == '*' {
		t.pos += 2
		for t.pos < len(t.in) && !(t.peek(0) == '*' && t.peek(1) == '/') {
			t.pos++
		}
		t.pos = min(t.pos+2, len(t.in))
	}
	if t.pos >= len(t.in) {
		return cssToken{}, false
	}
	c := t.in[t.pos]
	switch {
	case isCSSWS(c):
		for isCSSWS(t.peek(0)) {
			t.pos++
		}
		return cssToken{kind: cssWS}, true
	case c == '"' || c == '\'':
		t.pos++
		return t.str(c), true
	case c == '#':
		if isNameChar(t.peek(1)) || validEscape(t.peek(1), t.peek(2)) {
			t.pos++
			id := startsIdent(t.peek(0), t.peek(1), t.peek(2))
			return cssToken{kind: cssHash, value: t.name(), id: id}, true
		}
	case c == '(':
		t.pos++
		return cssToken{kind: cssLParen}, true
	case c == ')':
		t.pos++
		return cssToken{kind: cssRParen}, true
	case c == '[':
		t.pos++
		return cssToken{kind: cssLBracket}, true
	case c == ']':
		t.pos++
		return cssToken{kind: cssRBracket}, true
	case c == '{':
		t.pos++
		return cssToken{kind: cssLBrace}, true
	case c == '}':
		t.pos++
		return cssToken{kind: cssRBrace}, true
	case c == ',':
		t.pos++
		return cssToken{kind: cssComma}, true
	case c == ':':
		t.pos++
		return cssToken{kind: cssColon}, true
	case c == ';':
		t.pos++
		return cssToken{kind: cssSemicolon}, true
	case startsNumber(c, t.peek(1), t.peek(2)):
		return t.numeric(), true
	case c == '-' && t.peek(1) == '-' && t.peek(2) == '>':
		t.pos += 3
		return cssToken{kind: cssCDC}, true
	case c == '<' && t.peek(1) == '!' && t.peek(2) == '-' && t.peek(3) == '-':
		t.pos += 4
		return cssToken{kind: cssCDO}, true
	case c == '@':
		if startsIdent(t.peek(1), t.peek(2), t.peek(3)) {
			t.pos++
			return cssToken{kind: cssAtKeyword, value: t.name()}, true
		}
	case startsIdent(c, t.peek(1), t.peek(2)):
		return t.identLike(), true
	}
	t.pos++
	return cssToken{kind: cssDelim, value: string(c)}, true
}

// escape consumes an escaped code point, the backslash already consumed
// (§4.3.7).
func (t *cssTokenizer) escape() rune {
	if t.pos >= len(t.in) {
		return utf8.RuneError
	}
	c := t.in[t.pos]
	t.pos++
	if !isHex(c) {
		return c
	}
	v := int64(0)
	digits := string(c)
	for len(digits) < 6 && isHex(t.peek(0)) {
		digits += string(t.peek(0))
		t.pos++
	}
	v, _ = strconv.ParseInt(digits, 16, 32)
	if isCSSWS(t.peek(0)) {
		t.pos++
	}
	if v == 0 || v >= 0xD800 && v <= 0xDFFF || v > utf8.MaxRune {
		return utf8.RuneError
	}
	return rune(v)
}

// name consumes an ident sequence (§4.3.11).
func (t *cssTokenizer) name() string {
	var b strings.Builder
	for t.pos < len(t.in) {
		c := t.in[t.pos]
		switch {
		case isNameChar(c):
			b.WriteRune(c)
			t.pos++
		case validEscape(c, t.peek(1)):
			t.pos++
			b.WriteRune(t.escape())
		default:
			return b.String()
		}
	}
	return b.String()
}

// str consumes a string token after its opening quote (§4.3.5).
func (t *cssTokenizer) str(quote rune) cssToken {
	var b strings.Builder
	for t.pos < len(t.in) {
		c := t.in[t.pos]
		switch {
		case c == quote:
			t.pos++
			return cssToken{kind: cssString, value: b.String()}
		case c == '\n':
			// Not consumed: the newline is the next token.
			return cssToken{kind: cssBadString}
		case c == '\\':
			t.pos++
			switch t.peek(0) {
			case -1:
			case '\n':
				t.pos++
			default:
				b.WriteRune(t.escape())
			}
		default:
			b.WriteRune(c)
			t.pos++
		}
	}
	return cssToken{kind: cssString, value: b.String()}
}

// numeric consumes a number, percentage or dimension (§4.3.3).
func (t *cssTokenizer) numeric() cssToken {
	start := t.pos
	if c := t.peek(0); c == '+' || c == '-' {
		t.pos++
	}
	for isDigit(t.peek(0)) {
		t.pos++
	}
	if t.peek(0) == '.' && isDigit(t.peek(1)) {
		t.pos++
		for isDigit(t.peek(0)) {
			t.pos++
		}
	}
	if c := t.peek(0); c == 'e' || c == 'E' {
		if isDigit(t.peek(1)) || (t.peek(1) == '+' || t.peek(1) == '-') && isDigit(t.peek(2)) {
			t.pos += 2
			for isDigit(t.peek(0)) {
				t.pos++
			}
		}
	}
	num := string(t.in[start:t.pos])
	switch {
	case startsIdent(t.peek(0), t.peek(1), t.peek(2)):
		return cssToken{kind: cssDimension, num: num, value: t.name()}
	case t.peek(0) == '%':
		t.pos++
		return cssToken{kind: cssPercentage, num: num}
	}
	return cssToken{kind: cssNumber, num: num}
}

// identLike consumes an ident, function or url token (§4.3.4).
func (t *cssTokenizer) identLike() cssToken {
	name := t.name()
	if t.peek(0) != '(' {
		return cssToken{kind: cssIdent, value: name}
	}
	t.pos++
	if !strings.EqualFold(name, "url") {
		return cssToken{kind: cssFunction, value: name}
	}
	for isCSSWS(t.peek(0)) && isCSSWS(t.peek(1)) {
		t.pos++
	}
	a, b := t.peek(0), t.peek(1)
	if a == '"' || a == '\'' || isCSSWS(a) && (b == '"' || b == '\'') {
		// url("…") is a function with a string argument.
		return cssToken{kind: cssFunction, value: name}
	}
	return t.url()
}

// url consumes an unquoted url(…) (§4.3.6).
func (t *cssTokenizer) url() cssToken {
	var b strings.Builder
	for isCSSWS(t.peek(0)) {
		t.pos++
	}
	for t.pos < len(t.in) {
		c := t.in[t.pos]
		t.pos++
		switch {
		case c == ')':
			return cssToken{kind: cssURL, value: b.String()}
		case isCSSWS(c):
			for isCSSWS(t.peek(0)) {
				t.pos++
			}
			if t.peek(0) == ')' || t.peek(0) == -1 {
				t.pos = min(t.pos+1, len(t.in))
				return cssToken{kind: cssURL, value: b.String()}
			}
			t.badURLRest()
			return cssToken{kind: cssBadURL}
		case c == '"' || c == '\'' || c == '(' || c < 0x20 && c != '\t' || c == 0x7f:
			t.badURLRest()
			return cssToken{kind: cssBadURL}
		case c == '\\':
			if validEscape(c, t.peek(0)) {
				b.WriteRune(t.escape())
			} else {
				t.badURLRest()
				return cssToken{kind: cssBadURL}
			}
		default:
			b.WriteRune(c)
		}
	}
	return cssToken{kind: cssURL, value: b.String()}
}

// badURLRest consumes the remnants of a bad url (§4.3.14).
func (t *cssTokenizer) badURLRest() {
	for t.pos < len(t.in) {
		c := t.in[t.pos]
		t.pos++
		switch {
		case c == ')':
			return
		case validEscape(c, t.peek(0)):
			t.escape()
		}
	}
}

// Serialisation. Everything the sanitiser emits goes through these, so the
// output alphabet is fixed: no '<' anywhere (a "</style" cannot be formed),
// no comment opener, no raw control characters.

// cssEscape writes r as a hex escape followed by the space that ends it.
func cssEscape(b *strings.Builder, r rune) {
	b.WriteByte('\\')
	b.WriteString(strconv.FormatInt(int64(r), 16))
	b.WriteByte(' ')
}

// writeName writes an ident sequence (a class, a hash's name), escaping
// what is not a name character: ASCII ones, and non-ASCII letters and
// digits (font names), none of which is CSS syntax. If ident is set the
// result also starts like an ident.
func writeName(b *strings.Builder, name string, ident bool) {
	for i, r := range name {
		plain := r < 0x80 && isNameChar(r) || r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if ident && i == 0 && (isDigit(r) || r == '-' && (len(name) == 1 || isDigit(rune(name[1])))) {
			plain = false
		}
		if plain {
			b.WriteRune(r)
		} else {
			cssEscape(b, r)
		}
	}
}

// writeString writes s as a double-quoted CSS string.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r < 0x20 || r == 0x7f:
			cssEscape(b, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
