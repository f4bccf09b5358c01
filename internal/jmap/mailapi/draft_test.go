package mailapi

import (
	"strings"
	"testing"
	"time"
)

// shape is a draft's MIME tree as "type(child,child)".
func shape(p *draftPart) string {
	if len(p.subParts) == 0 {
		return p.typ
	}
	var kids []string
	for _, k := range p.subParts {
		kids = append(kids, shape(k))
	}
	return p.typ + "(" + strings.Join(kids, ",") + ")"
}

func TestDraftTreeFromFlatLists(t *testing.T) {
	text := `"textBody":[{"partId":"t"}]`
	html := `"htmlBody":[{"partId":"h"}]`
	inline := `{"blobId":"B1","type":"image/png","disposition":"inline","cid":"logo@x"}`
	file := `{"blobId":"B2","type":"application/pdf","name":"a.pdf"}`
	values := `"bodyValues":{"t":{"value":"t"},"h":{"value":"h"}}`
	for _, c := range []struct{ email, want string }{
		{text, "text/plain"},
		{html, "text/html"},
		{text + "," + html, "multipart/alternative(text/plain,text/html)"},
		{text + "," + html + `,"attachments":[` + inline + `]`, "multipart/alternative(text/plain,multipart/related(text/html,image/png))"},
		{text + "," + html + `,"attachments":[` + inline + "," + file + `]`,
			"multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),application/pdf)"},
		// Without HTML an inline image is an attachment like any other.
		{text + `,"attachments":[` + inline + `]`, "multipart/mixed(text/plain,image/png)"},
		{`"attachments":[` + file + `]`, "multipart/mixed(application/pdf)"},
		{`"subject":"empty"`, "text/plain"},
	} {
		d, serr := parseDraft([]byte(`{"mailboxIds":{"F1":true},`+c.email+","+values+`}`), time.Now(), "example.test", randomID)
		if serr != nil {
			t.Errorf("%s: %v", c.email, serr)
			continue
		}
		if got := shape(d.root); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.email, got, c.want)
		}
	}
}

func TestHeaderEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"plain subject":    "plain subject",
		"a\r\nBcc: x":      "a  Bcc: x",
		"=?utf-8?q?fake?=": "=?utf-8?q?=3D=3Futf-8=3Fq=3Ffake=3F=3D?=",
		"Köln":             "=?utf-8?q?K=C3=B6ln?=",
	} {
		if got := encodeText(in); got != want {
			t.Errorf("encodeText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Ann":              "Ann",
		"Bob, the builder": `"Bob, the builder"`,
		`say "hi"`:         `"say \"hi\""`,
		"Zoë":              "=?utf-8?b?Wm/Dqw==?=",
	} {
		if got := encodePhrase(in); got != want {
			t.Errorf("encodePhrase(%q) = %q, want %q", in, got, want)
		}
	}
	var b strings.Builder
	foldField(&b, field{name: "Subject", value: strings.Repeat("word ", 40) + "end"})
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d: %q", len(line), line)
		}
	}
	if unfolded := strings.ReplaceAll(b.String(), "\r\n", ""); unfolded != "Subject: "+strings.Repeat("word ", 40)+"end" {
		t.Errorf("folding changed the value: %q", unfolded)
	}
}
