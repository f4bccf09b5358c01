package htmlmail

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// This file holds the test-side definition of "safe". It is deliberately
// written independently of the package's own checks: it parses the output
// the way the browser will and walks the tree, so a bug shared by the
// implementation's passes cannot hide itself.

var (
	eventAttr     = regexp.MustCompile(`^on[a-z]+`)
	testDataImage = regexp.MustCompile(`^data:image/(png|gif|jpeg|webp);base64,`)
)

// forbiddenElements are elements that must never reach the browser.
var forbiddenElements = map[string]bool{
	"script": true, "style": true, "iframe": true, "frame": true, "frameset": true,
	"object": true, "embed": true, "applet": true, "param": true, "form": true,
	"input": true, "button": true, "textarea": true, "select": true, "option": true,
	"meta": true, "link": true, "base": true, "svg": true, "math": true,
	"noscript": true, "template": true, "audio": true, "video": true, "source": true,
	"xmp": true, "plaintext": true, "title": true, "isindex": true, "keygen": true,
	"portal": true, "marquee": true, "bgsound": true, "noembed": true, "noframes": true,
}

// urlAttrs are attributes whose value the browser treats as a URL, other than
// the three the sanitiser may emit (href, src, background).
var urlAttrs = map[string]bool{
	"action": true, "formaction": true, "srcset": true, "poster": true, "lowsrc": true,
	"dynsrc": true, "data": true, "codebase": true, "cite": true, "longdesc": true,
	"ping": true, "manifest": true, "xmlns": true, "srcdoc": true,
}

// compact is what a browser-ish reading of an attribute value sees once
// whitespace and control characters have been dropped.
func compact(v string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToLower(v))
}

func isRemoteRef(v string) bool {
	c := compact(v)
	return strings.HasPrefix(c, "http:") || strings.HasPrefix(c, "https:") ||
		strings.HasPrefix(c, "//") || strings.HasPrefix(c, `\\`) ||
		strings.HasPrefix(c, `/\`) || strings.HasPrefix(c, `\/`)
}

// problems returns every violated invariant in out; nil means safe.
func problems(out string, allowRemote bool) []string {
	var found []string
	add := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }

	if strings.Contains(strings.ToLower(out), "<script") {
		add("raw output contains <script")
	}
	// The iframe parses with scripting disabled; check the scripting-enabled
	// reading too, in case the webmail ever drops the sandbox.
	for _, scripting := range []bool{false, true} {
		doc, err := html.ParseWithOptions(strings.NewReader(out), html.ParseOptionEnableScripting(scripting))
		if err != nil {
			add("output does not parse: %v", err)
			continue
		}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			switch n.Type {
			case html.CommentNode:
				add("comment node %q", n.Data)
			case html.ElementNode:
				checkElement(n, allowRemote, add)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
	}
	return found
}

func checkElement(n *html.Node, allowRemote bool, add func(string, ...any)) {
	tag := n.Data
	if n.Namespace != "" {
		add("foreign element %s:%s", n.Namespace, tag)
	}
	if forbiddenElements[tag] {
		add("forbidden element <%s>", tag)
	}
	var target, rel string
	hasHref := false
	for _, a := range n.Attr {
		key := strings.ToLower(a.Key)
		val := compact(a.Val)
		if a.Namespace != "" {
			add("namespaced attribute %s:%s on <%s>", a.Namespace, key, tag)
		}
		if eventAttr.MatchString(key) {
			add("event handler %s on <%s>", key, tag)
		}
		for _, bad := range []string{"javascript:", "vbscript:", "livescript:"} {
			if strings.Contains(val, bad) {
				add("%s in %s on <%s>: %q", bad, key, tag, a.Val)
			}
		}
		if strings.HasPrefix(val, "data:") && !(tag == "img" && key == "src" && testDataImage.MatchString(val)) {
			add("data: URL in %s on <%s>: %q", key, tag, a.Val)
		}
		if urlAttrs[key] {
			add("URL attribute %s on <%s>", key, tag)
		}
		switch key {
		case "href":
			hasHref = true
			u, err := url.Parse(strings.TrimSpace(a.Val))
			if err != nil {
				add("unparseable href %q", a.Val)
				break
			}
			switch strings.ToLower(u.Scheme) {
			case "http", "https", "mailto":
			default:
				add("href with scheme %q on <%s>: %q", u.Scheme, tag, a.Val)
			}
		case "src", "background":
			if !allowRemote && isRemoteRef(a.Val) {
				add("remote %s on <%s> with images blocked: %q", key, tag, a.Val)
			}
		case "style":
			for _, bad := range []string{"url(", "expression", `\`, "position", "behavior", "binding", "@import", "image-set"} {
				if strings.Contains(val, bad) {
					add("style on <%s> contains %q: %q", tag, bad, a.Val)
				}
			}
		case "target":
			target = a.Val
		case "rel":
			rel = a.Val
		}
	}
	if hasHref {
		if target != "_blank" {
			add("link without target=_blank: %q", target)
		}
		for _, want := range []string{"noopener", "noreferrer", "nofollow"} {
			if !strings.Contains(rel, want) {
				add("link rel %q lacks %s", rel, want)
			}
		}
	}
}

// elements returns all elements named tag in out, parsed as the browser will.
func elements(out, tag string) []*html.Node {
	doc, err := html.ParseWithOptions(strings.NewReader(out), html.ParseOptionEnableScripting(false))
	if err != nil {
		return nil
	}
	var found []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			found = append(found, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// textContent is the text a reader would see, markup removed.
func textContent(out string) string {
	doc, err := html.ParseWithOptions(strings.NewReader(out), html.ParseOptionEnableScripting(false))
	if err != nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return b.String()
}
