package htmlmail

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func mustSanitize(t *testing.T, in, charset string, opts Options) Result {
	t.Helper()
	res, err := Sanitize(strings.NewReader(in), charset, opts)
	if err != nil {
		t.Fatalf("Sanitize(%q): %v", in, err)
	}
	for _, p := range problems(res.HTML, opts.AllowRemoteImages) {
		t.Errorf("unsafe output: %s\n  out: %q", p, res.HTML)
	}
	return res
}

const remoteMessage = `<body background="https://t.example/body.png">
<img src="https://t.example/open.gif" width="1" height="1" alt="">
<img src="http://cdn.example/logo.png" alt="Logo" width="120">
<img src="//cdn.example/hero.jpg" alt="Hero">
<img srcset="https://cdn.example/a.png 1x, https://cdn.example/a@2x.png 2x" alt="Srcset">
<table><tr><td background="https://cdn.example/bg.jpg">cell</td></tr></table>
<div style="color: red; background-image: url('https://cdn.example/bg2.png')">styled</div>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="inline">
<img src="cid:logo@example.com" alt="cid">
</body>`

func TestRemoteImagesBlocked(t *testing.T) {
	res := mustSanitize(t, remoteMessage, "utf-8", Options{CIDURL: testCIDURL})
	// body background, 4 images, td background, CSS url().
	if res.RemoteBlocked != 7 {
		t.Errorf("RemoteBlocked = %d, want 7\n%s", res.RemoteBlocked, res.HTML)
	}
	if strings.Contains(res.HTML, "cdn.example") || strings.Contains(res.HTML, "t.example") {
		t.Errorf("remote URL left in output: %s", res.HTML)
	}
	imgs := elements(res.HTML, "img")
	if len(imgs) != 6 {
		t.Fatalf("got %d images, want all 6 kept as placeholders: %s", len(imgs), res.HTML)
	}
	blocked := 0
	for _, img := range imgs {
		if v, ok := attr(img, "data-blocked"); ok {
			blocked++
			if v != "remote" {
				t.Errorf("data-blocked=%q", v)
			}
			if _, ok := attr(img, "src"); ok {
				t.Errorf("blocked image still has a src: %s", res.HTML)
			}
		}
	}
	if blocked != 4 {
		t.Errorf("%d images marked blocked, want 4", blocked)
	}
	// Layout survives: the tracking pixel keeps its size.
	if w, _ := attr(imgs[0], "width"); w != "1" {
		t.Errorf("width of blocked image = %q, want 1", w)
	}
	if !strings.Contains(textContent(res.HTML), "styled") {
		t.Errorf("text lost: %s", res.HTML)
	}
	if divs := elements(res.HTML, "div"); len(divs) == 0 {
		t.Errorf("no div: %s", res.HTML)
	} else if st, _ := attr(divs[len(divs)-1], "style"); st != "color: red" {
		t.Errorf("style = %q, want the colour kept and url() gone", st)
	}
}

func TestRemoteImagesAllowed(t *testing.T) {
	res := mustSanitize(t, remoteMessage, "utf-8", Options{AllowRemoteImages: true, CIDURL: testCIDURL})
	if res.RemoteBlocked != 0 {
		t.Errorf("RemoteBlocked = %d, want 0 once images are allowed", res.RemoteBlocked)
	}
	var srcs []string
	for _, img := range elements(res.HTML, "img") {
		if _, ok := attr(img, "data-blocked"); ok {
			t.Errorf("image still blocked: %s", res.HTML)
		}
		v, _ := attr(img, "src")
		srcs = append(srcs, v)
		rp, _ := attr(img, "referrerpolicy")
		if remote := strings.HasPrefix(v, "http"); remote != (rp == "no-referrer") {
			t.Errorf("src %q: referrerpolicy %q", v, rp)
		}
	}
	want := []string{
		"https://t.example/open.gif",
		"http://cdn.example/logo.png",
		"https://cdn.example/hero.jpg", // scheme-relative made explicit
		"https://cdn.example/a.png",    // first srcset candidate
		"data:image/gif;base64,R0lGODlhAQABAAAAACw=",
		"/cid/logo@example.com",
	}
	if fmt.Sprint(srcs) != fmt.Sprint(want) {
		t.Errorf("srcs = %q\nwant %q", srcs, want)
	}
	tds := elements(res.HTML, "td")
	if len(tds) != 1 {
		t.Fatalf("got %d cells", len(tds))
	}
	if bg, _ := attr(tds[0], "background"); bg != "https://cdn.example/bg.jpg" {
		t.Errorf("td background = %q", bg)
	}
	if strings.Contains(res.HTML, "url(") {
		t.Errorf("CSS url() must go even when images are allowed: %s", res.HTML)
	}
}

