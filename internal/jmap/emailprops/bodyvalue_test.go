package emailprops

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"mailroom/internal/mime"
)

func TestBodyValue(t *testing.T) {
	tests := []struct {
		name   string
		header string
		body   string
		max    int
		want   EmailBodyValue
	}{
		{"plain", "Content-Type: text/plain", "hello\r\nworld", 0, EmailBodyValue{Value: "hello\nworld"}},
		{"bare CR kept", "Content-Type: text/plain", "a\rb\r\r\nc", 0, EmailBodyValue{Value: "a\rb\r\nc"}},
		{"latin1 qp", "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable",
			"caf=E9=\r\n au lait", 0, EmailBodyValue{Value: "café au lait"}},
		{"base64 utf-8", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
			"w6l0w6k=", 0, EmailBodyValue{Value: "été"}},
		{"truncated on a character boundary", "Content-Type: text/plain; charset=utf-8", "héllo", 2,
			EmailBodyValue{Value: "h", IsTruncated: true}},
		{"truncated exactly after a character", "Content-Type: text/plain; charset=utf-8", "héllo", 3,
			EmailBodyValue{Value: "hé", IsTruncated: true}},
		{"not truncated at exact size", "Content-Type: text/plain", "abc", 3, EmailBodyValue{Value: "abc"}},
		{"truncation counts LF not CRLF", "Content-Type: text/plain", "a\r\nb", 3, EmailBodyValue{Value: "a\nb"}},
		{"four-byte character", "Content-Type: text/plain; charset=utf-8", "a\U0001F600b", 4,
			EmailBodyValue{Value: "a", IsTruncated: true}},
		{"html not cut inside a tag", "Content-Type: text/html", `<p>hi <a href="https://example.com">x</a>`, 20,
			EmailBodyValue{Value: "<p>hi ", IsTruncated: true}},
		{"broken base64", "Content-Type: text/plain\nContent-Transfer-Encoding: base64", "aGVsbG8*!", 0,
			EmailBodyValue{Value: "hello", IsEncodingProblem: true}},
		{"base64 single trailing sextet", "Content-Type: text/plain\nContent-Transfer-Encoding: base64", "aGVsbG8gA", 0,
			EmailBodyValue{Value: "hello ", IsEncodingProblem: true}},
		{"bad qp escape", "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable", "a=ZZb", 0,
			EmailBodyValue{Value: "a=ZZb", IsEncodingProblem: true}},
		{"unknown charset", "Content-Type: text/plain; charset=x-no-such-charset", "abc", 0,
			EmailBodyValue{Value: "abc", IsEncodingProblem: true}},
		{"unknown transfer encoding", "Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode", "abc", 0,
			EmailBodyValue{Value: "abc", IsEncodingProblem: true}},
		{"invalid utf-8", "Content-Type: text/plain; charset=utf-8", "a\xffb", 0,
			EmailBodyValue{Value: "a\uFFFDb", IsEncodingProblem: true}},
		{"undefined octet in charset", "Content-Type: text/plain; charset=shift_jis", "a\xa0\xffb", 0,
			EmailBodyValue{Value: "a\uFFFD\uFFFDb", IsEncodingProblem: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := leaf(tt.header, tt.body)
			m := scan(t, msg)
			got, err := BodyValue(strings.NewReader(msg), m.Root, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("BodyValue = %+v\nwant %+v", got, tt.want)
			}
			if tt.max > 0 && len(got.Value) > tt.max {
				t.Errorf("value has %d octets, max %d", len(got.Value), tt.max)
			}
		})
	}
}

// Every cut of a multi-byte text is valid UTF-8 within the bound.
func TestBodyValueTruncationSweep(t *testing.T) {
	body := strings.Repeat("aé€\U0001F600", 50)
	msg := leaf("Content-Type: text/plain; charset=utf-8", body)
	m := scan(t, msg)
	for max := 1; max <= len(body)+1; max++ {
		v, err := BodyValue(strings.NewReader(msg), m.Root, max)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(v.Value) || len(v.Value) > max || len(v.Value) < max-3 && v.IsTruncated {
			t.Fatalf("max %d: %d octets, valid %v", max, len(v.Value), utf8.ValidString(v.Value))
		}
		if v.IsTruncated != (max < len(body)) || !strings.HasPrefix(body, v.Value) {
			t.Fatalf("max %d: truncated %v, prefix %v", max, v.IsTruncated, strings.HasPrefix(body, v.Value))
		}
	}
}

