package junk

import (
	"bytes"
	"html"
)

// clueTags are HTML elements whose presence tells something about a
// message (spam favours fonts, images, tables, forms and hidden styling);
// each gives an "html:" token. Other tags are dropped silently.
var clueTags = map[string]bool{
	"font": true, "img": true, "table": true, "center": true, "form": true,
	"input": true, "iframe": true, "script": true, "style": true, "a": true,
	"b": true, "map": true, "area": true, "object": true, "embed": true,
	"blink": true, "marquee": true, "base": true, "meta": true,
}

// html reduces an HTML body to its text, for the word tokenizer: tags
// removed (their URLs and clue tags tokenized), comments, scripts and
// styles dropped, character references decoded. A comment inside a word
// ("vi<!-- -->agra", a classic trick) joins the word back together.
func (t *tokenizer) html(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i]...)
		b = b[i:]
		if bytes.HasPrefix(b, []byte("<!--")) {
			end := bytes.Index(b[4:], []byte("-->"))
			if end < 0 {
				break
			}
			b = b[4+end+3:]
			continue
		}
		end := bytes.IndexByte(b, '>')
		if end < 0 {
			break
		}
		tag := b[1:end]
		b = b[end+1:]
		name := tagName(tag)
		if name == "" {
			// "<" as text ("a < b").
			out = append(out, '<')
			out = append(out, tag...)
			out = append(out, '>')
			continue
		}
		if clueTags[name] && !t.full() {
			t.add("html:" + name)
		}
		t.urls(tag)
		if name == "script" || name == "style" {
			// Drop the content up to the closing tag.
			if k := indexFold(b, "</"+name); k >= 0 {
				b = b[k:]
			} else {
				b = nil
			}
			continue
		}
		// Block elements separate words; inline ones do not.
		switch name {
		case "br", "p", "div", "tr", "td", "th", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6", "/p", "/div", "/td", "/tr", "/li", "hr", "title", "/title":
			out = append(out, ' ')
		}
	}
	if bytes.IndexByte(out, '&') >= 0 {
		out = []byte(html.UnescapeString(string(out)))
	}
	return out
}

// tagName returns the lower-case name of a tag's inside ("a href=…" → "a",
// "/td" → "/td"), or "" if it does not look like a tag.
func tagName(tag []byte) string {
	i := 0
	if i < len(tag) && tag[i] == '/' {
		i++
	}
	j := i
	for j < len(tag) && (tag[j]|0x20 >= 'a' && tag[j]|0x20 <= 'z' || j > i && tag[j] >= '0' && tag[j] <= '9') {
		j++
	}
	if j == i || j-i > 10 {
		if len(tag) > 0 && tag[0] == '!' {
			return "!" // <!DOCTYPE>
		}
		return ""
	}
	return string(appendLower(nil, tag[:j]))
}

// indexFold is bytes.Index ignoring ASCII case of s.
func indexFold(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if hasPrefixFold(b[i:], s) {
			return i
		}
	}
	return -1
}
