package mime

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPreview(t *testing.T) {
	long := strings.Repeat("word ", 200)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "\r\n  Hello\r\n\r\n\tworld  \r\n", "Hello world"},
		{"base64 utf-8", "Content-Transfer-Encoding: base64\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			b64lines([]byte("Grüße aus Köln")) + "\r\n", "Grüße aus Köln"},
		{"qp latin1", "Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nd=E9j=E0 =\r\nvu=\r\n", "déjà vu"},
		{"html only", "Content-Type: text/html\r\n\r\n<html><head><title>T</title><style>p{}</style></head><body><p>Hello&nbsp;&amp; <b>bye</b></p><script>x()</script><!-- c --></body></html>", "Hello & bye"},
		{"plain preferred over earlier html", crlf("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>html</p>\n--b\nContent-Type: text/plain\n\nplain\n--b--\n"), "plain"},
		{"empty plain falls back to html", crlf("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n   \n--b\nContent-Type: text/html\n\n<p>html</p>\n--b--\n"), "html"},
		{"attachment skipped", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nattached\n--b\nContent-Type: text/plain\n\nreal\n--b--\n"), "real"},
		{"encapsulated message skipped", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\ninner\n--b--\n"), ""},
		{"no text", "Content-Type: image/png\r\n\r\nxxxx", ""},
		{"cut", "\r\n" + long, strings.TrimSpace(long[:256])},
		{"boundary not in preview", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nshort\n--b--\n"), "short"},
		{"unknown charset", "Content-Type: text/plain; charset=x-bogus\r\n\r\nabc \xff", "abc \uFFFD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustScan(t, tc.in, Limits{})
			if m.Preview != tc.want {
				t.Errorf("preview %q, want %q", m.Preview, tc.want)
			}
		})
	}
}

func TestPreviewRuneBoundary(t *testing.T) {
	in := "\r\n" + strings.Repeat("€", 300)
	for _, n := range []int{1, 7, 256} {
		m := mustScan(t, in, Limits{PreviewRunes: n})
		if !utf8.ValidString(m.Preview) || utf8.RuneCountInString(m.Preview) != n {
			t.Errorf("n=%d: %q", n, m.Preview)
		}
	}
}

func TestPreviewCaptureBounded(t *testing.T) {
	// 1 MB of base64 text: only the first 16 KiB is kept and decoded.
	text := strings.Repeat("lorem ipsum ", 1<<17)
	in := "Content-Transfer-Encoding: base64\r\n\r\n" + b64lines([]byte(text))
	m := mustScan(t, in, Limits{})
	if want := strings.TrimSpace(text[:256]); m.Preview != want {
		t.Errorf("preview %q", m.Preview)
	}
}

// A capture cut in a quoted-printable escape loses the half escape, not
// the text before it.
func TestPreviewCutEscape(t *testing.T) {
	for _, tail := range []string{"hello w=4", "hello w="} {
		c := &capture{part: &Part{Type: "text", Subtype: "plain", Encoding: "quoted-printable"}}
		c.add([]byte(strings.Repeat(" ", previewCapture-len(tail)) + tail + "1 rest"))
		if got := c.text(256); got != "hello w" {
			t.Errorf("%q: preview %q", tail, got)
		}
	}
}

func TestStripHTML(t *testing.T) {
	for in, want := range map[string]string{
		"<p>a</p><p>b</p>":            " a  b ",
		"x<br/>y":                     "x y",
		"<STYLE>a{}</STYLE>t":         "t",
		"a<!-- <p> -->b":              "ab",
		"a<unterminated":              "a",
		"&lt;tag&gt; &#233;":          "<tag> é",
		"<scrip>keep</scrip>":         "keep",
		"<script>a</script ><p>b":     " b",
		"<a href='x>y'>link</a>":      "link",
		"<head><title>t</title>h</x>": "",
	} {
		if got := stripHTML(in); got != want {
			t.Errorf("stripHTML(%q) = %q, want %q", in, got, want)
		}
	}
}
