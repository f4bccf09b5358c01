package mime

import "strings"

// Address-list parsing for the envelope. It is deliberately tolerant: real
// mail has unquoted dots and commas in display names, missing angle
// brackets, obsolete routes, comments in odd places and unterminated
// quotes. The parser never fails; it returns whatever addresses it could
// make sense of.

type tokKind uint8

const (
	tkAtom    tokKind = iota // run of atext, dots included (obs-phrase)
	tkQuoted                 // quoted-string, quotes and backslashes removed
	tkComment                // (comment), parentheses removed
	tkDomLit                 // [domain literal], brackets kept
	tkSpecial                // one of < > @ , ; :
)

type addrToken struct {
	kind tokKind
	sp   bool // preceded by whitespace (or a comment)
	val  string
}

// maxAddrTokens bounds the work on a pathological header; a header block is
// already bounded by MaxHeaderBytes, this only keeps token slices small.
const maxAddrTokens = 1 << 16

func tokenizeAddresses(s string) []addrToken {
	var toks []addrToken
	sp := false
	for i := 0; i < len(s) && len(toks) < maxAddrTokens; {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			sp = true
			i++
		case c == '(':
			j, val := scanComment(s, i)
			toks = append(toks, addrToken{kind: tkComment, sp: sp, val: val})
			sp = true
			i = j
		case c == '"':
			j, val := scanQuoted(s, i)
			toks = append(toks, addrToken{kind: tkQuoted, sp: sp, val: val})
			sp = false
			i = j
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s)
			} else {
				j += i + 1
			}
			toks = append(toks, addrToken{kind: tkDomLit, sp: sp, val: s[i:j]})
			sp = false
			i = j
		case strings.IndexByte("<>@,;:", c) >= 0:
			toks = append(toks, addrToken{kind: tkSpecial, sp: sp, val: s[i : i+1]})
			sp = false
			i++
		default:
			j := i + 1
			for j < len(s) && !isAddrDelim(s[j]) {
				j++
			}
			toks = append(toks, addrToken{kind: tkAtom, sp: sp, val: s[i:j]})
			sp = false
			i = j
		}
	}
	return toks
}

func isAddrDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '(', ')', '"', '[', ']', '<', '>', '@', ',', ';', ':':
		return true
	}
	return false
}

// scanComment reads a possibly nested comment starting at s[i] == '('.
func scanComment(s string, i int) (int, string) {
	var b strings.Builder
	depth := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i + 1, strings.TrimSpace(b.String())
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return i, strings.TrimSpace(b.String())
}

// scanQuoted reads a quoted string starting at s[i] == '"'; an
// unterminated one runs to the end of s.
func scanQuoted(s string, i int) (int, string) {
	var b strings.Builder
	for i++; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return i + 1, b.String()
		case c == '\r' || c == '\n':
			// folding inside a quoted string: unfolding removes the line end
		default:
			b.WriteByte(c)
		}
	}
	return i, b.String()
}

// ParseAddressList parses an RFC 5322 address-list tolerantly into IMAP
// envelope addresses. Groups become start/end markers.
func ParseAddressList(s string) []Address {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	p := addrParser{toks: tokenizeAddresses(s)}
	return p.list()
}

type addrParser struct {
	toks []addrToken
	pos  int
	out  []Address
}

func (p *addrParser) peek() (addrToken, bool) {
	if p.pos >= len(p.toks) {
		return addrToken{}, false
	}
	return p.toks[p.pos], true
}

func (p *addrParser) isSpecial(c string) bool {
	t, ok := p.peek()
	return ok && t.kind == tkSpecial && t.val == c
}

func (p *addrParser) list() []Address {
	for p.pos < len(p.toks) {
		switch {
		case p.isSpecial(",") || p.isSpecial(";") || p.isSpecial(">"):
			p.pos++
		case p.groupAhead():
			p.group()
		default:
			start := p.pos
			p.mailbox(false)
			if p.pos == start {
				p.pos++ // always make progress
			}
		}
	}
	return p.out
}

// groupAhead reports whether the tokens from pos form "phrase :" (a group
// start) rather than a mailbox: a ':' before any '<', '@', ',' or ';'.
func (p *addrParser) groupAhead() bool {
	for i := p.pos; i < len(p.toks); i++ {
		t := p.toks[i]
		if t.kind != tkSpecial {
			continue
		}
		return t.val == ":"
	}
	return false
}

func (p *addrParser) group() {
	var name []addrToken
	for ; p.pos < len(p.toks); p.pos++ {
		t := p.toks[p.pos]
		if t.kind == tkSpecial && t.val == ":" {
			p.pos++
			break
		}
		name = append(name, t)
	}
	n := joinPhrase(name)
	p.out = append(p.out, Address{Mailbox: n, GroupStart: true})
	for p.pos < len(p.toks) {
		if p.isSpecial(";") {
			p.pos++
			break
		}
		if p.isSpecial(",") || p.isSpecial(":") || p.isSpecial(">") {
			p.pos++
			continue
		}
		start := p.pos
		p.mailbox(true)
		if p.pos == start {
			p.pos++
		}
	}
	p.out = append(p.out, Address{GroupEnd: true})
}

