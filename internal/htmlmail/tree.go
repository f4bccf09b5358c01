package htmlmail

import (
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// dropWithContent reports elements removed together with everything inside
// them: what they contain is code, stylesheets, embedded documents, form
// state or metadata, never text the sender meant the reader to see. Elements
// that are merely not allowed (button, marquee, …) are unwrapped instead so
// their text survives.
func dropWithContent(tag string) bool {
	switch tag {
	case "script", "style", "template", "noscript", "noembed", "noframes",
		"iframe", "frame", "frameset", "object", "embed", "applet", "param",
		"audio", "video", "source", "track", "canvas", "portal",
		"head", "title", "meta", "link", "base", "basefont", "bgsound",
		"input", "textarea", "select", "option", "optgroup", "datalist", "keygen",
		"svg", "math":
		return true
	}
	return false
}

// harmlessAttr lists attributes that carry no URL, no script and no CSS, so
// their value only needs HTML escaping (which rendering does). bluemonday
// has already checked their format per element; this list is the backstop.
func harmlessAttr(key string) bool {
	switch key {
	case "id", "title", "dir", "lang", "align", "valign", "width", "height",
		"bgcolor", "color", "face", "size", "border", "cellpadding", "cellspacing",
		"colspan", "rowspan", "nowrap", "scope", "headers", "abbr", "summary",
		"span", "type", "start", "value", "alt", "hspace", "vspace", "noshade",
		"role", "open", "datetime", "coords", "shape", "name", "usemap",
		"min", "max", "low", "high", "optimum", "reversed", "data-blocked":
		return true
	}
	return false
}

func hasBackground(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Table, atom.Tr, atom.Td, atom.Th:
		return true
	}
	return false
}

// prepass works on the parsed original document: it selects the body,
// removes what must go with its content, and makes the remote-image
// decision while the original attributes (srcset, background, CSS url())
// are still there to be counted.
type prepass struct {
	opts    Options
	blocked int
}

func (p *prepass) run(doc *html.Node) (string, error) {
	body := findBody(doc)
	if body == nil {
		// A <frameset> document or similar: nothing displayable.
		return "", nil
	}
	p.clean(body)
	if w := p.bodyWrapper(body); w != nil {
		for body.FirstChild != nil {
			c := body.FirstChild
			body.RemoveChild(c)
			w.AppendChild(c)
		}
		body.AppendChild(w)
	}
	return renderChildren(body)
}

func findBody(doc *html.Node) *html.Node {
	for h := doc.FirstChild; h != nil; h = h.NextSibling {
		if h.Type != html.ElementNode || h.DataAtom != atom.Html {
			continue
		}
		for b := h.FirstChild; b != nil; b = b.NextSibling {
			if b.Type == html.ElementNode && b.DataAtom == atom.Body {
				return b
			}
		}
	}
	return nil
}

// bodyWrapper turns the presentational attributes of <body>, which the
// fragment loses, into a <div> so newsletter background colours survive.
// The style is checked later like any other.
func (p *prepass) bodyWrapper(body *html.Node) *html.Node {
	if bg := cleanURL(getAttr(body, "background")); isRemoteURL(bg) {
		// Kept out of the fragment even when images are allowed: a div
		// has no background attribute and CSS url() is never allowed.
		p.blocked++
	}
	var decls []string
	if c := cssColor(getAttr(body, "bgcolor")); c != "" {
		decls = append(decls, "background-color: "+c)
	}
	if c := cssColor(getAttr(body, "text")); c != "" {
		decls = append(decls, "color: "+c)
	}
	if st := getAttr(body, "style"); st != "" {
		p.blocked += countCSSURLs(st)
		decls = append(decls, st)
	}
	if len(decls) == 0 {
		return nil
	}
	return &html.Node{
		Type: html.ElementNode, Data: "div", DataAtom: atom.Div,
		Attr: []html.Attribute{{Key: "style", Val: strings.Join(decls, "; ")}},
	}
}

func (p *prepass) clean(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.TextNode:
		case c.Type != html.ElementNode, c.Namespace != "", dropWithContent(c.Data):
			// Comments too: conditional comments are Outlook-only markup.
			n.RemoveChild(c)
		case c.DataAtom == atom.Xmp || c.DataAtom == atom.Plaintext:
			// Their text is rendered verbatim, not escaped, and <plaintext>
			// stops rendering altogether; as plain text nodes it is escaped.
			next = unwrap(n, c)
		default:
			p.element(c)
			p.clean(c)
		}
		c = next
	}
}

