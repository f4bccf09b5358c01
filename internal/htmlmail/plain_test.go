package htmlmail

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// plainProblems checks PlainToHTML output: only the wrapper, quotes and
// links may appear, plus everything problems() checks.
func plainProblems(out string) []string {
	found := problems(out, false)
	doc, err := html.ParseWithOptions(strings.NewReader(out), html.ParseOptionEnableScripting(false))
	if err != nil {
		return append(found, err.Error())
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "html", "head", "body", "div", "blockquote", "a":
			default:
				found = append(found, "unexpected element <"+n.Data+">")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

func plainHTML(t *testing.T, text string, flowed bool) string {
	t.Helper()
	out := PlainToHTML(text, flowed)
	for _, p := range plainProblems(out) {
		t.Errorf("PlainToHTML(%q): %s\n  out: %s", text, p, out)
	}
	if !strings.HasPrefix(out, plainWrapper) || !strings.HasSuffix(out, "</div>") {
		t.Errorf("PlainToHTML(%q): wrapper missing: %s", text, out)
	}
	return strings.TrimSuffix(strings.TrimPrefix(out, plainWrapper), "</div>")
}

const linkAttrs = `target="_blank" rel="noopener noreferrer nofollow"`

func TestPlainToHTMLEscapes(t *testing.T) {
	in := `<script>alert("x")</script> & <b>bold</b> 'q'`
	got := plainHTML(t, in, false)
	want := `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; &#39;q&#39;`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if textContent(PlainToHTML(in, false)) != in {
		t.Errorf("text not preserved")
	}
}

func TestPlainToHTMLLinks(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"see https://example.com/a?b=1&c=2.",
			`see <a href="https://example.com/a?b=1&amp;c=2" ` + linkAttrs + `>https://example.com/a?b=1&amp;c=2</a>.`},
		{"(http://example.com/x)",
			`(<a href="http://example.com/x" ` + linkAttrs + `>http://example.com/x</a>)`},
		{"https://en.wikipedia.org/wiki/Foo_(bar), ok",
			`<a href="https://en.wikipedia.org/wiki/Foo_(bar)" ` + linkAttrs + `>https://en.wikipedia.org/wiki/Foo_(bar)</a>, ok`},
		{"<https://example.com/>",
			`&lt;<a href="https://example.com/" ` + linkAttrs + `>https://example.com/</a>&gt;`},
		{"write to mailto:a@example.com!",
			`write to <a href="mailto:a@example.com" ` + linkAttrs + `>mailto:a@example.com</a>!`},
		{"HTTPS://EXAMPLE.COM",
			`<a href="HTTPS://EXAMPLE.COM" ` + linkAttrs + `>HTTPS://EXAMPLE.COM</a>`},
		{"https://ja.wikipedia.org/wiki/東京。次",
			`<a href="https://ja.wikipedia.org/wiki/東京" ` + linkAttrs + `>https://ja.wikipedia.org/wiki/東京</a>。次`},
		// Not links.
		{"javascript:alert(1)", `javascript:alert(1)`},
		{"vbscript:msgbox(1) data:text/html,x", `vbscript:msgbox(1) data:text/html,x`},
		{"ftp://example.com/ www.example.com", `ftp://example.com/ www.example.com`},
		{"xhttps://example.com", `xhttps://example.com`},
		{"https://example.com/#jAvAsCript:x", `https://example.com/#jAvAsCript:x`},
		{"https:// nothing", `https:// nothing`},
		{`https://example.com/"onmouseover="alert(1)`,
			`<a href="https://example.com/" ` + linkAttrs + `>https://example.com/</a>&#34;onmouseover=&#34;alert(1)`},
	} {
		if got := plainHTML(t, tc.in, false); got != tc.want {
			t.Errorf("%q:\n got  %s\n want %s", tc.in, got, tc.want)
		}
	}
}

func TestPlainToHTMLQuotes(t *testing.T) {
	in := "Hi,\n> quoted\n> > nested\n>> nested too\n> back\n\nreply"
	got := plainHTML(t, in, false)
	want := `Hi,<blockquote type="cite">quoted<blockquote type="cite">nested` + "\n" +
		`nested too</blockquote>back</blockquote>` + "\nreply"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Unquoted lines keep their indentation (code, ASCII tables).
	if got := plainHTML(t, "  indented\n\ttab", false); got != "  indented\n\ttab" {
		t.Errorf("indentation lost: %q", got)
	}
	// A quote that opens at the end is closed.
	if got := plainHTML(t, "a\n>>> deep", false); got != `a<blockquote type="cite"><blockquote type="cite"><blockquote type="cite">deep</blockquote></blockquote></blockquote>` {
		t.Errorf("got %q", got)
	}
}

func TestPlainToHTMLFlowed(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		flowed   bool
		want     string
	}{
		{"joined", "This is a \nlong paragraph \nwrapped.\nNext line.", true,
			"This is a long paragraph wrapped.\nNext line."},
		{"not flowed keeps breaks", "This is a \nlong", false, "This is a \nlong"},
		{"CRLF", "one \r\ntwo\r\nthree\r\n", true, "one two\nthree"},
		{"space-stuffing removed", " >not a quote\n  two spaces\n From here", true,
			"&gt;not a quote\n two spaces\nFrom here"},
		{"quoted flowed", "> quoted \n> text\nreply", true,
			`<blockquote type="cite">quoted text</blockquote>reply`},
		{"depth change ends paragraph", "> a \n>> b\n", true,
			`<blockquote type="cite">a <blockquote type="cite">b</blockquote></blockquote>`},
		{"signature separator not joined", "text\n-- \nsig", true, "text\n-- \nsig"},
		{"URL split by soft break", "see https://example.com/a \nnext", true,
			`see <a href="https://example.com/a" ` + linkAttrs + `>https://example.com/a</a> next`},
		{"empty", "", true, ""},
	} {
		if got := plainHTML(t, tc.in, tc.flowed); got != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}

func TestPlainToHTMLBadBytes(t *testing.T) {
	got := plainHTML(t, "a\x00b\xffc", false)
	if got != "a\uFFFDb\uFFFDc" {
		t.Errorf("got %q", got)
	}
}
