package emailprops

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// mpBuilder writes multipart test messages with distinct boundaries.
type mpBuilder struct{ n int }

// leaf is one part: header lines (without the empty line) and body.
func leaf(header, body string) string {
	if header == "" {
		return "\r\n" + body
	}
	return crlf(header) + "\r\n\r\n" + body
}

// mp is a multipart/sub part holding kids.
func (b *mpBuilder) mp(sub string, kids ...string) string {
	b.n++
	bd := fmt.Sprintf("b%d", b.n)
	var s strings.Builder
	fmt.Fprintf(&s, "Content-Type: multipart/%s; boundary=%s\r\n\r\n", sub, bd)
	for _, k := range kids {
		fmt.Fprintf(&s, "--%s\r\n%s\r\n", bd, k)
	}
	fmt.Fprintf(&s, "--%s--\r\n", bd)
	return s.String()
}

// rfcExample is the structure of RFC 8621 section 4.1.4's example, each
// leaf's body its letter.
func rfcExample() string {
	var b mpBuilder
	inline := func(typ, letter string) string {
		return leaf("Content-Type: "+typ+"\nContent-Disposition: inline", letter)
	}
	return "From: a@example.com\r\nSubject: example\r\n" + b.mp("mixed",
		inline("text/plain", "A"),
		b.mp("mixed",
			b.mp("alternative",
				b.mp("mixed",
					inline("text/plain", "B"),
					inline("image/jpeg", "C"),
					inline("text/plain", "D"),
				),
				b.mp("related",
					leaf("Content-Type: text/html", "E"),
					leaf("Content-Type: image/jpeg", "F"),
				),
			),
			leaf("Content-Type: image/jpeg\nContent-Disposition: attachment", "G"),
			leaf("Content-Type: application/x-excel", "H"),
			leaf("Content-Type: message/rfc822", "Subject: J\r\n\r\nJ"),
		),
		inline("text/plain", "K"),
	)
}

func ids(ps []EmailBodyPart) []string {
	var out []string
	for _, p := range ps {
		if p.PartID == nil {
			out = append(out, "<nil>")
			continue
		}
		out = append(out, *p.PartID)
	}
	return out
}

