package htmlmail

import (
	"html"
	"regexp"
	"strings"
)

// linkCandidate finds things to linkify. Only http, https and mailto are
// recognised, so "javascript:" can never become a link. The character class
// is RFC 3986 plus non-ASCII letters (IRIs) minus quotes and angle brackets,
// which in plain text almost always delimit the URL rather than belong to it.
var linkCandidate = regexp.MustCompile(`(?i)\b(?:https?://|mailto:)[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%\p{L}\p{N}\p{M}]+`)

// plainWrapper marks the text for the page's style sheet, which keeps line
// breaks and runs of spaces (signatures, ASCII tables) while still wrapping
// long lines (white-space: pre-wrap), as <pre> would not. A style
// attribute would be refused by the webmail's Content-Security-Policy.
const plainWrapper = `<div class="plaintext">`

// PlainToHTML renders a text/plain body as an HTML fragment: every character
// is escaped, http(s) and mailto URLs become links (target="_blank",
// rel="noopener noreferrer nofollow"), lines quoted with ">" are nested in
// <blockquote type="cite">, and with flowed set the soft line breaks of
// format=flowed (RFC 3676, DelSp=no) are joined so paragraphs re-wrap to the
// window.
func PlainToHTML(text string, flowed bool) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\x00", "\uFFFD").Replace(text)
	text = strings.TrimSuffix(text, "\n")

	var b strings.Builder
	b.WriteString(plainWrapper)
	depth := 0
	for i, p := range splitParagraphs(strings.Split(text, "\n"), flowed) {
		if i > 0 && p.depth == depth {
			b.WriteByte('\n')
		}
		// Block boundaries break the line themselves; a '\n' next to
		// one would show as an empty line under pre-wrap.
		for ; depth < p.depth; depth++ {
			b.WriteString(`<blockquote type="cite">`)
		}
		for ; depth > p.depth; depth-- {
			b.WriteString(`</blockquote>`)
		}
		b.WriteString(linkify(p.text))
	}
	for ; depth > 0; depth-- {
		b.WriteString(`</blockquote>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}

type paragraph struct {
	depth int
	text  string
	// open means the last line joined into text ended in a soft break.
	open bool
}

// splitParagraphs strips quote markers and, for flowed text, joins lines
// ending in a soft break (a trailing space) with the next line of the same
// quote depth.
func splitParagraphs(lines []string, flowed bool) []paragraph {
	var out []paragraph
	for _, l := range lines {
		d, rest := quotePrefix(l, flowed)
		if !flowed {
			out = append(out, paragraph{depth: d, text: rest})
			continue
		}
		if n := len(out); n > 0 && out[n-1].open && out[n-1].depth == d {
			out[n-1].text += rest
		} else {
			out = append(out, paragraph{depth: d, text: rest})
		}
		// The signature separator "-- " is the one line whose trailing
		// space is not a soft break.
		out[len(out)-1].open = strings.HasSuffix(rest, " ") && rest != "-- "
	}
	return out
}

// quotePrefix returns the quote depth of a line and the line without its
// markers. In flowed text the markers are a plain run of '>' followed by
// optional space-stuffing (RFC 3676 4.4, 4.5); in fixed text "> > " nesting
// is common too, and unquoted lines keep their leading spaces.
func quotePrefix(l string, flowed bool) (int, string) {
	d := 0
	for {
		switch {
		case strings.HasPrefix(l, ">"):
			d++
			l = l[1:]
			continue
		case !flowed && d > 0 && strings.HasPrefix(l, " >"):
			l = l[1:]
			continue
		}
		break
	}
	if (flowed || d > 0) && strings.HasPrefix(l, " ") {
		l = l[1:]
	}
	return d, l
}

// linkify escapes s and turns URLs in it into links.
func linkify(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range linkCandidate.FindAllStringIndex(s, -1) {
		start := m[0]
		u := trimURLTail(s[start:m[1]])
		if !safeLink(u) {
			continue
		}
		b.WriteString(html.EscapeString(s[last:start]))
		e := html.EscapeString(u)
		b.WriteString(`<a href="` + e + `" target="_blank" rel="noopener noreferrer nofollow">` + e + `</a>`)
		last = start + len(u)
	}
	b.WriteString(html.EscapeString(s[last:]))
	return b.String()
}

// trimURLTail drops sentence punctuation after a URL, keeping a closing
// bracket when the URL opened one (Wikipedia's "Foo_(bar)").
func trimURLTail(u string) string {
	for u != "" {
		switch c := u[len(u)-1]; c {
		case '.', ',', ';', ':', '!', '?':
		case ')':
			if strings.Count(u, "(") >= strings.Count(u, ")") {
				return u
			}
		case ']':
			if strings.Count(u, "[") >= strings.Count(u, "]") {
				return u
			}
		default:
			return u
		}
		u = u[:len(u)-1]
	}
	return u
}
