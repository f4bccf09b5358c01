package htmlmail

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ScopeID is the id of the element a caller that sets Options.Styles must
// put Result.HTML in: every rule of Result.CSS is scoped under it.
const ScopeID = "mailroom-message"

// Bounds on stylesheets. A newsletter's sheets are a few to a few dozen
// KiB with some hundred rules; anything past these is junk or an attack on
// the parser, and is dropped rather than cut (a cut sheet means something
// else).
const (
	// MaxStyleSize bounds the <style> text kept, all sheets together;
	// sheets past it are dropped.
	MaxStyleSize = 256 << 10
	maxCSSTokens = 100_000 // per sheet, after MaxStyleSize: about 100 bytes a token
	maxCSSRules  = 4000    // style rules kept, all sheets together
	// maxCSSNesting bounds block nesting ({, [, (, functions): a sheet
	// nested deeper is dropped whole.
	maxCSSNesting      = 16
	maxSelectorsInRule = 64
	maxDeclsInRule     = 200
)

var (
	cssUnit = regexp.MustCompile(`^[a-zA-Z]{1,8}$`)
	// nthIdent and nthUnit are the words of an An+B argument: "odd",
	// "-n-1", and the unit of "2n" or "2n-1".
	nthIdent = regexp.MustCompile(`^(?i)(odd|even|-?n(-[0-9]+)?)$`)
	nthUnit  = regexp.MustCompile(`^(?i)n(-[0-9]+)?$`)
)

// sheetOnlyProperties are allowed in sheets but not in style attributes:
// those take a url(), resolved here like an <img src> (style attributes
// never get url()).
func sheetOnlyProperties() map[string]func(string) bool {
	none := keywords("none")
	return map[string]func(string) bool{
		"background-image": func(v string) bool { return safeCSSValue(v) && none(v) },
	}
}

// pseudoClasses are the pseudo-classes and pseudo-elements a selector may
// use: states and structure. Anything else (:has, :is, :not with their
// selector lists, :host, ::part, vendor ones) drops the selector.
var pseudoClasses = map[string]bool{
	"hover": true, "active": true, "focus": true, "visited": true, "link": true,
	"first-child": true, "last-child": true, "only-child": true,
	"first-of-type": true, "last-of-type": true, "only-of-type": true, "empty": true,
	"root": true, // the scope itself
	// Pseudo-elements, also written with one colon in old sheets.
	"before": true, "after": true, "first-line": true, "first-letter": true,
}

var nthFunctions = map[string]bool{
	"nth-child": true, "nth-last-child": true, "nth-of-type": true, "nth-last-of-type": true,
}

// styleTexts returns the text of every <style> element of the document,
// in order, as long as the total stays within MaxStyleSize.
func styleTexts(doc *html.Node) []string {
	var out []string
	total := 0
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode || c.Namespace != "" {
				continue
			}
			if c.DataAtom == atom.Style {
				var b strings.Builder
				for t := c.FirstChild; t != nil; t = t.NextSibling {
					if t.Type == html.TextNode {
						b.WriteString(t.Data)
					}
				}
				if total+b.Len() <= MaxStyleSize {
					total += b.Len()
					out = append(out, b.String())
				}
				continue
			}
			walk(c)
		}
	}
	walk(doc)
	return out
}

// sheetCleaner sanitises stylesheets for one message.
type sheetCleaner struct {
	s       *Sanitizer
	f       *finisher // for cid: mapping and the remote decision
	blocked int       // remote url() not loaded
	rules   int
	out     strings.Builder
}

// cleanSheets returns the sheets as one sanitised, scoped stylesheet.
func (s *Sanitizer) cleanSheets(sheets []string, f *finisher) (css string, blocked int) {
	c := &sheetCleaner{s: s, f: f}
	for _, sheet := range sheets {
		toks, ok := tokenizeCSS(sheet, maxCSSTokens)
		if !ok || cssDepth(toks) > maxCSSNesting {
			continue
		}
		c.ruleList(&c.out, toks, false)
	}
	css = c.out.String()
	if strings.Contains(css, "<") {
		// Cannot happen (see the serialisers); if it ever did, a
		// "</style>" would end the sheet, so nothing is better.
		return "", c.blocked
	}
	return css, c.blocked
}

// closerOf returns the token closing a block opened by k.
func closerOf(k cssKind) (cssKind, bool) {
	switch k {
	case cssLBrace:
		return cssRBrace, true
	case cssLBracket:
		return cssRBracket, true
	case cssLParen, cssFunction:
		return cssRParen, true
	}
	return 0, false
}

