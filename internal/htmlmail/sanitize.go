package htmlmail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	htmlcharset "golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"mailroom/internal/mime"
)

// MaxInputSize bounds the raw (undecoded) HTML Sanitize accepts. HTML parts
// above it are almost always generated junk or an attack on the parser; the
// webmail should offer the part as a download instead.
const MaxInputSize = 10 << 20

// maxTags bounds the number of tags. A parsed node costs a few hundred
// bytes across the passes, so 10 MiB of "<li>x" would otherwise take over
// a gigabyte; real newsletters have a few thousand tags, and this still
// admits a 10,000-row report table.
const maxTags = 100_000

var (
	// ErrTooLarge is returned when the input exceeds MaxInputSize or has an
	// unreasonable number of tags.
	ErrTooLarge = errors.New("htmlmail: HTML part too large")
	// ErrMalformed is returned when the HTML cannot be parsed at all (in
	// practice: nested deeper than the parser's limit of 512 elements). The
	// webmail should fall back to the text/plain alternative.
	ErrMalformed = errors.New("htmlmail: HTML cannot be parsed")
)

// Options control what a single message may load.
type Options struct {
	// AllowRemoteImages is set when the user clicked "show images" for this
	// message. Remote images are tracking pixels as often as not, so the
	// default is to block them.
	AllowRemoteImages bool
	// CIDURL maps the Content-ID of an inline part (from src="cid:…", already
	// percent-decoded and without angle brackets) to a same-origin URL the
	// webmail serves it from. Returning "" drops the image. A nil CIDURL drops
	// all cid: images. The result must be a path ("/…") or an http(s) URL;
	// anything else is dropped.
	CIDURL func(cid string) string
	// Styles keeps the message's <style> sheets, sanitised and scoped, in
	// Result.CSS, and class attributes for them to match. The caller must
	// then show Result.HTML inside an element with id ScopeID and put
	// Result.CSS in a <style> of the same document. Without it sheets and
	// classes are dropped, as a page that cannot scope them needs.
	Styles bool
}

// Result is a sanitised message body.
type Result struct {
	// HTML is a fragment meant to be the whole <body> of the sandboxed
	// iframe: no <html>, <head> or <body>.
	HTML string
	// RemoteBlocked counts the remote resources (img src/srcset, background
	// attributes, CSS url()) that were not loaded because AllowRemoteImages
	// was false: the webmail shows "show images" when it is non-zero. It is
	// always 0 when AllowRemoteImages is true, even though CSS url() and a
	// <body background> are removed regardless (see the package comment).
	RemoteBlocked int
	// CSS is the message's stylesheets, sanitised, every selector scoped
	// under #ScopeID (see Options.Styles); "" without Options.Styles. It
	// holds no '<', so it cannot end the <style> element it goes in.
	CSS string
}

// Sanitizer holds the compiled policy. It is safe for concurrent use;
// building one compiles a few dozen regular expressions, so keep it around.
type Sanitizer struct {
	policy   *bluemonday.Policy
	elements map[string]bool
	css      map[string]func(string) bool
	sheetCSS map[string]func(string) bool // properties only sheets may use
}

// NewSanitizer builds a Sanitizer.
func NewSanitizer() *Sanitizer {
	s := &Sanitizer{
		elements: make(map[string]bool),
		css:      make(map[string]func(string) bool),
		sheetCSS: sheetOnlyProperties(),
	}
	for _, e := range allowedElements() {
		s.elements[e] = true
	}
	for _, p := range cssProperties() {
		s.css[p] = cssHandler(p)
	}
	s.policy = newPolicy(s.css)
	return s
}

// Sanitize is a convenience wrapper that builds a Sanitizer for one call.
// Code that sanitises many messages should keep a Sanitizer instead.
func Sanitize(r io.Reader, charset string, opts Options) (Result, error) {
	return NewSanitizer().Sanitize(r, charset, opts)
}

