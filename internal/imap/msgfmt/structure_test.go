package msgfmt

import (
	"strings"
	"testing"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
)

func TestEnvelopeEdges(t *testing.T) {
	cases := []struct {
		name string
		env  *mime.Envelope
		utf8 bool
		want string
	}{
		{"nil", nil, false, `(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)`},
		{"stray CR LF NUL dropped",
			&mime.Envelope{Subject: "a\rb\nc\x00d", MessageID: "<x\x00@y>"}, false,
			`(NIL "abcd" NIL NIL NIL NIL NIL NIL NIL "<x@y>")`},
		{"empty group name stays a start marker",
			&mime.Envelope{To: []mime.Address{{GroupStart: true}, {GroupEnd: true}}}, false,
			`(NIL NIL NIL NIL NIL ((NIL NIL "" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)`},
		{"missing parts of an address",
			&mime.Envelope{From: []mime.Address{{Name: "N", Host: "h.test"}, {Mailbox: "m"}}}, false,
			`(NIL NIL (("N" NIL "MISSING_MAILBOX" "h.test")(NIL NIL "m" "MISSING_DOMAIN")) NIL NIL NIL NIL NIL NIL NIL)`},
		{"8-bit literal without UTF8=ACCEPT, invalid UTF-8 even with it",
			&mime.Envelope{Subject: "\xe9t\xe9"}, true,
			"(NIL {3}\r\n\xe9t\xe9 NIL NIL NIL NIL NIL NIL NIL NIL)"},
		{"long subject as literal",
			&mime.Envelope{Subject: strings.Repeat("x", 2000)}, false,
			"(NIL " + literal(strings.Repeat("x", 2000)) + " NIL NIL NIL NIL NIL NIL NIL NIL)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(c.utf8, func(e *wire.Encoder) { Envelope(e, c.env) })
			if got != c.want {
				t.Errorf("\n got %q\nwant %q", got, c.want)
			}
			if err := checkSyntax([]byte(got)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBodyStructureEdges(t *testing.T) {
	leaf := func(p mime.Part) *mime.Message {
		return &mime.Message{Root: &p, Size: p.End}
	}
	cases := []struct {
		name     string
		msg      *mime.Message
		utf8     bool
		extended bool
		want     string
	}{
		{"nil message", nil, false, true,
			`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)`},
		{"charset present in another case: no default",
			leaf(mime.Part{Type: "text", Subtype: "plain", Encoding: "7bit", Params: []mime.Param{{Name: "CHARSET", Value: "x"}}}), false, false,
			`("text" "plain" ("CHARSET" "x") NIL NIL "7bit" 0 0)`},
		{"parameter values that cannot be quoted",
			leaf(mime.Part{Type: "application", Subtype: "x", Encoding: "base64", Params: []mime.Param{
				{Name: "a", Value: "é"}, {Name: "b", Value: "\xe9"}, {Name: "c", Value: "x\r\ny"}}}), false, false,
			`("application" "x" ("a*" "utf-8''%C3%A9" "b*" "unknown-8bit''%E9" "c*" "utf-8''x%0D%0Ay") NIL NIL "base64" 0)`},
		{"UTF-8 parameter with UTF8=ACCEPT, invalid one still encoded",
			leaf(mime.Part{Type: "application", Subtype: "x", Encoding: "base64", Params: []mime.Param{
				{Name: "a", Value: "é"}, {Name: "b", Value: "\xe9"}}}), true, false,
			`("application" "x" ("a" "é" "b*" "unknown-8bit''%E9") NIL NIL "base64" 0)`},
		{"extension data",
			leaf(mime.Part{Type: "image", Subtype: "png", Encoding: "base64", ID: "<i>", Description: "d", MD5: "m",
				Disposition: "inline", Language: []string{"", "en"}, Location: "l", HeaderStart: 0, BodyStart: 10, End: 30}), false, true,
			`("image" "png" NIL "<i>" "d" "base64" 20 "m" ("inline" NIL) ("en") "l")`},
		{"empty language list is NIL",
			leaf(mime.Part{Type: "image", Subtype: "png", Encoding: "base64", Language: []string{""}}), false, true,
			`("image" "png" NIL NIL NIL "base64" 0 NIL NIL NIL NIL)`},
		{"childless multipart is text/plain, keeping its extension data",
			leaf(mime.Part{Type: "multipart", Subtype: "mixed", Encoding: "7bit", Params: []mime.Param{{Name: "boundary", Value: "b"}},
				Disposition: "inline", BodyStart: 5, End: 9, BodyLines: 1}), false, true,
			`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1 NIL ("inline" NIL) NIL NIL)`},
		{"unparsed message/rfc822, BODY",
			leaf(mime.Part{Type: "message", Subtype: "rfc822", Encoding: "base64", BodyStart: 5, End: 9, BodyLines: 1}), false, false,
			`("message" "rfc822" NIL NIL NIL "base64" 4 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) 1)`},
		{"parsed message/rfc822 whose message has no envelope",
			leaf(mime.Part{Type: "message", Subtype: "rfc822", Encoding: "7bit", BodyStart: 5, End: 9, BodyLines: 1,
				Parts: []*mime.Part{{Type: "text", Subtype: "plain", Encoding: "7bit", HeaderStart: 5, BodyStart: 5, End: 9, BodyLines: 1}}}), false, false,
			`("message" "rfc822" NIL NIL NIL "7bit" 4 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1) 1)`},
		{"damaged offsets and empty fields",
			leaf(mime.Part{BodyStart: 10, End: 3, BodyLines: -2}), false, false,
			`("" "" NIL NIL NIL "7bit" 0)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(c.utf8, func(e *wire.Encoder) { BodyStructure(e, c.msg, c.extended) })
			if got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
			if err := checkSyntax([]byte(got)); err != nil {
				t.Error(err)
			}
		})
	}
}

// A structure deeper than any scan produces (a corrupt or hand-built one)
// is cut to leaves, still balanced.
func TestBodyStructureDepthGuard(t *testing.T) {
	root := &mime.Part{Type: "text", Subtype: "plain", Encoding: "7bit"}
	for i := 0; i < maxDepth+50; i++ {
		if i%2 == 0 {
			root = &mime.Part{Type: "multipart", Subtype: "mixed", Encoding: "7bit", Parts: []*mime.Part{root}}
		} else {
			root = &mime.Part{Type: "message", Subtype: "rfc822", Encoding: "7bit", Parts: []*mime.Part{root}}
		}
	}
	for _, ext := range []bool{false, true} {
		out := render(false, func(e *wire.Encoder) { BodyStructure(e, &mime.Message{Root: root}, ext) })
		if err := checkSyntax([]byte(out)); err != nil {
			t.Fatal(err)
		}
	}
}