// cssDepth is the deepest block nesting in toks.
func cssDepth(toks []cssToken) int {
	var stack []cssKind
	deepest := 0
	for _, t := range toks {
		if len(stack) > 0 && t.kind == stack[len(stack)-1] {
			stack = stack[:len(stack)-1]
		} else if c, ok := closerOf(t.kind); ok {
			stack = append(stack, c)
			deepest = max(deepest, len(stack))
		}
	}
	return deepest
}

// skip returns the index after the component value at i: one token, or a
// whole block (§5.4.7), and whether a block there was closed.
func skip(toks []cssToken, i int) (int, bool) {
	c, ok := closerOf(toks[i].kind)
	i++
	if !ok {
		return i, true
	}
	stack := []cssKind{c}
	for i < len(toks) {
		k := toks[i].kind
		i++
		if k == stack[len(stack)-1] {
			if stack = stack[:len(stack)-1]; len(stack) == 0 {
				return i, true
			}
		} else if c, ok := closerOf(k); ok {
			stack = append(stack, c)
		}
	}
	return i, false
}

// ruleList consumes a list of rules (§5.4.1): style rules are kept, and
// @media at the top level; other at-rules (@import, @font-face, @charset,
// @namespace, @keyframes, @page, nested @media, …) are dropped.
func (c *sheetCleaner) ruleList(out *strings.Builder, toks []cssToken, inMedia bool) {
	for i := 0; i < len(toks); {
		switch t := toks[i]; t.kind {
		case cssWS, cssCDO, cssCDC:
			i++
		case cssAtKeyword:
			start := i + 1
			for i++; i < len(toks) && toks[i].kind != cssSemicolon && toks[i].kind != cssLBrace; {
				i, _ = skip(toks, i)
			}
			if i >= len(toks) || toks[i].kind == cssSemicolon {
				i++
				continue
			}
			prelude := toks[start:i]
			end, closed := skip(toks, i)
			block := toks[i+1 : end]
			if closed {
				block = toks[i+1 : end-1]
			}
			i = end
			if strings.EqualFold(t.value, "media") && !inMedia {
				c.media(out, prelude, block)
			}
		default:
			start := i
			for i < len(toks) && toks[i].kind != cssLBrace {
				i, _ = skip(toks, i)
			}
			if i >= len(toks) {
				return // a prelude without a block: dropped (§5.4.3)
			}
			prelude := toks[start:i]
			end, closed := skip(toks, i)
			if closed {
				c.styleRule(out, prelude, toks[i+1:end-1])
			}
			i = end
		}
	}
}

// media keeps an @media rule whose query list is plain (features,
// keywords, lengths), with its style rules sanitised.
func (c *sheetCleaner) media(out *strings.Builder, prelude, block []cssToken) {
	var q strings.Builder
	depth := 0
	for _, t := range prelude {
		switch t.kind {
		case cssWS:
			if q.Len() > 0 && !strings.HasSuffix(q.String(), " ") {
				q.WriteByte(' ')
			}
		case cssIdent:
			writeName(&q, t.value, true)
		case cssNumber:
			q.WriteString(t.num)
		case cssDimension:
			if !cssUnit.MatchString(t.value) {
				return
			}
			q.WriteString(t.num + t.value)
		case cssColon:
			q.WriteByte(':')
		case cssComma:
			q.WriteByte(',')
		case cssLParen:
			depth++
			q.WriteByte('(')
		case cssRParen:
			if depth--; depth < 0 {
				return
			}
			q.WriteByte(')')
		case cssDelim:
			if t.value != "/" {
				return
			}
			q.WriteByte('/')
		default:
			return
		}
	}
	query := strings.TrimSpace(q.String())
	if depth != 0 || query == "" {
		return
	}
	var inner strings.Builder
	c.ruleList(&inner, block, true)
	if inner.Len() == 0 {
		return // nothing survived: no empty @media in the output
	}
	out.WriteString("@media " + query + " {\n")
	out.WriteString(inner.String())
	out.WriteString("}\n")
}

// styleRule writes a style rule with its selectors scoped and its
// declarations filtered, if anything survives.
func (c *sheetCleaner) styleRule(out *strings.Builder, prelude, block []cssToken) {
	if c.rules >= maxCSSRules {
		return
	}
	sels := selectorList(prelude)
	if len(sels) == 0 {
		return
	}
	decls := c.declarations(block)
	if len(decls) == 0 {
		return
	}
	c.rules++
	out.WriteString(strings.Join(sels, ", "))
	out.WriteString(" { ")
	out.WriteString(strings.Join(decls, "; "))
	out.WriteString(" }\n")
}

