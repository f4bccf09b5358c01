package junk

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestTokens(t *testing.T) {
	tests := []struct {
		name      string
		msg       []byte
		want, not []string
	}{{
		name: "plain text and subject",
		msg:  crlf("Subject: Free MONEY for you\nFrom: a@b.example\n\nBuy cheap VIAGRA now! Call 555-1234 at $100.\n"),
		want: []string{"subject:free", "subject:money", "subject:you", "buy", "cheap", "viagra", "now!", "call", "$100", "header:subject",
			"buy cheap", "cheap viagra", "viagra now!"},
		not: []string{"Buy", "555-1234", "at", "subject:my", "subject:free money", "buy viagra"},
	}, {
		name: "base64 body",
		msg: crlf("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte("a hidden secretword inside")) + "\n"),
		want: []string{"hidden", "secretword", "inside", "encoding:base64"},
		not:  []string{strings.ToLower(base64.StdEncoding.EncodeToString([]byte("a hidden secretword inside")))},
	}, {
		name: "quoted-printable latin-1",
		msg:  crlf("Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nUn caf=E9 et un R=C9SUM=C9 tr=\nes long\n"),
		want: []string{"café", "résumé", "tres", "long", "charset:iso-8859-1"},
		not:  []string{"caf=e9", "tr"},
	}, {
		name: "html",
		msg: crlf("Content-Type: text/html\n\n<html><body><p>Click <a href=\"http://Evil.Example.COM/x?y\">here</a> to get vi<!-- x -->agra</p>" +
			"<script>var hiddenscript=1</script><style>.c{color:red}</style>&eacute;t&eacute; &amp; fun<br>next</body></html>\n"),
		want: []string{"click", "here", "viagra", "url:evil.example.com", "url:example.com", "html:a", "html:script", "été", "fun", "next"},
		not:  []string{"hiddenscript", "color", "href", "html:p", "funnext", "url:com"},
	}, {
		name: "multipart with attachment",
		msg: crlf("Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nsee attached invoice\n" +
			"--XX\nContent-Type: application/octet-stream; name=\"Invoice.EXE\"\nContent-Disposition: attachment; filename=\"Invoice.EXE\"\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte("binarysecret payload")) + "\n--XX--\n"),
		want: []string{"see", "attached", "invoice", "filename:.exe", "mime:application/octet-stream", "mime:text/plain", "content-type:multipart/mixed"},
		not:  []string{"binarysecret", "payload"},
	}, {
		name: "encoded-word subject and addresses",
		msg: crlf("Subject: =?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("Gewinnen Sie Geld")) + "?=\n" +
			"From: \"Big Deals\" <Promo@Deals.Example.com>\nTo: undisclosed-recipients:;\nReturn-Path: <>\n\nbody\n"),
		want: []string{"subject:gewinnen", "subject:sie", "subject:geld", "from:addr:promo@deals.example.com", "from:dom:example.com",
			"from:dom:deals.example.com", "from:name:big", "from:name:deals", "to:none", "return-path:none"},
		not: []string{"from:dom:com"},
	}, {
		name: "received",
		msg:  crlf("Received: from mx.spammer.example (unknown [203.0.113.5])\n\tby mail.example.org with ESMTP\nSubject: x\n\nhello there\n"),
		want: []string{"received:ip:203.0", "received:ip:203.0.113", "received:mx.spammer.example", "received:spammer.example", "received:mail.example.org"},
		not:  []string{"received:ip:203.0.113.5"},
	}, {
		name: "long words and numbers",
		msg:  crlf("\n" + strings.Repeat("x", 50) + " 1234567 2002-08-06 ok yes\n"),
		want: []string{"skip:x5", "yes"},
		not:  []string{"1234567", "2002-08-06", "ok", strings.Repeat("x", 50)},
	}, {
		name: "mbox From line and our own headers ignored",
		msg: crlf("From spammer@example.com  Tue Aug  6 11:51:02 2002\nAuthentication-Results: mx.example.org; dkim=pass\nX-Spam-Status: Yes\n" +
			"Date: Tue, 6 Aug 2002 11:51:02 +0000\nDelivery-Date: Tue, 6 Aug 2002\nX-Mailroom-Junk: yes\nSubject: hi there\n\nbody text\n"),
		want: []string{"subject:there", "body", "text", "body text"},
		not: []string{"header:authentication-results", "header:x-spam-status", "header:date", "header:delivery-date", "header:x-mailroom-junk",
			"x-mailroom-junk:yes", "header:from spammer@example.com  tue aug  6 11"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks := Tokens(tc.msg)
			for _, w := range tc.want {
				if !slices.Contains(toks, w) {
					t.Errorf("missing %q in %q", w, toks)
				}
			}
			for _, w := range tc.not {
				if slices.Contains(toks, w) {
					t.Errorf("unexpected %q in %q", w, toks)
				}
			}
			assertDistinct(t, toks)
		})
	}
}

func assertDistinct(t *testing.T, toks []string) {
	t.Helper()
	seen := make(map[string]bool, len(toks))
	for _, w := range toks {
		if seen[w] {
			t.Fatalf("token %q twice", w)
		}
		seen[w] = true
	}
}

// TestTokensBounds: a huge message costs bounded tokens, and what lies
// beyond the bytes read is not looked at.
func TestTokensBounds(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Subject: big\r\nContent-Type: text/plain\r\n\r\n")
	// More distinct words than the token cap, then 50 MB of filler.
	for i := range 2 * maxTokens {
		fmt.Fprintf(&b, "word%dx ", i)
		if i%10 == 0 {
			b.WriteString("\r\n")
		}
	}
	b.Write(bytes.Repeat([]byte("filler line of text\r\n"), (50<<20)/21))
	b.WriteString("\r\nfarbeyondmarker\r\n")
	toks := Tokens(b.Bytes())
	if len(toks) > maxTokens {
		t.Fatalf("%d tokens, cap %d", len(toks), maxTokens)
	}
	if slices.Contains(toks, "farbeyondmarker") {
		t.Fatal("read past the bound")
	}
	if !slices.Contains(toks, "word1x") {
		t.Fatal("the start of the message is missing")
	}

	// Thousands of parts, each with text: at most maxTextParts are read.
	b.Reset()
	b.WriteString("Content-Type: multipart/mixed; boundary=B\r\n\r\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "--B\r\nContent-Type: text/plain\r\n\r\npartword%dx\r\n", i)
	}
	b.WriteString("--B--\r\n")
	toks = Tokens(b.Bytes())
	n := 0
	for _, w := range toks {
		if strings.HasPrefix(w, "partword") {
			n++
		}
	}
	if n == 0 || n > maxTextParts {
		t.Fatalf("%d text parts tokenized, want 1..%d", n, maxTextParts)
	}

	// A header of a million bytes on one line, and a body without line
	// ends.
	huge := append(append([]byte("Subject: "), bytes.Repeat([]byte("spam "), 200000)...), "\r\n\r\n"...)
	huge = append(huge, bytes.Repeat([]byte("a"), 5<<20)...)
	toks = Tokens(huge)
	if len(toks) > maxTokens || !slices.Contains(toks, "subject:spam") {
		t.Fatalf("huge header: %d tokens, subject:spam present %v", len(toks), slices.Contains(toks, "subject:spam"))
	}
}

// TestTokensLong: tokens from header values (a charset label, an
// encoding, an address) are bounded in length and cut on a character
// boundary.
func TestTokensLong(t *testing.T) {
	long := strings.Repeat("é", 400)
	msg := crlf("From: a@" + strings.Repeat("x", 300) + ".example\nContent-Type: text/plain; charset=\"x" + long + "\"\n" +
		"Content-Transfer-Encoding: " + strings.Repeat("q", 1000) + "\nX-Long: " + long + "\n" +
		"X-N\xe4me: v\n" + strings.Repeat("N", 100) + ": v\n\nbody\n")
	toks := Tokens(msg)
	found := 0
	for _, tok := range toks {
		if !utf8.ValidString(tok) {
			t.Errorf("token %q is not UTF-8", tok)
		}
		if len(tok) > maxTokenBytes+len("from:addr:") {
			t.Errorf("token of %d bytes: %.40q…", len(tok), tok)
		}
		if strings.HasPrefix(tok, "charset:xé") || strings.HasPrefix(tok, "encoding:qqq") {
			found++
		}
	}
	for _, tok := range toks {
		if strings.HasPrefix(tok, "header:x-n") || strings.HasPrefix(tok, "header:nnn") {
			t.Errorf("not a field name, yet a token: %q", tok)
		}
	}
	if found != 2 {
		t.Errorf("long charset and encoding tokens: %d of 2 found in %q", found, toks)
	}
}

func TestTokensEmpty(t *testing.T) {
	for _, msg := range [][]byte{nil, []byte(""), []byte("\r\n"), []byte("From x\n"), []byte("no header at all")} {
		toks := Tokens(msg)
		assertDistinct(t, toks)
	}
}

// TestTokensValidUTF8: raw 8-bit bytes in headers and bodies of unknown
// charsets never give tokens that are not UTF-8 (tokens are shown to
// people as reasons).
func TestTokensValidUTF8(t *testing.T) {
	msg := []byte("From: \"N\xe4me\xff\" <us\xe9r@h\xf6st.example>\r\nSubject: caf\xe9 \xff\xfe\xfd bon\r\n" +
		"X-Thing: v\xe4lue\r\nReceived: from h\xf6st.example ([192.0.2.1])\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n" +
		"caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xff\xff http://ex\xe4mple.com/ www.h\xf6st.example\r\n")
	toks := Tokens(msg)
	if len(toks) == 0 {
		t.Fatal("no tokens")
	}
	for _, tok := range toks {
		if !utf8.ValidString(tok) {
			t.Errorf("token %q is not UTF-8", tok)
		}
	}
	// Unlabelled 8-bit text is read as Windows-1252, so accented words
	// stay whole.
	for _, w := range []string{"café", "crème", "brûlée", "subject:café", "x-thing:välue", "from:addr:usér@höst.example"} {
		if !slices.Contains(toks, w) {
			t.Errorf("missing %q in %q", w, toks)
		}
	}
	// A UTF-8 label is believed: its invalid bytes are not reinterpreted.
	utf := Tokens([]byte("Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9 ok\r\n"))
	if slices.Contains(utf, "café") {
		t.Errorf("invalid UTF-8 under a UTF-8 label was reinterpreted: %q", utf)
	}
}
