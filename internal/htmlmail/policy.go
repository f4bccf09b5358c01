package htmlmail

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/microcosm-cc/bluemonday"
	"github.com/microcosm-cc/bluemonday/css"
)

// Attribute value formats. These are compiled once and only read afterwards.
var (
	// colorAttr accepts what mail actually contains in bgcolor/color, including
	// the legacy "ffffff" without '#'; browsers' legacy colour parsing copes.
	colorAttr   = regexp.MustCompile(`^#?[0-9a-zA-Z]{1,20}$`)
	integerAttr = regexp.MustCompile(`^[0-9]{1,4}$`)
	lengthAttr  = regexp.MustCompile(`^[0-9]{1,5}(%|px)?$`)
	fontFace    = regexp.MustCompile(`^[\p{L}\p{N} ,'"_-]{1,100}$`)
	fontSize    = regexp.MustCompile(`^[+-]?[1-7]$`)
	blockAlign  = regexp.MustCompile(`(?i)^(left|right|center|justify)$`)
	// backgroundAttr only lets through what the pre-pass left behind; the
	// post-pass decides what finally happens to it.
	backgroundAttr = regexp.MustCompile(`(?i)^(https?|cid):[^\s"'<>\\]+$`)
	blockedAttr    = regexp.MustCompile(`^remote$`)
	roleAttr       = regexp.MustCompile(`^(presentation|none)$`)
	// classAttr: class names as newsletters write them; the final pass
	// keeps them only when the sheets are kept too.
	classAttr    = regexp.MustCompile(`^[\p{L}\p{N} _-]{1,500}$`)
	noshadeAttr  = regexp.MustCompile(`(?i)^(|noshade)$`)
	dataImageURL = regexp.MustCompile(`(?i)^data:image/(png|gif|jpeg|webp);base64,[a-z0-9+/]+=*$`)
	// cssColorFunc is the only CSS function syntax allowed in a value: any
	// other '(' could be url(), expression(), image-set(), var()…
	cssColorFunc = regexp.MustCompile(`\b(rgba?|hsla?)\(`)
	fontFamily   = regexp.MustCompile(`^("[^"]+"|'[^']+'|[^"',]+)$`)
	// fontFamilyToken is one space-separated word of a family list in the
	// font shorthand: `"Helvetica`, `Neue",` or `serif`.
	fontFamilyToken = regexp.MustCompile(`^["']?[\p{L}\p{N}_-]+["']?,?$`)
)

// allowedElements is the element allowlist shared by the bluemonday policy
// and the final tree walk, so the two cannot drift apart. tbody is listed
// because the parser inserts it.
func allowedElements() []string {
	return []string{
		// Text structure.
		"p", "div", "span", "br", "hr", "wbr", "pre", "blockquote", "center",
		"h1", "h2", "h3", "h4", "h5", "h6", "address",
		"article", "aside", "section", "header", "footer", "main", "hgroup",
		"figure", "figcaption", "details", "summary",
		// Phrasing and old-school formatting.
		"a", "abbr", "acronym", "b", "big", "bdi", "bdo", "cite", "code",
		"del", "dfn", "em", "font", "i", "ins", "kbd", "mark", "q", "rp",
		"rt", "ruby", "s", "samp", "small", "strike", "strong", "sub", "sup",
		"time", "tt", "u", "var",
		// Lists and tables.
		"ol", "ul", "li", "dl", "dt", "dd",
		"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot",
		"tr", "td", "th",
		// Images and image maps.
		"img", "map", "area",
	}
}

// cssProperties is the inline CSS allowlist. position, z-index, transforms,
// anything taking url() and anything animating is deliberately absent.
func cssProperties() []string {
	props := []string{
		"color", "background-color", "background",
		"font", "font-family", "font-size", "font-style", "font-weight", "font-variant",
		"text-align", "text-decoration", "text-transform", "text-indent",
		"letter-spacing", "word-spacing", "white-space", "word-break", "word-wrap",
		"overflow-wrap", "line-height", "vertical-align",
		"margin", "padding",
		"border", "border-color", "border-style", "border-width", "border-radius",
		"border-collapse", "border-spacing",
		"width", "height", "min-width", "max-width", "min-height", "max-height",
		"display", "float", "clear", "table-layout", "overflow",
		"list-style", "list-style-type", "list-style-position",
	}
	for _, side := range []string{"top", "right", "bottom", "left"} {
		props = append(props,
			"margin-"+side, "padding-"+side,
			"border-"+side, "border-"+side+"-color", "border-"+side+"-style", "border-"+side+"-width")
	}
	return props
}