func TestCIDMapping(t *testing.T) {
	var seen []string
	opts := Options{CIDURL: func(cid string) string {
		seen = append(seen, cid)
		return "/msg/42/part/" + url.PathEscape(cid)
	}}
	in := `<img src="cid:part1.06090408@example.com">` +
		`<img src="CID:part%32%40example.com">` +
		`<img src="cid:%3Cangle@example.com%3E">` +
		`<table><tr><td background="cid:bg@example.com">x</td></tr></table>` +
		`<a href="cid:part1.06090408@example.com">not a link</a>`
	res := mustSanitize(t, in, "", opts)
	if res.RemoteBlocked != 0 {
		t.Errorf("cid images counted as remote: %d", res.RemoteBlocked)
	}
	wantSeen := []string{"part1.06090408@example.com", "part2@example.com", "angle@example.com", "bg@example.com"}
	if fmt.Sprint(seen) != fmt.Sprint(wantSeen) {
		t.Errorf("CIDURL called with %q, want %q", seen, wantSeen)
	}
	imgs := elements(res.HTML, "img")
	if len(imgs) != 3 {
		t.Fatalf("got %d images: %s", len(imgs), res.HTML)
	}
	if src, _ := attr(imgs[0], "src"); src != "/msg/42/part/part1.06090408@example.com" {
		t.Errorf("src = %q", src)
	}
	if bg, _ := attr(elements(res.HTML, "td")[0], "background"); bg != "/msg/42/part/bg@example.com" {
		t.Errorf("td background = %q", bg)
	}
	for _, a := range elements(res.HTML, "a") {
		if _, ok := attr(a, "href"); ok {
			t.Errorf("cid: link kept: %s", res.HTML)
		}
	}
}

func TestCIDDropped(t *testing.T) {
	in := `<img src="cid:logo@example.com" alt="logo" width="10">`
	for name, f := range map[string]func(string) string{
		"nil":             nil,
		"empty":           func(string) string { return "" },
		"javascript":      func(string) string { return "javascript:alert(1)" },
		"scheme-relative": func(string) string { return "//evil.example/x.png" },
		"relative":        func(string) string { return "x.png" },
		"data":            func(string) string { return "data:text/html,<script>alert(1)</script>" },
	} {
		res := mustSanitize(t, in, "", Options{CIDURL: f})
		imgs := elements(res.HTML, "img")
		if len(imgs) != 1 {
			t.Errorf("%s: image element lost: %s", name, res.HTML)
			continue
		}
		if src, ok := attr(imgs[0], "src"); ok {
			t.Errorf("%s: src %q kept", name, src)
		}
	}
}

func TestDataImages(t *testing.T) {
	for _, tc := range []struct {
		src  string
		keep bool
	}{
		{"data:image/png;base64,iVBORw0KGgo=", true},
		{"data:image/jpeg;base64,/9j/4AAQ", true},
		{"data:image/webp;base64,UklGRg==", true},
		{"data:image/gif;base64,R0lGODlh", true},
		{"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", false},
		{"data:image/png,raw", false},
		{"data:text/html;base64,PHNjcmlwdD4=", false},
		{"data:image/png;base64,<script>", false},
	} {
		res := mustSanitize(t, `<img src="`+tc.src+`">`, "", Options{})
		imgs := elements(res.HTML, "img")
		got := ""
		if len(imgs) == 1 {
			got, _ = attr(imgs[0], "src")
		}
		if (got == tc.src) != tc.keep {
			t.Errorf("%s: got src %q, keep=%v", tc.src, got, tc.keep)
		}
	}
}