// declarations filters a declaration list (§5.4.5). Nested rules (CSS
// Nesting) and at-rules in it are dropped.
func (c *sheetCleaner) declarations(block []cssToken) []string {
	var out []string
	for i := 0; i < len(block) && len(out) < maxDeclsInRule; {
		start := i
		nested := false
		for i < len(block) && block[i].kind != cssSemicolon {
			if block[i].kind == cssLBrace || block[i].kind == cssAtKeyword {
				nested = true
			}
			i, _ = skip(block, i)
		}
		if !nested {
			if d, ok := c.declaration(block[start:i]); ok {
				out = append(out, d)
			}
		}
		i++
	}
	return out
}

func trimWS(toks []cssToken) []cssToken {
	for len(toks) > 0 && toks[0].kind == cssWS {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == cssWS {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// declaration checks one "name: value [!important]" with the validators
// of style attributes, on the value as the tokens serialise: what is
// checked is what is written.
func (c *sheetCleaner) declaration(toks []cssToken) (string, bool) {
	toks = trimWS(toks)
	if len(toks) < 3 || toks[0].kind != cssIdent {
		return "", false
	}
	name := toks[0].value
	rest := trimWS(toks[1:])
	if len(rest) == 0 || rest[0].kind != cssColon {
		return "", false
	}
	value := trimWS(rest[1:])
	important := false
	if n := len(value); n >= 2 && value[n-1].kind == cssIdent && strings.EqualFold(value[n-1].value, "important") {
		bang := trimWS(value[:n-1])
		if len(bang) > 0 && bang[len(bang)-1].kind == cssDelim && bang[len(bang)-1].value == "!" {
			important = true
			value = trimWS(bang[:len(bang)-1])
		}
	}
	prop := strings.ToLower(name)
	base := prop
	for _, px := range cssPrefixes() {
		base = strings.TrimPrefix(base, px)
	}
	h := c.s.css[base]
	if h == nil {
		h = c.s.sheetCSS[base]
	}
	if h == nil || len(value) == 0 {
		return "", false
	}
	urlOK := base == "background" || base == "background-image"
	out, check, ok := c.value(value, urlOK)
	if !ok || !h(strings.ToLower(check)) {
		return "", false
	}
	var b strings.Builder
	writeName(&b, prop, true)
	b.WriteString(": ")
	b.WriteString(out)
	if important {
		b.WriteString(" !important")
	}
	return b.String(), true
}

// value serialises a declaration's value. check is the same text with
// the url(), if any, replaced by "none" for the property's validator; at
// most one url() is allowed, and only if urlOK.
func (c *sheetCleaner) value(toks []cssToken, urlOK bool) (out, check string, ok bool) {
	var b, chk strings.Builder
	both := func(s string) { b.WriteString(s); chk.WriteString(s) }
	urls, depth := 0, 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.kind {
		case cssWS:
			both(" ")
		case cssIdent:
			var n strings.Builder
			writeName(&n, t.value, true)
			both(n.String())
		case cssNumber:
			both(t.num)
		case cssPercentage:
			both(t.num + "%")
		case cssDimension:
			if !cssUnit.MatchString(t.value) {
				return "", "", false
			}
			both(t.num + t.value)
		case cssHash:
			var n strings.Builder
			n.WriteByte('#')
			writeName(&n, t.value, false)
			both(n.String())
		case cssString:
			var n strings.Builder
			writeString(&n, t.value)
			both(n.String())
		case cssComma:
			both(",")
		case cssDelim:
			if t.value != "/" {
				return "", "", false
			}
			both("/")
		case cssRParen:
			if depth == 0 {
				return "", "", false
			}
			depth--
			both(")")
		case cssFunction, cssURL:
			name := strings.ToLower(t.value)
			if t.kind == cssFunction && name != "url" {
				if depth > 0 || !cssColorFunc.MatchString(name+"(") {
					return "", "", false
				}
				depth++
				both(name + "(")
				continue
			}
			raw := t.value
			if t.kind == cssFunction {
				// url("…"): a string and the closing parenthesis.
				j := i + 1
				for j < len(toks) && toks[j].kind == cssWS {
					j++
				}
				if j >= len(toks) || toks[j].kind != cssString {
					return "", "", false
				}
				raw = toks[j].value
				for j++; j < len(toks) && toks[j].kind == cssWS; j++ {
				}
				if j >= len(toks) || toks[j].kind != cssRParen {
					return "", "", false
				}
				i = j
			}
			if urls++; !urlOK || urls > 1 || depth > 0 {
				return "", "", false
			}
			u, keep := c.url(raw)
			if !keep {
				return "", "", false
			}
			b.WriteString("url(")
			writeString(&b, u)
			b.WriteString(")")
			chk.WriteString("none")
		default:
			return "", "", false
		}
	}
	if depth != 0 {
		return "", "", false
	}
	return b.String(), chk.String(), true
}

// url decides a url() as an image source: cid: mapped, data: raster
// images kept, remote ones only if remote content is allowed (else
// counted), anything else dropped.
func (c *sheetCleaner) url(raw string) (string, bool) {
	v := cleanURL(raw)
	switch {
	case hasPrefixFold(v, "cid:"):
		u := c.f.mapCID(v[len("cid:"):])
		return u, u != ""
	case dataImageURL.MatchString(v):
		return v, true
	case isRemoteURL(v):
		if c.f.opts.AllowRemoteImages {
			u := withScheme(v)
			return u, isHTTPURL(u)
		}
		c.blocked++
	}
	return "", false
}

// selectorList scopes each selector of a rule under #ScopeID; nil if any
// of them is not allowed (as a browser drops a rule with one invalid
// selector).
func selectorList(prelude []cssToken) []string {
	var out []string
	start := 0
	for i := 0; i <= len(prelude); i++ {
		if i < len(prelude) && prelude[i].kind != cssComma {
			continue
		}
		sel, ok := selector(trimWS(prelude[start:i]))
		if !ok || len(out) == maxSelectorsInRule {
			return nil
		}
		out = append(out, sel)
		start = i + 1
	}
	return out
}

// compound is one compound selector: its text without the type selector
// if that is html or body, and whether it names the message's root
// (html, body, :root or #ScopeID), which becomes the scope.
type compound struct {
	comb  string // the combinator before it: "", " ", " > ", " + ", " ~ "
	text  string
	scope bool
}

// selector serialises a complex selector scoped under #ScopeID. Leading
// compounds naming the root (html, body, :root) become the scope element
// itself; a root anywhere else, or a root followed by a sibling
// combinator, cannot match in the message and drops the selector.
func selector(toks []cssToken) (string, bool) {
	if len(toks) == 0 {
		return "", false
	}
	var parts []compound
	comb := ""
	for i := 0; i < len(toks); {
		cp, next, ok := compoundAt(toks, i)
		if !ok {
			return "", false
		}
		cp.comb = comb
		parts = append(parts, cp)
		i = next
		ws := false
		for i < len(toks) && toks[i].kind == cssWS {
			i, ws = i+1, true
		}
		if i >= len(toks) {
			break
		}
		switch t := toks[i]; {
		case t.kind == cssDelim && (t.value == ">" || t.value == "+" || t.value == "~"):
			comb = " " + t.value + " "
			for i++; i < len(toks) && toks[i].kind == cssWS; i++ {
			}
			if i >= len(toks) {
				return "", false
			}
		case ws:
			comb = " "
		default:
			return "", false
		}
	}
	lead := 0
	for lead < len(parts) && parts[lead].scope {
		if lead > 0 && parts[lead].comb != " " && parts[lead].comb != " > " {
			return "", false
		}
		lead++
	}
	for _, p := range parts[lead:] {
		if p.scope {
			return "", false
		}
	}
	var b strings.Builder
	b.WriteString("#" + ScopeID)
	rest := parts
	if lead > 0 {
		b.WriteString(parts[lead-1].text)
		rest = parts[lead:]
		if len(rest) > 0 && (rest[0].comb == " + " || rest[0].comb == " ~ ") {
			return "", false
		}
	} else {
		rest[0].comb = " "
	}
	for _, p := range rest {
		b.WriteString(p.comb)
		b.WriteString(p.text)
	}
	return b.String(), true
}

// compoundAt reads the compound selector starting at toks[i].
func compoundAt(toks []cssToken, i int) (compound, int, bool) {
	var cp compound
	var b strings.Builder
	first := true
	for ; i < len(toks); first = false {
		t := toks[i]
		switch {
		case t.kind == cssIdent && first:
			if l := strings.ToLower(t.value); l == "html" || l == "body" {
				cp.scope = true
			} else {
				writeName(&b, t.value, true)
			}
			i++
		case t.kind == cssDelim && t.value == "*" && first:
			b.WriteByte('*')
			i++
		case t.kind == cssHash && t.id:
			if t.value == ScopeID {
				cp.scope = true
			} else {
				b.WriteByte('#')
				writeName(&b, t.value, true)
			}
			i++
		case t.kind == cssDelim && t.value == "." && i+1 < len(toks) && toks[i+1].kind == cssIdent:
			b.WriteByte('.')
			writeName(&b, toks[i+1].value, true)
			i += 2
		case t.kind == cssLBracket:
			end, closed := skip(toks, i)
			if !closed || !attrSelector(&b, toks[i+1:end-1]) {
				return cp, 0, false
			}
			i = end
		case t.kind == cssColon:
			n, ok := pseudo(&b, toks, i, &cp)
			if !ok {
				return cp, 0, false
			}
			i = n
		default:
			if first {
				return cp, 0, false
			}
			cp.text = b.String()
			return cp, i, true
		}
		if i < len(toks) && (toks[i].kind == cssWS || toks[i].kind == cssDelim && strings.Contains(">+~", toks[i].value)) {
			break
		}
	}
	cp.text = b.String()
	return cp, i, true
}

// pseudo reads ":name", "::name" or ":nth-…(An+B)" at toks[i].
func pseudo(b *strings.Builder, toks []cssToken, i int, cp *compound) (int, bool) {
	colons := ":"
	i++
	if i < len(toks) && toks[i].kind == cssColon {
		colons, i = "::", i+1
	}
	if i >= len(toks) {
		return 0, false
	}
	t := toks[i]
	name := strings.ToLower(t.value)
	switch {
	case t.kind == cssIdent && colons == ":" && name == "root":
		cp.scope = true
		return i + 1, true
	case t.kind == cssIdent && pseudoClasses[name] && name != "root":
		b.WriteString(colons + name)
		return i + 1, true
	case t.kind == cssFunction && colons == ":" && nthFunctions[name]:
		end, closed := skip(toks, i)
		if !closed {
			return 0, false
		}
		var arg strings.Builder
		for _, a := range toks[i+1 : end-1] {
			switch {
			case a.kind == cssWS:
				arg.WriteByte(' ')
			case a.kind == cssIdent && nthIdent.MatchString(a.value):
				arg.WriteString(strings.ToLower(a.value))
			case a.kind == cssNumber:
				arg.WriteString(a.num)
			case a.kind == cssDimension && nthUnit.MatchString(a.value):
				arg.WriteString(a.num + strings.ToLower(a.value))
			case a.kind == cssDelim && (a.value == "+" || a.value == "-"):
				arg.WriteString(a.value)
			default:
				return 0, false
			}
		}
		b.WriteString(":" + name + "(" + strings.TrimSpace(arg.String()) + ")")
		return end, true
	}
	return 0, false
}

// attrSelector writes "[name]" or "[name op value flag]".
func attrSelector(b *strings.Builder, toks []cssToken) bool {
	toks = trimWS(toks)
	if len(toks) == 0 || toks[0].kind != cssIdent {
		return false
	}
	b.WriteByte('[')
	writeName(b, toks[0].value, true)
	rest := trimWS(toks[1:])
	if len(rest) == 0 {
		b.WriteByte(']')
		return true
	}
	op := ""
	if rest[0].kind == cssDelim && strings.Contains("~|^$*", rest[0].value) && len(rest) > 1 && rest[1].kind == cssDelim && rest[1].value == "=" {
		op, rest = rest[0].value+"=", rest[2:]
	} else if rest[0].kind == cssDelim && rest[0].value == "=" {
		op, rest = "=", rest[1:]
	} else {
		return false
	}
	rest = trimWS(rest)
	if len(rest) == 0 || (rest[0].kind != cssIdent && rest[0].kind != cssString) {
		return false
	}
	b.WriteString(op)
	writeString(b, rest[0].value)
	rest = trimWS(rest[1:])
	if len(rest) == 1 && rest[0].kind == cssIdent && (strings.EqualFold(rest[0].value, "i") || strings.EqualFold(rest[0].value, "s")) {
		b.WriteString(" " + strings.ToLower(rest[0].value))
		rest = nil
	}
	if len(rest) != 0 {
		return false
	}
	b.WriteByte(']')
	return true
}