func TestRFCExampleLists(t *testing.T) {
	msg := rfcExample()
	m := scan(t, msg)
	text, html, att, err := BodyLists(strings.NewReader(msg), m, nil, []string{"partId", "type"})
	if err != nil {
		t.Fatal(err)
	}
	// The RFC: textBody [A, B, C, D, K], htmlBody [A, E, K],
	// attachments [C, F, G, H, J].
	A, B, C, D, E, F, G, H, J, K := "1", "2.1.1.1", "2.1.1.2", "2.1.1.3", "2.1.2.1", "2.1.2.2", "2.2", "2.3", "2.4", "3"
	for _, c := range []struct {
		name string
		got  []EmailBodyPart
		want []string
	}{
		{"textBody", text, []string{A, B, C, D, K}},
		{"htmlBody", html, []string{A, E, K}},
		{"attachments", att, []string{C, F, G, H, J}},
	} {
		if got := ids(c.got); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	// The letters are the bodies: check the ids point where the RFC says.
	r := strings.NewReader(msg)
	for id, letter := range map[string]string{A: "A", B: "B", C: "C", D: "D", E: "E", F: "F", G: "G", H: "H", K: "K"} {
		p, ok := PartByID(m, id)
		if !ok {
			t.Fatalf("PartByID(%s) failed", id)
		}
		b, _ := io.ReadAll(PartReader(r, p))
		if string(b) != letter {
			t.Errorf("part %s = %q, want %q", id, b, letter)
		}
	}
	if !HasAttachment(m) {
		t.Error("HasAttachment = false")
	}
	if got := mustJSON(t, text[0]); got != `{"partId":"1","type":"text/plain"}` {
		t.Errorf("text[0] JSON = %s", got)
	}
}

func TestParseStructureCases(t *testing.T) {
	var b mpBuilder
	html := leaf("Content-Type: text/html", "<p>h</p>")
	plain := leaf("Content-Type: text/plain", "p")
	tests := []struct {
		name          string
		msg           string
		text, html    []string
		att           []string
		hasAttachment bool
	}{
		{"single text part", "Subject: x\r\n\r\nhello", []string{"1"}, []string{"1"}, nil, false},
		{"html only alternative copies to text", b.mp("alternative", html), []string{"1"}, []string{"1"}, nil, false},
		{"plain only alternative copies to html", b.mp("alternative", plain), []string{"1"}, []string{"1"}, nil, false},
		{"alternative", b.mp("alternative", plain, html), []string{"1"}, []string{"2"}, nil, false},
		{"named text after first is attachment", b.mp("mixed", plain,
			leaf("Content-Type: text/plain; name=notes.txt", "n")), []string{"1"}, []string{"1"}, []string{"2"}, true},
		{"inline image in mixed is in both bodies", b.mp("mixed", plain,
			leaf("Content-Type: image/png\nContent-Disposition: inline", "i")), []string{"1", "2"}, []string{"1", "2"}, nil, false},
		{"related: only the first part inline", b.mp("related", html,
			leaf("Content-Type: image/png\nContent-Disposition: inline\nContent-ID: <img1>", "i")), []string{"1"}, []string{"1"}, []string{"2"}, false},
		{"message/rfc822 is an attachment", b.mp("mixed", plain,
			leaf("Content-Type: message/rfc822", "Subject: in\r\n\r\ninner")), []string{"1"}, []string{"1"}, []string{"2"}, true},
		{"single-part image", "Content-Type: image/gif\r\n\r\nGIF", []string{"1"}, []string{"1"}, nil, false},
		{"single-part pdf", "Content-Type: application/pdf\r\n\r\n%PDF", nil, nil, []string{"1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := scan(t, tt.msg)
			text, html, att, err := BodyLists(strings.NewReader(tt.msg), m, nil, []string{"partId"})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(text); !reflect.DeepEqual(got, tt.text) {
				t.Errorf("textBody = %v, want %v", got, tt.text)
			}
			if got := ids(html); !reflect.DeepEqual(got, tt.html) {
				t.Errorf("htmlBody = %v, want %v", got, tt.html)
			}
			if got := ids(att); !reflect.DeepEqual(got, tt.att) {
				t.Errorf("attachments = %v, want %v", got, tt.att)
			}
			if got := HasAttachment(m); got != tt.hasAttachment {
				t.Errorf("HasAttachment = %v, want %v", got, tt.hasAttachment)
			}
		})
	}
}

func TestBodyStructure(t *testing.T) {
	var b mpBuilder
	msg := "Subject: s\r\n" + b.mp("mixed",
		leaf("", "plain, no header"),
		leaf("Content-Type: text/html; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable", "caf=E9"),
		leaf("Content-Type: application/octet-stream; name=\"a.bin\"\nContent-Transfer-Encoding: base64\n"+
			"Content-Disposition: ATTACHMENT; filename*=UTF-8''r%C3%A9sum%C3%A9.bin\nContent-ID: <c1@x> (comment)\n"+
			"Content-Language: en, fr\nContent-Location: http://example.com/a\n  .bin\nX-Extra: 1", "AAECAwQ="),
	)
	m := scan(t, msg)
	blob := func(id string) string { return "B-" + id }
	bs, err := BodyStructure(strings.NewReader(msg), m, blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"partId":null,"blobId":null,"size":` + fmt.Sprint(m.Root.BodySize()) + `,"name":null,"type":"multipart/mixed","charset":null,"disposition":null,"cid":null,"language":null,"location":null,"subParts":[` +
		`{"partId":"1","blobId":"B-1","size":16,"name":null,"type":"text/plain","charset":"us-ascii","disposition":null,"cid":null,"language":null,"location":null},` +
		`{"partId":"2","blobId":"B-2","size":4,"name":null,"type":"text/html","charset":"ISO-8859-1","disposition":null,"cid":null,"language":null,"location":null},` +
		`{"partId":"3","blobId":"B-3","size":5,"name":"résumé.bin","type":"application/octet-stream","charset":null,"disposition":"attachment","cid":"c1@x","language":["en","fr"],"location":"http://example.com/a.bin"}]}`
	if got := mustJSON(t, bs); got != want {
		t.Errorf("BodyStructure =\n%s\nwant\n%s", got, want)
	}

	// Explicit properties, header properties and headers.
	props := []string{"partId", "headers", "header:X-Extra:asText", "header:x-extra:all", "subParts", "size"}
	bs, err = BodyStructure(strings.NewReader(msg), m, blob, props)
	if err != nil {
		t.Fatal(err)
	}
	got := mustJSON(t, bs.SubParts[2])
	wantPart := `{"partId":"3","headers":[{"name":"Content-Type","value":" application/octet-stream; name=\"a.bin\""},` +
		`{"name":"Content-Transfer-Encoding","value":" base64"},{"name":"Content-Disposition","value":" ATTACHMENT; filename*=UTF-8''r%C3%A9sum%C3%A9.bin"},` +
		`{"name":"Content-ID","value":" \u003cc1@x\u003e (comment)"},{"name":"Content-Language","value":" en, fr"},` +
		`{"name":"Content-Location","value":" http://example.com/a\r\n  .bin"},{"name":"X-Extra","value":" 1"}],` +
		`"header:X-Extra:asText":"1","header:x-extra:all":[" 1"],"subParts":null,"size":5}`
	if got != wantPart {
		t.Errorf("part 3 =\n%s\nwant\n%s", got, wantPart)
	}
	if got := mustJSON(t, bs.SubParts[0]); !strings.Contains(got, `"headers":[]`) {
		t.Errorf("headerless part: %s", got)
	}
}

func TestDigestCharset(t *testing.T) {
	var b mpBuilder
	msg := b.mp("digest",
		leaf("", "Subject: implied\r\n\r\nx"),
		leaf("Content-Type: message/rfc822", "Subject: explicit\r\n\r\ny"),
	)
	m := scan(t, msg)
	bs, err := BodyStructure(strings.NewReader(msg), m, nil, []string{"type", "charset"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"multipart/digest","charset":null,"subParts":[{"type":"message/rfc822","charset":"us-ascii"},{"type":"message/rfc822","charset":null}]}`
	if got := mustJSON(t, bs); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestPartByID(t *testing.T) {
	msg := rfcExample()
	m := scan(t, msg)
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"1", true}, {"2.1.1.3", true}, {"2.4", true}, {"3", true},
		{"2", false}, {"2.1", false}, {"", false}, {"4", false}, {"0", false}, {"01", false},
		{"2.4.1", false}, {"1.1", false}, {"x", false}, {"+1", false}, {"2..1", false},
	} {
		if _, ok := PartByID(m, c.id); ok != c.ok {
			t.Errorf("PartByID(%q) ok = %v, want %v", c.id, ok, c.ok)
		}
	}
	single := scan(t, "Subject: x\r\n\r\nbody")
	if p, ok := PartByID(single, "1"); !ok || p != single.Root {
		t.Errorf("single part: %v %v", p, ok)
	}
	if _, ok := PartByID(single, "2"); ok {
		t.Error("single part 2 found")
	}
}

// A deeply nested multipart stays bounded by the scanner's depth limit
// (1000 at most), and nothing here recurses past it or panics.
func TestDeepNesting(t *testing.T) {
	const depth = 1000
	var s strings.Builder
	s.WriteString("Subject: deep\r\n")
	for i := range depth {
		fmt.Fprintf(&s, "Content-Type: multipart/mixed; boundary=d%d\r\n\r\n--d%d\r\n", i, i)
	}
	s.WriteString("Content-Type: text/plain\r\n\r\ninnermost\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&s, "--d%d--\r\n", i)
	}
	msg := s.String()
	for _, maxDepth := range []int{0, 1000} {
		m := scanLimits(t, msg, mimeLimits(maxDepth))
		r := strings.NewReader(msg)
		bs, err := BodyStructure(r, m, func(id string) string { return id }, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(mustJSON(t, bs)) > 1<<20 {
			t.Errorf("depth %d: JSON too large", maxDepth)
		}
		if _, _, _, err := BodyLists(r, m, nil, nil); err != nil {
			t.Fatal(err)
		}
		_ = Preview(r, m)
	}
}