func TestLinks(t *testing.T) {
	for _, tc := range []struct {
		href string
		want string // "" = href dropped
	}{
		{"https://example.com/a?b=1&c=2#f", "https://example.com/a?b=1&c=2#f"},
		{"http://example.com", "http://example.com"},
		{"mailto:someone@example.com?subject=hi", "mailto:someone@example.com?subject=hi"},
		{"/logout", ""},
		{"#top", ""},
		{"page.html", ""},
		{"//evil.example/", ""},
		{"ftp://example.com/", ""},
		{"tel:+123", ""},
		{"https://", ""},
		{"https://example.com/?next=javascript:alert(1)", ""},
	} {
		res := mustSanitize(t, `<a href="`+tc.href+`" target="_top" rel="opener">text</a>`, "", Options{})
		if !strings.Contains(textContent(res.HTML), "text") {
			t.Errorf("%s: text lost: %s", tc.href, res.HTML)
		}
		got := ""
		for _, a := range elements(res.HTML, "a") {
			got, _ = attr(a, "href")
		}
		if got != tc.want {
			t.Errorf("%s: href %q, want %q (%s)", tc.href, got, tc.want, res.HTML)
		}
		if tc.want != "" {
			a := elements(res.HTML, "a")[0]
			if v, _ := attr(a, "target"); v != "_blank" {
				t.Errorf("%s: target %q", tc.href, v)
			}
			if v, _ := attr(a, "rel"); v != "noopener noreferrer nofollow" {
				t.Errorf("%s: rel %q", tc.href, v)
			}
		}
	}
}

