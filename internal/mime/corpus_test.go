package mime

import (
	"encoding/base64"
	"strings"
	"testing"
)

// corpusCase is one generated test message with the checks specific to it.
type corpusCase struct {
	name  string
	input string
	lim   Limits
	check func(t *testing.T, m *Message, in string)
}

func b64lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.String()
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

var simpleMsg = crlf(`From: "Joe Q. Public" <john.q.public@example.com>
To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>
Cc: <boss@nil.test>, "Giant; \"Big\" Box" <sysservices@example.net>
Subject: Hello
 world
Date: Tue, 1 Jul 2003 10:52:37 +0200
Message-ID: <5678.21-Nov-1997@example.com>
In-Reply-To: <1234@local.machine.example>

Hi Mary,
  how are you?
`)

var nestedPNG = pattern(300)

var nestedMsg = crlf(`From: a@example.com
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.
--outer
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9   and
  cr=C3=A8me.
--alt
Content-Type: multipart/related; boundary="rel"; type="text/html"

--rel
Content-Type: text/html; charset=utf-8

<html><body><p>Caf&eacute; HTML</p><img src="cid:img1"></body></html>
--rel
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <img1>
Content-Disposition: inline

`) + b64lines(nestedPNG) + crlf(`
--rel--
--alt--

--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64
Content-Description: The report
Content-Language: en, de
Content-Location: http://example.com/
 report.pdf
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

JVBERi0xLjQK
--outer--
This is the epilogue.
`)