func (p *prepass) element(n *html.Node) {
	switch {
	case n.DataAtom == atom.Img:
		p.image(n)
	case hasBackground(n):
		p.background(n)
	}
	if st := getAttr(n, "style"); st != "" {
		p.blocked += countCSSURLs(st)
	}
}

// image settles on one src. srcset is dropped (it would need its own URL
// policy) but stands in for a missing src; the legacy lowsrc/dynsrc and any
// data-blocked the sender wrote go too.
func (p *prepass) image(n *html.Node) {
	src := cleanURL(getAttr(n, "src"))
	if src == "" {
		src = firstSrcsetURL(getAttr(n, "srcset"))
	}
	removeAttrs(n, "src", "srcset", "lowsrc", "dynsrc", "data-blocked")
	switch {
	case src == "":
	case isRemoteURL(src):
		if p.opts.AllowRemoteImages {
			setAttr(n, "src", withScheme(src))
			return
		}
		// No src at all rather than src="": an empty src makes some
		// browsers request the page itself. width/height keep the layout,
		// and the marker lets the webmail style the hole.
		setAttr(n, "data-blocked", "remote")
		p.blocked++
	default:
		// cid:, data: or junk; the policy and the final pass decide.
		setAttr(n, "src", src)
	}
}

func (p *prepass) background(n *html.Node) {
	v := cleanURL(getAttr(n, "background"))
	removeAttrs(n, "background")
	switch {
	case v == "":
	case isRemoteURL(v):
		if p.opts.AllowRemoteImages {
			setAttr(n, "background", withScheme(v))
		} else {
			p.blocked++
		}
	case hasPrefixFold(v, "cid:"):
		setAttr(n, "background", v)
	}
}

// finisher is the final, authoritative pass over the tree parsed from
// bluemonday's output.
type finisher struct {
	s    *Sanitizer
	opts Options
}

func (f *finisher) clean(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.TextNode:
		case c.Type != html.ElementNode, c.Namespace != "", dropWithContent(c.Data):
			n.RemoveChild(c)
		case !f.s.elements[c.Data]:
			next = unwrap(n, c)
		default:
			f.attrs(c)
			f.clean(c)
		}
		c = next
	}
}

func (f *finisher) attrs(n *html.Node) {
	kept := make([]html.Attribute, 0, len(n.Attr)+2)
	link := false
	for _, a := range n.Attr {
		if a.Namespace != "" {
			continue
		}
		switch a.Key {
		case "href":
			if (n.DataAtom == atom.A || n.DataAtom == atom.Area) && safeLink(a.Val) {
				kept = append(kept, a)
				link = true
			}
		case "src", "background":
			if (a.Key == "src" && n.DataAtom == atom.Img) || (a.Key == "background" && hasBackground(n)) {
				if a.Val = f.resource(a.Val); a.Val != "" {
					kept = append(kept, a)
				}
			}
		case "style":
			if a.Val = f.s.cleanStyle(a.Val); a.Val != "" {
				kept = append(kept, a)
			}
		case "class":
			// Only for the sheets kept with Options.Styles to match.
			if f.opts.Styles && classAttr.MatchString(a.Val) {
				kept = append(kept, a)
			}
		case "id":
			// The caller's wrapper has this id: a second one would
			// confuse its scripts (the sheets stay scoped either way).
			if a.Val != ScopeID && !scriptyValue(a.Val) {
				kept = append(kept, a)
			}
		case "target", "rel", "referrerpolicy":
			// Set below where they matter.
		default:
			if harmlessAttr(a.Key) && !scriptyValue(a.Val) {
				kept = append(kept, a)
			}
		}
	}
	if link {
		// _blank so a click never navigates the iframe (or, with a
		// permissive sandbox, the webmail); noopener/noreferrer so the
		// target gets neither a handle on us nor the message URL.
		kept = append(kept,
			html.Attribute{Key: "target", Val: "_blank"},
			html.Attribute{Key: "rel", Val: "noopener noreferrer nofollow"})
	}
	if n.DataAtom == atom.Img && isHTTPURL(getAttrOf(kept, "src")) {
		// The Referer would tell the sender's server the webmail URL of
		// the message.
		kept = append(kept, html.Attribute{Key: "referrerpolicy", Val: "no-referrer"})
	}
	n.Attr = kept
}