const newsletter = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN">
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style type="text/css">.hide { display:none } @media (max-width: 600px) { td { display:block } }</style>
</head>
<body bgcolor="#f4f4f4" style="margin:0; padding:0">
<span style="display:none; font-size:1px; color:#f4f4f4; line-height:1px; max-height:0; overflow:hidden">Preheader text</span>
<center>
<table role="presentation" width="600" align="center" border="0" cellpadding="0" cellspacing="0" bgcolor="#ffffff" style="border-collapse: collapse; width: 600px">
<tr>
<td align="center" valign="top" bgcolor="#003366" style="padding: 20px 30px 20px 30px; color: #ffffff; font-family: 'Helvetica Neue', Helvetica, Arial, sans-serif; font-size: 28px; font-weight: bold">Big Sale</td>
</tr>
<tr>
<td style="padding: 10px; border-top: 1px solid #cccccc; text-align: left; line-height: 1.5; vertical-align: top">
<font face="Georgia, serif" color="#333333" size="3">Dear customer,</font>
<p style="margin: 0 0 12px 0; text-decoration: underline; text-transform: uppercase">Everything must go.</p>
<ul style="list-style-type: square"><li>One</li><li>Two</li></ul>
<h1 class="title" style="color: rgb(255, 0, 0); font-style: italic">Headline</h1>
<a href="https://shop.example/?utm_source=mail" style="background-color: #ff6600; color: #ffffff; display: inline-block; padding: 10px 20px; border-radius: 4px; text-decoration: none">Shop now</a>
<hr width="80%" size="1" color="#cccccc" noshade>
</td>
</tr>
</table>
</center>
</body></html>`

func TestNewsletterLayoutKept(t *testing.T) {
	res := mustSanitize(t, newsletter, "utf-8", Options{})
	out := res.HTML
	if strings.Contains(out, "<style") || strings.Contains(out, "@media") || strings.Contains(out, "class=") {
		t.Errorf("<style> block or class leaked: %s", out)
	}
	if !strings.Contains(textContent(out), "Preheader text") {
		t.Errorf("preheader text lost")
	}

	expectAttrs := func(tag string, idx int, want map[string]string) {
		t.Helper()
		els := elements(out, tag)
		if idx >= len(els) {
			t.Errorf("<%s>[%d] missing: %s", tag, idx, out)
			return
		}
		for k, v := range want {
			if got, ok := attr(els[idx], k); !ok || got != v {
				t.Errorf("<%s>[%d] %s = %q (present %v), want %q", tag, idx, k, got, ok, v)
			}
		}
	}
	expectAttrs("div", 0, map[string]string{"style": "background-color: #f4f4f4; margin: 0; padding: 0"})
	expectAttrs("span", 0, map[string]string{"style": "display: none; font-size: 1px; color: #f4f4f4; line-height: 1px; max-height: 0; overflow: hidden"})
	expectAttrs("table", 0, map[string]string{
		"role": "presentation", "width": "600", "align": "center", "border": "0",
		"cellpadding": "0", "cellspacing": "0", "bgcolor": "#ffffff",
		"style": "border-collapse: collapse; width: 600px",
	})
	expectAttrs("td", 0, map[string]string{
		"align": "center", "valign": "top", "bgcolor": "#003366",
		"style": "padding: 20px 30px 20px 30px; color: #ffffff; font-family: 'Helvetica Neue', Helvetica, Arial, sans-serif; font-size: 28px; font-weight: bold",
	})
	expectAttrs("td", 1, map[string]string{"style": "padding: 10px; border-top: 1px solid #cccccc; text-align: left; line-height: 1.5; vertical-align: top"})
	expectAttrs("font", 0, map[string]string{"face": "Georgia, serif", "color": "#333333", "size": "3"})
	expectAttrs("p", 0, map[string]string{"style": "margin: 0 0 12px 0; text-decoration: underline; text-transform: uppercase"})
	expectAttrs("ul", 0, map[string]string{"style": "list-style-type: square"})
	expectAttrs("h1", 0, map[string]string{"style": "color: rgb(255, 0, 0); font-style: italic"})
	expectAttrs("a", 0, map[string]string{
		"href":  "https://shop.example/?utm_source=mail",
		"style": "background-color: #ff6600; color: #ffffff; display: inline-block; padding: 10px 20px; border-radius: 4px; text-decoration: none",
	})
	expectAttrs("hr", 0, map[string]string{"width": "80%", "size": "1", "color": "#cccccc", "noshade": ""})
	if len(elements(out, "center")) != 1 {
		t.Errorf("<center> lost: %s", out)
	}
}

func TestInlineCSSFiltering(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"color: red; position: fixed; top: 0", "color: red"},
		{"position:absolute", ""},
		{"display: block", "display: block"},
		{"display: flex", ""},
		{"background: #fff url(https://x.example/a.png)", ""},
		{"background: #ffffff", "background: #ffffff"},
		{"width: expression(alert(1))", ""},
		{"color: \\72 ed", ""},
		{"font-family: 'ＭＳ Ｐゴシック', sans-serif", "font-family: 'ＭＳ Ｐゴシック', sans-serif"},
		{"font-family: x; behavior: url(a.htc)", "font-family: x"},
		{"-webkit-border-radius: 3px", "-webkit-border-radius: 3px"},
		{"-moz-binding: url(http://x.example/b.xml)", ""},
		{"z-index: 99999; color: blue !important", "color: blue"},
		{"margin: 1px 1px 1px 1px 1px 1px 1px 1px 1px 1px 1px 1px 1px 1px 1px x", ""},
	} {
		res := mustSanitize(t, `<div style="`+tc.in+`">x</div>`, "", Options{})
		got := ""
		if divs := elements(res.HTML, "div"); len(divs) == 1 {
			got, _ = attr(divs[0], "style")
		}
		if got != tc.want {
			t.Errorf("style %q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCharsets(t *testing.T) {
	for _, tc := range []struct {
		name, charset, in, want string
	}{
		{"iso-8859-1", "ISO-8859-1", "<p>caf\xe9 \xa3</p>", "café £"},
		{"latin1 alias", "latin1", "<p>na\xefve</p>", "naïve"},
		{"windows-1252", "windows-1252", "<p>\x93quoted\x94 \x80 \x85</p>", "“quoted” € …"},
		{"utf-8", "utf-8", "<p>h\xc3\xa9 \xe2\x82\xac</p>", "hé €"},
		{"utf-8 BOM", "utf-8", "\xef\xbb\xbf<p>h\xc3\xa9</p>", "hé"},
		{"BOM beats label", "iso-8859-1", "\xef\xbb\xbf<p>h\xc3\xa9</p>", "hé"},
		{"utf-16le BOM", "", "\xff\xfe<\x00p\x00>\x00h\x00\xe9\x00", "hé"},
		{"shift_jis", "Shift_JIS", "<p>\x93\xfa\x96\x7b</p>", "日本"},
		{"empty label, utf-8", "", "<p>h\xc3\xa9</p>", "hé"},
		{"empty label, meta", "", `<meta charset="iso-8859-1"><p>caf` + "\xe9</p>", "café"},
		{"empty label, latin1 bytes", "", "<p>caf\xe9</p>", "café"},
		{"unknown label", "x-no-such-charset", "<p>h\xc3\xa9</p>", "hé"},
		{"utf-7 label", "utf-7", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"},
		{"invalid utf-8", "utf-8", "<p>a\xffb</p>", "a\uFFFDb"},
	} {
		res := mustSanitize(t, tc.in, tc.charset, Options{})
		if got := textContent(res.HTML); got != tc.want {
			t.Errorf("%s: text %q, want %q (html %q)", tc.name, got, tc.want, res.HTML)
		}
		if !utf8.ValidString(res.HTML) {
			t.Errorf("%s: output not UTF-8", tc.name)
		}
		if strings.HasPrefix(res.HTML, "\ufeff") {
			t.Errorf("%s: BOM in output", tc.name)
		}
	}
}

// countingReader yields an endless stream of 'a' and counts what was read.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestSizeBound(t *testing.T) {
	r := &countingReader{}
	_, err := Sanitize(r, "", Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless input: err = %v, want ErrTooLarge", err)
	}
	if r.n > MaxInputSize+64<<10 {
		t.Errorf("read %d bytes from an endless reader; the bound is %d", r.n, MaxInputSize)
	}

	if testing.Short() {
		t.Skip("skipping the full-size document in -short mode")
	}
	in := "<p>" + strings.Repeat("a", MaxInputSize-3)
	res, err := Sanitize(strings.NewReader(in), "", Options{})
	if err != nil {
		t.Fatalf("input of exactly MaxInputSize: %v", err)
	}
	if len(res.HTML) < MaxInputSize-3 {
		t.Errorf("output shrank to %d bytes", len(res.HTML))
	}
	_, err = Sanitize(strings.NewReader(in+"a"), "", Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxInputSize+1: err = %v, want ErrTooLarge", err)
	}
}

func TestTagBound(t *testing.T) {
	_, err := Sanitize(strings.NewReader(strings.Repeat("<br>", maxTags+1)), "", Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d tags: err = %v, want ErrTooLarge", maxTags+1, err)
	}
	res := mustSanitize(t, strings.Repeat("<br>", maxTags), "", Options{})
	if n := len(elements(res.HTML, "br")); n != maxTags {
		t.Errorf("%d tags: got %d <br>", maxTags, n)
	}
}

// TestAdversarialCSSIsCheap guards against validators that backtrack over
// the words of a value: bluemonday's default "font" handler took 160 ms for
// one such declaration, so this message would have taken hours.
// TestAdversarialCSSIsCheap guards against bluemonday's multi-word CSS
// checks, which take time exponential in the number of words (one 9-word
// "font:" took 160 ms; 30 words would take days). This is a must-not-hang
// check, not a measurement: linear checking takes microseconds, so the
// bound is generous enough never to trip on a slow machine.
func TestAdversarialCSSIsCheap(t *testing.T) {
	words := strings.Repeat("italic ", 30)
	in := `<p style="font: ` + words + `#; background: ` + strings.Repeat("1px ", 30) + `#; border: ` +
		strings.Repeat("solid ", 30) + `#">x</p>`
	done := make(chan error, 1)
	go func() {
		_, err := Sanitize(strings.NewReader(in), "", Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sanitising one 30-word CSS declaration did not finish: the exponential CSS check is back")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestReadErrorWrapped(t *testing.T) {
	_, err := Sanitize(failingReader{}, "", Options{})
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "htmlmail") {
		t.Errorf("err = %v, want a wrapped io.ErrUnexpectedEOF", err)
	}
}