// cssHandler returns the validator for an allowed CSS property. The value
// it is given must already be lower-case. bluemonday calls it with CSS hex
// escapes decoded; the final pass calls it with the raw value, where any
// remaining backslash is rejected by safeCSSValue.
//
// Multi-value properties are checked token by token with shorthand instead
// of bluemonday's default handlers: those try every way of grouping the
// words (exponential in their number — "font: italic italic …" took 160 ms
// for one declaration), which a message could repeat a million times.
func cssHandler(prop string) func(string) bool {
	var h func(string) bool
	switch prop {
	case "display":
		// Only what layouts need; no "contents"/"flex" tricks.
		h = keywords("none", "block", "inline", "inline-block")
	case "font-family":
		// bluemonday's default rejects quoted names ("Helvetica Neue"),
		// which nearly every newsletter uses.
		h = func(v string) bool {
			for _, f := range strings.Split(v, ",") {
				if !fontFamily.MatchString(strings.TrimSpace(f)) {
					return false
				}
			}
			return true
		}
	case "font":
		h = shorthand(8, true, css.FontStyleHandler, css.FontVariantHandler, css.FontWeightHandler,
			css.FontSizeHandler, css.LineHeightHandler, fontFamilyToken.MatchString)
	case "background":
		// No image: url() is rejected by the guard, "none" is harmless.
		h = shorthand(6, true, css.ColorHandler, css.BackgroundRepeatHandler,
			css.BackgroundAttachmentHandler, css.LengthHandler,
			keywords("none", "left", "right", "top", "bottom", "center", "auto", "cover", "contain",
				"border-box", "padding-box", "content-box"))
	case "margin", "margin-top", "margin-right", "margin-bottom", "margin-left":
		h = shorthand(4, false, css.MarginSideHandler)
	case "padding", "padding-top", "padding-right", "padding-bottom", "padding-left":
		h = shorthand(4, false, css.PaddingSideHandler)
	case "border", "border-top", "border-right", "border-bottom", "border-left":
		h = shorthand(3, false, css.BorderSideWidthHandler, css.BorderSideStyleHandler, css.ColorHandler)
	case "border-color", "border-top-color", "border-right-color", "border-bottom-color", "border-left-color":
		h = shorthand(4, false, css.ColorHandler)
	case "border-style", "border-top-style", "border-right-style", "border-bottom-style", "border-left-style":
		h = shorthand(4, false, css.BorderSideStyleHandler)
	case "border-width", "border-top-width", "border-right-width", "border-bottom-width", "border-left-width":
		h = shorthand(4, false, css.BorderSideWidthHandler)
	case "border-radius":
		h = shorthand(8, true, css.LengthHandler)
	case "border-spacing":
		h = shorthand(2, false, css.LengthHandler)
	case "text-decoration":
		h = shorthand(4, false, css.TextDecorationLineHandler, css.TextDecorationStyleHandler, css.ColorHandler)
	case "list-style":
		h = shorthand(3, false, css.ListStyleTypeHandler, css.ListStylePositionHandler)
	default:
		// Single-value properties: bluemonday's handlers are a regexp
		// or an enum lookup.
		h = css.GetDefaultHandler(prop)
	}
	return func(v string) bool { return safeCSSValue(v) && h(v) }
}

// shorthand accepts a value of at most max tokens (see cssTokens), each of
// which one of hs accepts. It is laxer than the CSS grammar about order and
// repetition; that only lets through values the browser will ignore, while
// safety comes from safeCSSValue.
func shorthand(max int, slash bool, hs ...func(string) bool) func(string) bool {
	return func(v string) bool {
		if v == "initial" || v == "inherit" {
			return true
		}
		toks := cssTokens(v, slash)
		if len(toks) == 0 || len(toks) > max {
			return false
		}
	next:
		for _, t := range toks {
			for _, h := range hs {
				if h(t) {
					continue next
				}
			}
			return false
		}
		return true
	}
}