// Sanitize reads an HTML part (at most MaxInputSize bytes) in the given
// charset (the Content-Type charset parameter, may be empty) and returns it
// as a safe fragment. See the package comment for what is kept.
func (s *Sanitizer) Sanitize(r io.Reader, charset string, opts Options) (Result, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return Result{}, fmt.Errorf("htmlmail: reading HTML part: %w", err)
	}
	if len(raw) > MaxInputSize {
		return Result{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxInputSize)
	}
	text, err := decode(raw, charset)
	if err != nil {
		return Result{}, err
	}
	if n := countTags(text); n > maxTags {
		return Result{}, fmt.Errorf("%w: %d tags, limit %d", ErrTooLarge, n, maxTags)
	}

	// Parse as the sandboxed iframe will: scripting disabled, so <noscript>
	// content is markup, not text.
	doc, err := html.ParseWithOptions(strings.NewReader(text), html.ParseOptionEnableScripting(false))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var sheets []string
	if opts.Styles {
		// Before the pre-pass, which drops <style> with its content.
		sheets = styleTexts(doc)
	}
	pre := prepass{opts: opts}
	fragment, err := pre.run(doc)
	if err != nil {
		return Result{}, err
	}

	var cleaned bytes.Buffer
	if err := s.policy.SanitizeReaderToWriter(strings.NewReader(fragment), &cleaned); err != nil {
		return Result{}, fmt.Errorf("htmlmail: bluemonday: %w", err)
	}

	// The tree walk below is the final authority, so it works on the tree a
	// browser would build from bluemonday's output rather than trusting the
	// token stream bluemonday saw.
	root, err := parseFragment(cleaned.String())
	if err != nil {
		return Result{}, fmt.Errorf("%w: re-parsing sanitised HTML: %w", ErrMalformed, err)
	}
	fin := finisher{s: s, opts: opts}
	fin.clean(root)
	out, err := renderChildren(root)
	if err != nil {
		return Result{}, err
	}
	if err := s.verify(out); err != nil {
		return Result{}, err
	}
	res := Result{HTML: out}
	blocked := pre.blocked
	if opts.Styles {
		var n int
		res.CSS, n = s.cleanSheets(sheets, &fin)
		blocked += n
	}
	if !opts.AllowRemoteImages {
		res.RemoteBlocked = blocked
	}
	return res, nil
}

// decode converts raw to UTF-8. A BOM overrides the label, as in browsers.
// The label means what it means for every other part (the server's one
// charset table, in package mime). An empty or unknown label is not an
// error: mail is full of bogus charset names, and showing the message with
// a sniffed charset (a <meta> or the bytes) beats not showing it.
func decode(raw []byte, label string) (string, error) {
	var enc encoding.Encoding
	if label = strings.TrimSpace(label); label != "" {
		if e, known := mime.LookupCharset(label); known {
			enc = e
			if enc == nil {
				enc = unicode.UTF8
			}
		}
	}
	if enc == nil {
		enc, label, _ = htmlcharset.DetermineEncoding(raw, "text/html")
	}
	out, _, err := transform.Bytes(unicode.BOMOverride(enc.NewDecoder()), raw)
	if err != nil {
		return "", fmt.Errorf("htmlmail: decoding charset %q: %w", label, err)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), nil
}

// countTags counts "<" followed by a letter: every start tag, plus the odd
// false positive in comments or text, which is fine for a resource bound.
func countTags(s string) int {
	n := 0
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 || i+1 >= len(s) {
			return n
		}
		if c := s[i+1] | 0x20; c >= 'a' && c <= 'z' {
			n++
		}
		s = s[i+1:]
	}
}

// parseFragment parses s as the content of a <body>, with scripting disabled,
// and returns a detached <body> node holding the result.
func parseFragment(s string) (*html.Node, error) {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragmentWithOptions(strings.NewReader(s), body, html.ParseOptionEnableScripting(false))
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		body.AppendChild(n)
	}
	return body, nil
}

func renderChildren(n *html.Node) (string, error) {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return "", fmt.Errorf("htmlmail: rendering: %w", err)
		}
	}
	return b.String(), nil
}