func TestTooDeep(t *testing.T) {
	in := strings.Repeat("<div>", 1000) + "x"
	_, err := Sanitize(strings.NewReader(in), "", Options{})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
	// Just under the parser's limit still works.
	res := mustSanitize(t, strings.Repeat("<div>", 400)+"x", "", Options{})
	if textContent(res.HTML) != "x" {
		t.Errorf("deep but legal document lost its text")
	}
}

func TestEmptyAndFrameset(t *testing.T) {
	for _, in := range []string{"", "   ", "<html><head><title>t</title></head></html>", `<frameset><frame src="https://x.example/"></frameset>`} {
		res := mustSanitize(t, in, "", Options{})
		if strings.TrimSpace(res.HTML) != "" || res.RemoteBlocked != 0 {
			t.Errorf("%q -> %+v, want empty", in, res)
		}
	}
}

// TestSanitizerConcurrent shares one Sanitizer between goroutines; run it
// with -race.
func TestSanitizerConcurrent(t *testing.T) {
	s := NewSanitizer()
	inputs := []string{newsletter, remoteMessage}
	for _, v := range xssVectors[:20] {
		inputs = append(inputs, v.payload)
	}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		res, err := s.Sanitize(strings.NewReader(in), "", Options{CIDURL: testCIDURL})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.HTML
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, in := range inputs {
				res, err := s.Sanitize(strings.NewReader(in), "", Options{CIDURL: testCIDURL})
				if err != nil {
					t.Error(err)
					return
				}
				if res.HTML != want[i] {
					t.Errorf("input %d: concurrent result differs", i)
				}
			}
		}()
	}
	wg.Wait()
}

// TestOutputIsFixedPoint checks that sanitising the output again changes
// nothing (but surrounding whitespace): evidence that the output is already in
// the form the final pass produces.
func TestOutputIsFixedPoint(t *testing.T) {
	s := NewSanitizer()
	for _, in := range []string{newsletter, remoteMessage} {
		first, err := s.Sanitize(strings.NewReader(in), "", Options{AllowRemoteImages: true})
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Sanitize(strings.NewReader(first.HTML), "", Options{AllowRemoteImages: true})
		if err != nil {
			t.Fatal(err)
		}
		// Whitespace at the edges is the exception: a document parse drops
		// the leading part.
		if strings.TrimSpace(first.HTML) != strings.TrimSpace(second.HTML) {
			t.Errorf("not a fixed point:\n1: %s\n2: %s", first.HTML, second.HTML)
		}
	}
}

func BenchmarkSanitizeNewsletter(b *testing.B) {
	s := NewSanitizer()
	b.SetBytes(int64(len(newsletter)))
	for b.Loop() {
		if _, err := s.Sanitize(strings.NewReader(newsletter), "utf-8", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewSanitizer(b *testing.B) {
	for b.Loop() {
		NewSanitizer()
	}
}