// cssTokens splits a value on spaces, and on '/' if slash is set (font
// size/line-height, border radii), keeping a parenthesised colour function
// with its inner spaces as one token.
func cssTokens(v string, slash bool) []string {
	var toks []string
	depth, start := 0, 0
	for i, r := range v {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0 && (r == ' ' || (slash && r == '/')):
			if i > start {
				toks = append(toks, v[start:i])
			}
			start = i + 1
		}
	}
	if start < len(v) {
		toks = append(toks, v[start:])
	}
	return toks
}

func keywords(words ...string) func(string) bool {
	return func(v string) bool {
		for _, w := range words {
			if v == w {
				return true
			}
		}
		return false
	}
}

// safeCSSValue is the guard in front of every CSS value check: a character
// allowlist that leaves no room for functions other than colours, escapes,
// comments, at-rules or a second declaration.
func safeCSSValue(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	rest := cssColorFunc.ReplaceAllString(v, "")
	for _, r := range rest {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case strings.ContainsRune(` #%.,-+'"/)_`, r):
		case r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			// Non-Latin font names; no Unicode letter is CSS syntax.
		default:
			return false
		}
	}
	return !strings.Contains(rest, "/*")
}

// cssPrefixes mirrors the vendor prefixes bluemonday strips before looking a
// property up, so the final pass judges "-webkit-border-radius" the same way.
func cssPrefixes() []string {
	return []string{"-webkit-", "-moz-", "-ms-", "-o-", "mso-", "-xv-", "-atsc-",
		"-wap-", "-khtml-", "prince-", "-ah-", "-hp-", "-ro-", "-rim-", "-tc-"}
}

// newPolicy builds the bluemonday policy: UGC as the base, then tightened
// (URLs) and widened (newsletter layout attributes, inline CSS).
func newPolicy(cssRules map[string]func(string) bool) *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowElements(allowedElements()...)

	// An email has no base URL: a relative link would resolve against the
	// webmail's own origin. cid: survives so the final pass can map it.
	p.AllowRelativeURLs(false)
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.AllowURLSchemeWithCustomPolicy("data", func(u *url.URL) bool {
		return dataImageURL.MatchString(u.String())
	})
	// target and rel on links are set by the final pass, uniformly.

	// Layout attributes newsletters depend on.
	p.AllowAttrs("align").Matching(blockAlign).OnElements(
		"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "caption", "center")
	p.AllowAttrs("bgcolor").Matching(colorAttr).OnElements("table", "tr", "td", "th", "thead", "tbody", "tfoot")
	p.AllowAttrs("background").Matching(backgroundAttr).OnElements("table", "tr", "td", "th")
	p.AllowAttrs("width", "height").Matching(lengthAttr).OnElements("table", "td", "th", "img", "hr", "col", "colgroup")
	p.AllowAttrs("border", "cellpadding", "cellspacing").Matching(integerAttr).OnElements("table")
	p.AllowAttrs("border", "hspace", "vspace").Matching(integerAttr).OnElements("img")
	p.AllowAttrs("data-blocked").Matching(blockedAttr).OnElements("img")
	p.AllowAttrs("role").Matching(roleAttr).OnElements("table")
	p.AllowAttrs("color").Matching(colorAttr).OnElements("font", "hr")
	p.AllowAttrs("face").Matching(fontFace).OnElements("font")
	p.AllowAttrs("size").Matching(fontSize).OnElements("font")
	p.AllowAttrs("size").Matching(integerAttr).OnElements("hr")
	p.AllowAttrs("noshade").Matching(noshadeAttr).OnElements("hr")
	p.AllowAttrs("start").Matching(integerAttr).OnElements("ol")
	p.AllowAttrs("class").Matching(classAttr).Globally()

	for prop, h := range cssRules {
		p.AllowStyles(prop).MatchingHandler(h).Globally()
	}
	return p
}