// mailbox parses one mailbox up to (not including) the next top-level ','
// or ';' (or ':' after a phrase in a group, which is malformed).
func (p *addrParser) mailbox(inGroup bool) {
	var phrase []addrToken
	var comment string
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tkComment {
			if comment == "" {
				comment = t.val
			}
			p.pos++
			continue
		}
		if t.kind == tkSpecial {
			break
		}
		phrase = append(phrase, t)
		p.pos++
	}
	t, ok := p.peek()
	switch {
	case ok && t.kind == tkSpecial && t.val == "<":
		p.pos++
		a := p.angleAddr()
		a.Name = joinPhrase(phrase)
		if a.Name == "" {
			a.Name = comment
		}
		p.skipToEnd(inGroup, &a.Name)
		p.emit(a)
	case ok && t.kind == tkSpecial && t.val == "@":
		p.pos++
		a := Address{Mailbox: joinLocal(phrase)}
		a.Host = p.domain(&comment)
		a.Name = comment
		p.skipToEnd(inGroup, &a.Name)
		p.emit(a)
	default:
		// No '@' and no '<': a bare word (e.g. "undisclosed"), a display
		// name cut off by an unquoted comma, or garbage.
		if len(phrase) > 0 {
			p.emit(Address{Mailbox: joinLocal(phrase), Name: comment})
		}
		if ok && t.kind == tkSpecial && (t.val == ":" || t.val == ">") {
			p.pos++
		}
	}
}

// angleAddr parses after '<': [route ':'] local '@' domain '>'.
func (p *addrParser) angleAddr() Address {
	var a Address
	if p.isSpecial("@") {
		// obs-route: "@a,@b:" — only if a ':' follows before '>'.
		if route, ok := p.route(); ok {
			a.Adl = route
		}
	}
	var local []addrToken
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tkComment {
			p.pos++
			continue
		}
		if t.kind == tkSpecial {
			break
		}
		local = append(local, t)
		p.pos++
	}
	a.Mailbox = joinLocal(local)
	if p.isSpecial("@") {
		p.pos++
		var ignored string
		a.Host = p.domain(&ignored)
	}
	if p.isSpecial(">") {
		p.pos++
	}
	return a
}

// route reads an obsolete source route "@a,@b:" and returns it without
// the colon; it consumes nothing unless the route ends with ':'.
func (p *addrParser) route() (string, bool) {
	var b strings.Builder
	i := p.pos
	for i < len(p.toks) {
		t := p.toks[i]
		switch {
		case t.kind == tkSpecial && t.val == ":":
			p.pos = i + 1
			return b.String(), true
		case t.kind == tkSpecial && (t.val == "@" || t.val == ","):
			b.WriteString(t.val)
		case t.kind == tkAtom || t.kind == tkDomLit:
			b.WriteString(t.val)
		case t.kind == tkComment:
		default:
			return "", false
		}
		i++
	}
	return "", false
}

// domain reads a domain (atoms with dots, or a domain literal) after '@'.
// A comment seen there is stored in *comment if that is still empty.
func (p *addrParser) domain(comment *string) string {
	var b strings.Builder
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tkSpecial {
			break
		}
		if t.kind == tkComment {
			if *comment == "" {
				*comment = t.val
			}
			p.pos++
			continue
		}
		if t.sp && b.Len() > 0 && !strings.HasSuffix(b.String(), ".") && !strings.HasPrefix(t.val, ".") {
			// "user@host Name" without brackets: the rest is not domain
			// (but "example . com" is: CFWS around dots is allowed).
			break
		}
		b.WriteString(t.val)
		p.pos++
	}
	return b.String()
}

// skipToEnd skips what is left of a malformed address up to the next ','
// or ';' (or end), using a trailing comment as name if there is none.
func (p *addrParser) skipToEnd(inGroup bool, name *string) {
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tkSpecial && (t.val == "," || t.val == ";") {
			return
		}
		if t.kind == tkSpecial && t.val == ":" && !inGroup {
			return
		}
		if t.kind == tkComment && *name == "" {
			*name = t.val
		}
		p.pos++
	}
}

func (p *addrParser) emit(a Address) {
	if a.Name == "" && a.Mailbox == "" && a.Host == "" && a.Adl == "" {
		return // "<>" or an empty element
	}
	a.DecodedName = DecodeHeader(a.Name)
	p.out = append(p.out, a)
}

// joinPhrase joins display-name words, keeping a single space where the
// header had whitespace between them.
func joinPhrase(toks []addrToken) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tkComment {
			continue
		}
		if t.sp && b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.val)
	}
	return strings.TrimSpace(b.String())
}

// joinLocal joins local-part words; CFWS between them is not significant.
func joinLocal(toks []addrToken) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tkComment {
			continue
		}
		b.WriteString(t.val)
	}
	return b.String()
}