var namesMsg = crlf(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/octet-stream; name="=?UTF-8?B?w6lsw6h2ZS5wZGY=?="

one
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf

two
--b
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=UTF-8''%C3%A4%20long%20;
 filename*1*=name%20%E2%9C%93;
 filename*2=".txt"

three
--b
Content-Type: text/plain; charset=iso-8859-1
Content-Disposition: attachment; filename*=iso-8859-1'fr'd%E9j%E0.txt

four
--b
Content-Type: application/octet-stream; name*0="plain"; name*1="cont.bin"

five
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="=?iso-8859-1?Q?r=E9sum=E9?= .doc"

six
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=x-unknown''%41%42; filename="fallback.bin"

seven
--b--
`)

// rfc822Msg: a message/rfc822 inside a multipart inside a message/rfc822.
var rfc822Msg = crlf(`From: Outer <outer@example.com>
Subject: outer
Content-Type: multipart/mixed; boundary="o"

--o
Content-Type: text/plain

outer text
--o
Content-Type: message/rfc822

From: Middle <middle@example.com>
Subject: =?utf-8?q?middle_=E2=9C=93?=
Reply-To: replies@example.com
Content-Type: multipart/mixed; boundary="m"

--m

middle text
--m
Content-Type: message/rfc822
Content-Disposition: attachment

From: Inner <inner@example.com>
Subject: inner

inner body
--m--
--o--
`)

var digestMsg = crlf(`Subject: digest
Content-Type: multipart/digest; boundary=d

--d

From: first@example.com
Subject: first

first body
--d
Content-Type: text/plain

not a message
--d

From: second@example.com
Subject: second

second body
--d--
`)

var groupsMsg = crlf(`From: Alice <alice@example.com>
Sender: Secretary <sec@example.com>
To: undisclosed-recipients:;
Cc: Friends: "Q. Smith" <q@example.com>, bob@example.com (Bob Builder);, carol@example.com
Bcc: <@route1,@route2:dave@example.com>, =?iso-8859-1?q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>,
 Ed Jones <c@a.test>, undisclosed, Doe, John <jd@example.com>
Subject: groups

body
`)

func corpus() []corpusCase {
	cases := []corpusCase{
		{name: "simple", input: simpleMsg, check: checkSimple},
		{name: "nested", input: nestedMsg, check: checkNested},
		{name: "names", input: namesMsg, check: checkNames},
		{name: "rfc822", input: rfc822Msg, check: checkRFC822},
		{name: "digest", input: digestMsg, check: checkDigest},
		{name: "groups", input: groupsMsg, check: checkGroups},
	}
	cases = append(cases, brokenCorpus()...)
	return cases
}

func TestCorpus(t *testing.T) {
	for _, c := range corpus() {
		t.Run(c.name, func(t *testing.T) {
			m := mustScan(t, c.input, c.lim)
			if c.check != nil {
				c.check(t, m, c.input)
			}
			if t.Failed() {
				t.Log("\n" + dump(m))
			}
		})
	}
}

func TestCorpusChunking(t *testing.T) {
	for _, c := range corpus() {
		t.Run(c.name, func(t *testing.T) {
			checkChunking(t, []byte(c.input), c.lim)
		})
	}
}

func TestCorpusMarshalRoundTrip(t *testing.T) {
	for _, c := range corpus() {
		t.Run(c.name, func(t *testing.T) {
			m := scanChunks(t, []byte(c.input), c.lim)
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var m2 Message
			if err := m2.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if d := diffMessages(m, &m2); d != "" {
				t.Fatalf("round trip differs: %s", d)
			}
			// Every strict prefix is corrupt: it must fail, not panic.
			for i := 0; i < len(b); i += 1 + len(b)/512 {
				var m3 Message
				if err := m3.UnmarshalBinary(b[:i]); err == nil {
					t.Fatalf("prefix of %d/%d bytes decoded without error", i, len(b))
				}
			}
		})
	}
}

func checkSimple(t *testing.T, m *Message, in string) {
	r := m.Root
	wantBody(t, m, in, "", "text/plain", "Hi Mary,\r\n  how are you?\r\n")
	wantBody(t, m, in, "1", "text/plain", "Hi Mary,\r\n  how are you?\r\n")
	if r.HeaderLines != 9 || r.BodyLines != 2 || r.Encoding != "7bit" {
		t.Errorf("lines %d/%d encoding %q", r.HeaderLines, r.BodyLines, r.Encoding)
	}
	e := r.Envelope
	if e.Subject != "Hello world" || e.Date != "Tue, 1 Jul 2003 10:52:37 +0200" ||
		e.MessageID != "<5678.21-Nov-1997@example.com>" || e.InReplyTo != "<1234@local.machine.example>" {
		t.Errorf("envelope strings: %+v", e)
	}
	wantAddrs(t, "from", e.From, "Joe Q. Public|john.q.public@example.com")
	wantAddrs(t, "sender", e.Sender, "Joe Q. Public|john.q.public@example.com")
	wantAddrs(t, "reply-to", e.ReplyTo, "Joe Q. Public|john.q.public@example.com")
	wantAddrs(t, "to", e.To, "Mary Smith|mary@x.test", "|jdoe@example.org", "Who?|one@y.test")
	wantAddrs(t, "cc", e.Cc, "|boss@nil.test", `Giant; "Big" Box|sysservices@example.net`)
	if e.Bcc != nil {
		t.Errorf("bcc = %+v", e.Bcc)
	}
	if m.Preview != "Hi Mary, how are you?" {
		t.Errorf("preview %q", m.Preview)
	}
	if m.Flags != 0 {
		t.Errorf("flags %v", m.Flags)
	}
}

func checkNested(t *testing.T, m *Message, in string) {
	wantBody(t, m, in, "1", "multipart/alternative", "*")
	wantBody(t, m, in, "1.1", "text/plain", "Caf=C3=A9   and\r\n  cr=C3=A8me.")
	wantBody(t, m, in, "1.2", "multipart/related", "*")
	wantBody(t, m, in, "1.2.1", "text/html", `<html><body><p>Caf&eacute; HTML</p><img src="cid:img1"></body></html>`)
	wantBody(t, m, in, "1.2.2", "image/png", b64lines(nestedPNG))
	wantBody(t, m, in, "2", "application/pdf", "JVBERi0xLjQK")
	if _, ok := m.PartAt([]int{3}); ok {
		t.Error("part 3 exists")
	}
	if _, ok := m.PartAt([]int{1, 1, 1}); ok {
		t.Error("part 1.1.1 exists")
	}
	r := m.Root
	if len(r.Parts) != 2 || r.Type != "multipart" || r.Subtype != "mixed" {
		t.Fatalf("root: %s", dump(m))
	}
	if v, _ := r.Param("boundary"); v != "outer" {
		t.Errorf("boundary param %q", v)
	}
	// multipart body: from after the blank line to the end of input,
	// preamble and epilogue included
	if got := in[r.BodyStart:r.End]; !strings.HasPrefix(got, "This is the preamble.") || !strings.HasSuffix(got, "This is the epilogue.\r\n") {
		t.Errorf("root body %q", clip([]byte(got)))
	}
	alt := partAt(t, m, "1")
	if got := in[alt.BodyStart:alt.End]; !strings.HasPrefix(got, "--alt\r\n") || !strings.HasSuffix(got, "--alt--\r\n") {
		t.Errorf("alternative body %q", got)
	}
	rel := partAt(t, m, "1.2")
	if v, _ := rel.Param("type"); v != "text/html" {
		t.Errorf("related type param %q", v)
	}
	plain := partAt(t, m, "1.1")
	if plain.Encoding != "quoted-printable" || plain.BodyLines != 1 || plain.HeaderLines != 3 {
		t.Errorf("plain: enc %q lines %d/%d", plain.Encoding, plain.HeaderLines, plain.BodyLines)
	}
	if v, _ := plain.Param("charset"); v != "utf-8" {
		t.Errorf("charset %q", v)
	}
	img := partAt(t, m, "1.2.2")
	if img.ID != "<img1>" || img.Disposition != "inline" || img.Encoding != "base64" {
		t.Errorf("img: %+v", img)
	}
	pdf := partAt(t, m, "2")
	if pdf.Filename != "report.pdf" || pdf.Disposition != "attachment" || pdf.Description != "The report" ||
		pdf.Location != "http://example.com/report.pdf" || pdf.MD5 != "Q2hlY2sgSW50ZWdyaXR5IQ==" ||
		strings.Join(pdf.Language, ",") != "en,de" || pdf.BodyLines != 0 {
		t.Errorf("pdf: %+v", pdf)
	}
	if v, _ := pdf.DispositionParam("filename"); v != "report.pdf" {
		t.Errorf("filename param %q", v)
	}
	if m.Preview != "Café and crème." {
		t.Errorf("preview %q", m.Preview)
	}
}

func checkNames(t *testing.T, m *Message, in string) {
	want := []struct{ body, name string }{
		{"one", "élève.pdf"},
		{"two", "€ rates.pdf"},
		{"three", "ä long name ✓.txt"},
		{"four", "déjà.txt"},
		{"five", "plaincont.bin"},
		{"six", "résumé .doc"},
		{"seven", "AB"},
	}
	if len(m.Root.Parts) != len(want) {
		t.Fatalf("parts: %s", dump(m))
	}
	for i, w := range want {
		p := m.Root.Parts[i]
		if got := in[p.BodyStart:p.End]; got != w.body {
			t.Errorf("part %d body %q", i+1, got)
		}
		if p.Filename != w.name {
			t.Errorf("part %d filename %q, want %q", i+1, p.Filename, w.name)
		}
	}
	// the raw parameter stays raw (IMAP sends it); RFC 2231 is decoded
	if v, _ := m.Root.Parts[0].Param("name"); v != "=?UTF-8?B?w6lsw6h2ZS5wZGY=?=" {
		t.Errorf("raw name param %q", v)
	}
	if v, _ := m.Root.Parts[2].DispositionParam("filename"); v != "ä long name ✓.txt" {
		t.Errorf("continued filename param %q", v)
	}
	// text/plain attachment: no preview from it
	if m.Preview != "" {
		t.Errorf("preview %q", m.Preview)
	}
}

func checkRFC822(t *testing.T, m *Message, in string) {
	wantBody(t, m, in, "1", "text/plain", "outer text")
	msg := partAt(t, m, "2")
	if msg.Type != "message" || msg.Subtype != "rfc822" || len(msg.Parts) != 1 {
		t.Fatalf("part 2: %s", dump(m))
	}
	inner := msg.Parts[0]
	if inner.HeaderStart != msg.BodyStart || inner.End != msg.End {
		t.Errorf("encapsulated message range [%d,%d) vs body [%d,%d)", inner.HeaderStart, inner.End, msg.BodyStart, msg.End)
	}
	if !strings.HasPrefix(in[msg.BodyStart:msg.End], "From: Middle") || !strings.HasSuffix(in[msg.BodyStart:msg.End], "--m--") {
		t.Errorf("BODY[2] = %q", in[msg.BodyStart:msg.End])
	}
	// message/rfc822 body-fld-lines: line ends in the encapsulated message
	if msg.BodyLines != countLF([]byte(in[msg.BodyStart:msg.End])) || msg.BodyLines != 16 {
		t.Errorf("BodyLines %d", msg.BodyLines)
	}
	e := inner.Envelope
	if e == nil || e.Subject != "=?utf-8?q?middle_=E2=9C=93?=" || e.DecodedSubject != "middle ✓" {
		t.Fatalf("middle envelope %+v", e)
	}
	wantAddrs(t, "middle from", e.From, "Middle|middle@example.com")
	wantAddrs(t, "middle sender", e.Sender, "Middle|middle@example.com")
	wantAddrs(t, "middle reply-to", e.ReplyTo, "|replies@example.com")
	wantBody(t, m, in, "2.1", "text/plain", "middle text")
	if p := partAt(t, m, "2.1"); p.HeaderStart != p.BodyStart-2 || p.HeaderLines != 1 {
		t.Errorf("part 2.1 without header fields: header [%d,%d) lines %d", p.HeaderStart, p.BodyStart, p.HeaderLines)
	}
	wantBody(t, m, in, "2.2", "message/rfc822", "From: Inner <inner@example.com>\r\nSubject: inner\r\n\r\ninner body")
	wantBody(t, m, in, "2.2.1", "text/plain", "inner body")
	innermost := partAt(t, m, "2.2.1")
	if innermost.Envelope == nil || innermost.Envelope.Subject != "inner" {
		t.Errorf("innermost envelope %+v", innermost.Envelope)
	}
	if innermost != partAt(t, m, "2.2").Parts[0] {
		t.Error("2.2.1 is not the encapsulated root")
	}
	for _, bad := range []string{"2.3", "2.2.2", "2.2.1.1", "1.1", "3", "0", "2.0"} {
		if _, ok := m.PartAt(parsePath(bad)); ok {
			t.Errorf("PartAt(%s) found", bad)
		}
	}
	if m.Root.Envelope.Subject != "outer" {
		t.Errorf("root subject %q", m.Root.Envelope.Subject)
	}
	if m.Preview != "outer text" {
		t.Errorf("preview %q", m.Preview)
	}
}

func checkDigest(t *testing.T, m *Message, in string) {
	wantBody(t, m, in, "1", "message/rfc822", "From: first@example.com\r\nSubject: first\r\n\r\nfirst body")
	wantBody(t, m, in, "1.1", "text/plain", "first body")
	wantBody(t, m, in, "2", "text/plain", "not a message")
	wantBody(t, m, in, "3", "message/rfc822", "From: second@example.com\r\nSubject: second\r\n\r\nsecond body")
	if e := partAt(t, m, "3.1").Envelope; e == nil || e.Subject != "second" {
		t.Errorf("digest envelope %+v", e)
	}
	if m.Preview != "not a message" {
		t.Errorf("preview %q", m.Preview)
	}
}

func checkGroups(t *testing.T, m *Message, in string) {
	e := m.Root.Envelope
	wantAddrs(t, "to", e.To, "group:undisclosed-recipients", "end")
	wantAddrs(t, "cc", e.Cc, "group:Friends", "Q. Smith|q@example.com", "Bob Builder|bob@example.com", "end", "|carol@example.com")
	wantAddrs(t, "sender", e.Sender, "Secretary|sec@example.com")
	wantAddrs(t, "bcc", e.Bcc, "|dave@example.com@route1,@route2", "André Pirard|PIRARD@vm1.ulg.ac.be",
		"Ed Jones|c@a.test", "|undisclosed@", "|Doe@", "John|jd@example.com")
	if e.Bcc[1].Name != "=?iso-8859-1?q?Andr=E9?= Pirard" {
		t.Errorf("raw name %q", e.Bcc[1].Name)
	}
}

// wantAddrs compares addresses written as "decodedname|mailbox@host[adl]",
// "group:name" and "end".
func wantAddrs(t *testing.T, what string, got []Address, want ...string) {
	t.Helper()
	var g []string
	for _, a := range got {
		switch {
		case a.GroupStart:
			g = append(g, "group:"+a.Mailbox)
		case a.GroupEnd:
			g = append(g, "end")
		default:
			s := a.DecodedName + "|" + a.Mailbox + "@" + a.Host + a.Adl
			g = append(g, strings.TrimSuffix(s, "@"))
		}
	}
	for i := range want {
		want[i] = strings.TrimSuffix(want[i], "@")
	}
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, g, want)
	}
}
