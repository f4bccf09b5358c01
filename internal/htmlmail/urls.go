package htmlmail

import (
	"net/url"
	"regexp"
	"strings"
)

var (
	hexColor  = regexp.MustCompile(`^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	nameColor = regexp.MustCompile(`^[a-zA-Z]{3,20}$`)
)

// cleanURL does what the WHATWG URL parser does before anything else:
// drop tab and newline anywhere and C0 controls or spaces at either end. A
// filter that skips this step reads "jav&#9;ascript:" differently from the
// browser.
func cleanURL(v string) string {
	v = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(v)
	return strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
}

// isRemoteURL reports whether a cleaned URL would be fetched from another
// host: http(s), or scheme-relative, which in the srcdoc iframe resolves
// against the webmail's https base. Browsers treat '\' like '/' there.
func isRemoteURL(v string) bool {
	l := strings.ToLower(v)
	if strings.HasPrefix(l, "http:") || strings.HasPrefix(l, "https:") {
		return true
	}
	return len(l) >= 2 && (l[0] == '/' || l[0] == '\\') && (l[1] == '/' || l[1] == '\\')
}

// withScheme makes a scheme-relative remote URL explicit, because the
// policy rejects relative URLs.
func withScheme(v string) string {
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\`) {
		return "https://" + v[2:]
	}
	return v
}

// firstSrcsetURL returns the URL of the first srcset candidate.
func firstSrcsetURL(srcset string) string {
	first, _, _ := strings.Cut(srcset, ",")
	u, _, _ := strings.Cut(strings.TrimSpace(first), " ")
	return cleanURL(u)
}

// countCSSURLs counts url() references to remote resources in a style
// attribute. It only counts (escaped variants are missed); the removal is
// done by the CSS validators, which reject any '(' but colour functions.
func countCSSURLs(style string) int {
	l := strings.ToLower(style)
	n := 0
	for {
		i := strings.Index(l, "url(")
		if i < 0 {
			return n
		}
		l = l[i+len("url("):]
		if isRemoteURL(strings.TrimLeft(l, " \t\n\r\f\"'")) {
			n++
		}
	}
}

// cssColor turns a legacy color attribute (bgcolor="ffffff") into a CSS
// colour, or "".
func cssColor(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case hexColor.MatchString(v):
		return "#" + strings.TrimPrefix(v, "#")
	case nameColor.MatchString(v):
		return v
	}
	return ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// unclearURL rejects URLs the browser would clean up first (the final
// checks work only on URLs that mean what they say), and any that mention a
// script scheme even in the query or fragment: such a link is harmless
// itself, but dropping it keeps "no javascript: in any attribute" a simple,
// testable invariant.
func unclearURL(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) ||
		scriptyValue(v)
}

// safeLink accepts absolute http(s) URLs with a host and mailto: with an
// address. Relative links would resolve against the webmail itself.
func safeLink(v string) bool {
	if unclearURL(v) {
		return false
	}
	u, err := url.Parse(v)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return u.Opaque != ""
	}
	return false
}

func isHTTPURL(v string) bool {
	if unclearURL(v) {
		return false
	}
	u, err := url.Parse(v)
	if err != nil {
		return false
	}
	s := strings.ToLower(u.Scheme)
	return (s == "http" || s == "https") && u.Host != ""
}

// isLocalPath accepts an absolute path on the webmail's own origin (what
// CIDURL returns) and nothing that could name another host or a scheme.
func isLocalPath(v string) bool {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || unclearURL(v) {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "" && u.Host == ""
}

// safeResource is what the final check accepts as an image URL: the remote
// decision has been made by then, so only the scheme matters.
func safeResource(v string) bool {
	return dataImageURL.MatchString(v) || isHTTPURL(v) || isLocalPath(v)
}

// scriptyValue flags script-ish URLs in attributes that are not supposed
// to hold URLs at all; harmless there, but it keeps the invariant "no
// javascript: anywhere in an attribute" simple to state and to test.
func scriptyValue(v string) bool {
	l := strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToLower(v))
	return strings.Contains(l, "javascript:") || strings.Contains(l, "vbscript:") ||
		strings.Contains(l, "livescript:") || strings.HasPrefix(l, "data:")
}