// resource decides an image URL (img src or a background attribute).
func (f *finisher) resource(v string) string {
	switch {
	case hasPrefixFold(v, "cid:"):
		return f.mapCID(v[len("cid:"):])
	case dataImageURL.MatchString(v):
		return v
	case f.opts.AllowRemoteImages && isHTTPURL(v):
		return v
	}
	return ""
}

func (f *finisher) mapCID(raw string) string {
	if f.opts.CIDURL == nil {
		return ""
	}
	id, err := url.PathUnescape(raw)
	if err != nil {
		id = raw
	}
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if id == "" {
		return ""
	}
	// The callback is ours, but a mistake there must not become a hole
	// here.
	if u := f.opts.CIDURL(id); isHTTPURL(u) || isLocalPath(u) {
		return u
	}
	return ""
}

// cleanStyle re-checks a style attribute declaration by declaration with
// the same validators the policy used, on the raw value this time. It
// returns "" when nothing survives.
func (s *Sanitizer) cleanStyle(v string) string {
	var kept []string
	for _, decl := range strings.Split(v, ";") {
		prop, val, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		prop, val = strings.TrimSpace(prop), strings.TrimSpace(val)
		base := strings.ToLower(prop)
		for _, px := range cssPrefixes() {
			base = strings.TrimPrefix(base, px)
		}
		if h := s.css[base]; h != nil && h(strings.ToLower(val)) {
			kept = append(kept, prop+": "+val)
		}
	}
	return strings.Join(kept, "; ")
}

// verify parses the final output again, as the browser will, and checks it
// with the same rules. html.Render is not guaranteed to round-trip (that
// is what mutation XSS exploits), so this is the only check of what the
// browser will actually build.
func (s *Sanitizer) verify(out string) error {
	root, err := parseFragment(out)
	if err != nil {
		return fmt.Errorf("htmlmail: verifying output: %w", err)
	}
	if bad := s.firstUnsafe(root); bad != "" {
		return fmt.Errorf("htmlmail: output failed verification: %s", bad)
	}
	return nil
}

func (s *Sanitizer) firstUnsafe(n *html.Node) string {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			continue
		case html.ElementNode:
		default:
			return fmt.Sprintf("node of type %d", c.Type)
		}
		if c.Namespace != "" || !s.elements[c.Data] {
			return fmt.Sprintf("element <%s>", c.Data)
		}
		for _, a := range c.Attr {
			if !s.safeAttr(c, a) {
				return fmt.Sprintf("attribute %q on <%s>", a.Key, c.Data)
			}
		}
		if bad := s.firstUnsafe(c); bad != "" {
			return bad
		}
	}
	return ""
}

func (s *Sanitizer) safeAttr(n *html.Node, a html.Attribute) bool {
	if a.Namespace != "" {
		return false
	}
	switch a.Key {
	case "href":
		return (n.DataAtom == atom.A || n.DataAtom == atom.Area) && safeLink(a.Val)
	case "src":
		return n.DataAtom == atom.Img && safeResource(a.Val)
	case "background":
		return hasBackground(n) && safeResource(a.Val)
	case "style":
		return s.cleanStyle(a.Val) == a.Val
	case "target":
		return a.Val == "_blank"
	case "rel":
		return a.Val == "noopener noreferrer nofollow"
	case "referrerpolicy":
		return a.Val == "no-referrer"
	case "class":
		return classAttr.MatchString(a.Val)
	}
	return harmlessAttr(a.Key) && !scriptyValue(a.Val)
}

// unwrap replaces c by its children and returns the node to continue with:
// the first former child, or what followed c.
func unwrap(parent, c *html.Node) *html.Node {
	first, next := c.FirstChild, c.NextSibling
	for c.FirstChild != nil {
		ch := c.FirstChild
		c.RemoveChild(ch)
		parent.InsertBefore(ch, c)
	}
	parent.RemoveChild(c)
	if first != nil {
		return first
	}
	return next
}

func getAttr(n *html.Node, key string) string {
	return getAttrOf(n.Attr, key)
}

func getAttrOf(attrs []html.Attribute, key string) string {
	for _, a := range attrs {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func setAttr(n *html.Node, key, val string) {
	removeAttrs(n, key)
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}

func removeAttrs(n *html.Node, keys ...string) {
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		drop := false
		for _, k := range keys {
			if a.Key == k {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, a)
		}
	}
	n.Attr = kept
}