// A large part is read only as far as the value needs.
func TestBodyValueReadsBounded(t *testing.T) {
	body := strings.Repeat("0123456789abcdef\r\n", 1<<16) // about 1.1 MB
	msg := leaf("Content-Type: text/plain", body)
	m := scan(t, msg)
	cr := &countingReaderAt{r: strings.NewReader(msg)}
	v, err := BodyValue(cr, m.Root, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !v.IsTruncated || len(v.Value) != 1000 {
		t.Errorf("len %d truncated %v", len(v.Value), v.IsTruncated)
	}
	if cr.n > 256<<10 {
		t.Errorf("read %d octets for a 1000-octet value", cr.n)
	}
}

type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestPartReaderAndSize(t *testing.T) {
	var b mpBuilder
	msg := b.mp("mixed",
		leaf("Content-Type: image/png\nContent-Transfer-Encoding: base64", strings.Repeat("AAECAwQFBgcICQ==\r\n", 1000)),
		leaf("Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable", "caf=E9"),
	)
	m := scan(t, msg)
	r := strings.NewReader(msg)
	parts, err := Attachments(r, m, nil, []string{"partId", "size"})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 0 {
		t.Fatalf("attachments %v", ids(parts))
	}
	text, err := TextBody(r, m, nil, []string{"partId", "size"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, text); got != `[{"partId":"1","size":10000},{"partId":"2","size":4}]` {
		t.Errorf("textBody = %s", got)
	}
	p, _ := PartByID(m, "2")
	blob, _ := io.ReadAll(PartReader(r, p))
	if string(blob) != "caf\xe9" {
		t.Errorf("blob = %q: the charset must not be converted", blob)
	}
	htmlParts, err := HTMLBody(r, m, nil, []string{"partId"})
	if err != nil || len(htmlParts) != 2 {
		t.Errorf("htmlBody = %v, %v", ids(htmlParts), err)
	}
}

func TestPreview(t *testing.T) {
	var b mpBuilder
	long := strings.Repeat("word ", 100)
	msg := b.mp("alternative",
		leaf("Content-Type: text/plain", "Hello\r\n\r\n  there,  "+long),
		leaf("Content-Type: text/html", "<p>ignored</p>"),
	)
	m := scan(t, msg)
	p := Preview(strings.NewReader(msg), m)
	if !strings.HasPrefix(p, "Hello there, word") || utf8.RuneCountInString(p) > 256 {
		t.Errorf("Preview = %q", p)
	}
	// A structure without a preview (decoded from old storage) derives
	// one from textBody, HTML stripped.
	htmlMsg := leaf("Content-Type: text/html", "<html><head><title>t</title></head><body><p>Hi&amp;bye</p></body></html>")
	m = scan(t, htmlMsg)
	m.Preview = ""
	if got := Preview(strings.NewReader(htmlMsg), m); got != "Hi&bye" {
		t.Errorf("derived Preview = %q", got)
	}
	if got := Preview(strings.NewReader(""), scan(t, "Content-Type: application/pdf\r\n\r\nx")); got != "" {
		t.Errorf("Preview of a pdf = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		" \"  James Smythe\" <james@example.com>, Friends:\r\n  jane@example.com, =?UTF-8?Q?John_Sm=C3=AEth?=\r\n  <john@example.com>;",
		" <a@b> <c@d>", " Thu, 30 Oct 2014 14:12:00 +0800", " <mailto:x@y>, <https://z> (c)",
		" =?UTF-8?B?w6k=?= x", " (((", " <", "\xff\xfe", " G:;, a@b (c", "",
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, value string, form uint8) {
		for fm := FormRaw; fm <= FormURLs; fm++ {
			v := Parse(value, fm)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Parse(%q, %v): %v", value, fm, err)
			}
			if fm != FormRaw && !utf8.Valid(b) {
				t.Fatalf("Parse(%q, %v) gives invalid UTF-8", value, fm)
			}
		}
		prop := "header:" + value
		if name, _, _, ok := ParseHeaderProperty(prop); ok && (name == "" || strings.Contains(name, ":")) {
			t.Fatalf("ParseHeaderProperty(%q) name %q", prop, name)
		}
		_ = AllowedForm(value, Form(form))
	})
}

func FuzzBody(f *testing.F) {
	f.Add([]byte(rfcExample()), 100)
	f.Add([]byte(leaf("Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable", "<p>caf=E9 =ZZ</p>")), 7)
	f.Add([]byte(leaf("Content-Type: text/plain\nContent-Transfer-Encoding: base64", "w6l0w6k*")), 0)
	f.Add([]byte("Content-Type: multipart/digest; boundary=x\r\n\r\n--x\r\n\r\nSubject: a\r\n\r\nb\r\n--x--"), 3)
	f.Fuzz(func(t *testing.T, msg []byte, max int) {
		m, err := mime.Scan(strings.NewReader(string(msg)), mime.Limits{MaxDepth: 8, MaxParts: 50})
		if err != nil {
			return
		}
		r := strings.NewReader(string(msg))
		props := []string{"partId", "blobId", "size", "headers", "name", "type", "charset", "disposition", "cid",
			"language", "location", "subParts", "header:Content-Type:asText", "header:X:asAddresses:all"}
		bs, err := BodyStructure(r, m, func(id string) string { return "b" + id }, props)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(bs); err != nil {
			t.Fatal(err)
		}
		text, html, att, err := BodyLists(r, m, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range [][]EmailBodyPart{text, html, att} {
			for _, bp := range list {
				p, ok := PartByID(m, *bp.PartID)
				if !ok || p != bp.Part {
					t.Fatalf("PartByID(%s) does not resolve", *bp.PartID)
				}
				v, err := BodyValue(r, p, max%1000)
				if err != nil {
					t.Fatal(err)
				}
				if !utf8.ValidString(v.Value) || (max%1000 > 0 && len(v.Value) > max%1000) {
					t.Fatalf("bad body value %q for max %d", v.Value, max%1000)
				}
			}
		}
		if p := Preview(r, m); utf8.RuneCountInString(p) > 256 || !utf8.ValidString(p) {
			t.Fatalf("bad preview %q", p)
		}
		if _, err := SummaryOf(r, m); err != nil {
			t.Fatal(err)
		}
	})
}
