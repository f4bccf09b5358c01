package msgfmt

import (
	"testing"

	"mailroom/internal/imap/wire"
)

// structureCases are the expected BODYSTRUCTURE, BODY and ENVELOPE of the
// messages in testdata, written from the RFC 9051 grammar and checked
// against Dovecot 2.3.19 (APPEND, then FETCH), with which they agree value
// for value except where the package documentation says otherwise:
//
//   - rfc822.eml part 2 is 334 octets here, 336 in Dovecot, which counts
//     the CRLF before the next boundary into a message/rfc822 part that
//     ends with a multipart (RFC 2046 5.1.1 gives it to the boundary);
//   - emptymp.eml: Dovecot wraps an empty text/plain part in the multipart;
//   - Dovecot sends strings holding '"' or a folded value as literals and
//     keeps the charset of RFC 2231 values as written ("UTF-8”...").
var structureCases = []struct {
	file, bodystructure, body, envelope string
}{
	{"simple.eml",
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 2 NIL NIL NIL NIL)`,
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 2)`,
		`("Tue, 1 Jul 2003 10:52:37 +0200" "Hello world" (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "example.org")) ((NIL NIL "boss" "nil.test")("Giant; \"Big\" Box" NIL "sysservices" "example.net")) NIL "<1234@local.machine.example>" "<5678.21-Nov-1997@example.com>")`,
	},
	{"mixed.eml",
		`((("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "quoted-printable" 48 2 NIL NIL NIL NIL)("text" "html" ("charset" "UTF-8") NIL NIL "7bit" 44 0 NIL NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL)("application" "pdf" NIL "<part3@example.com>" "The report" "base64" 20 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename*" "utf-8''%C3%A4%20long%20name.pdf")) ("en" "de") "http://example.com/report.pdf") "mixed" ("boundary" "outer") NIL NIL NIL)`,
		`((("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "quoted-printable" 48 2)("text" "html" ("charset" "UTF-8") NIL NIL "7bit" 44 0) "alternative")("application" "pdf" NIL "<part3@example.com>" "The report" "base64" 20) "mixed")`,
		`("Wed, 2 Jul 2003 11:00:00 +0000" "=?UTF-8?Q?R=C3=A9sum=C3=A9?= attached" (("Alice" NIL "alice" "example.com")) (("Secretary" NIL "sec" "example.com")) ((NIL NIL "replies" "example.com")) ((NIL NIL "bob" "example.net")) NIL NIL NIL "<mixed@example.com>")`,
	},
	{"rfc822.eml",
		`(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 334 ("Fri, 4 Jul 2003 08:00:00 +0000" "inner" (("Eve" NIL "eve" "example.com")) (("Eve" NIL "eve" "example.com")) (("Eve" NIL "eve" "example.com")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<inner@example.com>") (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 12 0 NIL NIL NIL NIL) "alternative" ("boundary" "b2") NIL NIL NIL) 16 NIL ("inline" NIL) NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 59 (NIL "simple inner" ((NIL NIL "frank" "example.com")) ((NIL NIL "frank" "example.com")) ((NIL NIL "frank" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 9 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "mixed" ("boundary" "b1") NIL NIL NIL)`,
		`(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0)("message" "rfc822" NIL NIL NIL "7bit" 334 ("Fri, 4 Jul 2003 08:00:00 +0000" "inner" (("Eve" NIL "eve" "example.com")) (("Eve" NIL "eve" "example.com")) (("Eve" NIL "eve" "example.com")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<inner@example.com>") (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 12 0) "alternative") 16)("message" "rfc822" NIL NIL NIL "7bit" 59 (NIL "simple inner" ((NIL NIL "frank" "example.com")) ((NIL NIL "frank" "example.com")) ((NIL NIL "frank" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 9 0) 3) "mixed")`,
		`("Thu, 3 Jul 2003 12:00:00 -0500" "Fwd: nested" (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org")) (("Dave" NIL "dave" "example.org")) NIL NIL NIL "<fwd@example.org>")`,
	},
	{"digest.eml",
		`(("message" "rfc822" NIL NIL NIL "7bit" 51 (NIL "first" ((NIL NIL "one" "example.com")) ((NIL NIL "one" "example.com")) ((NIL NIL "one" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)`,
		`(("message" "rfc822" NIL NIL NIL "7bit" 51 (NIL "first" ((NIL NIL "one" "example.com")) ((NIL NIL "one" "example.com")) ((NIL NIL "one" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0) 3)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0) "digest")`,
		`(NIL "digest" ((NIL NIL "list" "example.com")) ((NIL NIL "list" "example.com")) ((NIL NIL "list" "example.com")) NIL NIL NIL NIL NIL)`,
	},
	{"binary.eml",
		`(("application" "octet-stream" NIL NIL NIL "base64" 368 NIL NIL NIL NIL)("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 50 2 NIL NIL NIL NIL)("application" "x-weird" NIL NIL NIL "x-uuencode" 11 NIL NIL NIL NIL) "mixed" ("boundary" "zz") NIL NIL NIL)`,
		`(("application" "octet-stream" NIL NIL NIL "base64" 368)("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 50 2)("application" "x-weird" NIL NIL NIL "x-uuencode" 11) "mixed")`,
		`(NIL "binary" ((NIL NIL "bin" "example.com")) ((NIL NIL "bin" "example.com")) ((NIL NIL "bin" "example.com")) NIL NIL NIL NIL NIL)`,
	},
	{"groups.eml",
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 30 1 NIL NIL NIL NIL)`,
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 30 1)`,
		`(NIL NIL (("Grace" NIL "grace" "example.com")) (("Grace" NIL "grace" "example.com")) (("Grace" NIL "grace" "example.com")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)(NIL NIL "Team" NIL)(NIL NIL "a" "example.com")("B B" NIL "b" "example.com")(NIL NIL NIL NIL)("Route" "@r1.example,@r2.example" "c" "example.com")) ((NIL NIL "undisclosed" "MISSING_DOMAIN")) (("Only Name" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) "<prev@example.com>" NIL)`,
	},
	{"utf8.eml",
		`("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 10 1 NIL NIL NIL NIL)`,
		`("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 10 1)`,
		"(\"Sat, 5 Jul 2003 09:00:00 +0200\" {17}\r\nGrüße aus Köln ((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"jorg\" \"example.com\")) ((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"jorg\" \"example.com\")) ((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"jorg\" \"example.com\")) (({13}\r\nMüller, Hans NIL \"hans\" \"example.de\")) NIL NIL NIL \"<utf8@example.de>\")",
	},
	{"emptymp.eml",
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 24 1 NIL NIL NIL NIL)`,
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 24 1)`,
		`(NIL "empty multipart" ((NIL NIL "h" "example.com")) ((NIL NIL "h" "example.com")) ((NIL NIL "h" "example.com")) NIL NIL NIL NIL NIL)`,
	},
	// edge.eml: text/plain without charset but with another parameter,
	// Content-Language, a base64 message/rfc822 (not parsed), message/global
	// (basic without UTF8=ACCEPT), a multipart without boundary lines, and
	// an RFC 2231 name parameter.
	{"edge.eml",
		`(("text" "plain" ("format" "flowed" "charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL ("en") NIL)("message" "rfc822" NIL NIL NIL "base64" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)("message" "global" NIL NIL NIL "7bit" 41 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii" "name*" "utf-8''%C3%A4.txt") NIL NIL "7bit" 5 1 NIL ("inline" ("filename" "a b.txt" "size" "12")) NIL NIL) "mixed" ("boundary" "q") NIL NIL NIL)`,
		`(("text" "plain" ("format" "flowed" "charset" "us-ascii") NIL NIL "7bit" 3 0)("message" "rfc822" NIL NIL NIL "base64" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) 0)("message" "global" NIL NIL NIL "7bit" 41)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 0)("text" "plain" ("charset" "us-ascii" "name*" "utf-8''%C3%A4.txt") NIL NIL "7bit" 5 1) "mixed")`,
		`(NIL "edges" ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) NIL NIL NIL NIL NIL)`,
	},
}

func TestCorpusStructure(t *testing.T) {
	for _, c := range structureCases {
		t.Run(c.file, func(t *testing.T) {
			m := loadMsg(t, c.file)
			checks := []struct{ name, got, want string }{
				{"BODYSTRUCTURE", render(false, func(e *wire.Encoder) { BodyStructure(e, m.msg, true) }), c.bodystructure},
				{"BODY", render(false, func(e *wire.Encoder) { BodyStructure(e, m.msg, false) }), c.body},
				{"ENVELOPE", render(false, func(e *wire.Encoder) { Envelope(e, m.msg.Root.Envelope) }), c.envelope},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s:\n got %s\nwant %s", ch.name, ch.got, ch.want)
				}
				if err := checkSyntax([]byte(ch.got)); err != nil {
					t.Errorf("%s: %v", ch.name, err)
				}
			}
		})
	}
}

// With UTF8=ACCEPT, UTF-8 goes quoted, decoded parameter values are sent
// as they are, and message/global gets the message form of RFC 9051.
func TestCorpusUTF8Accept(t *testing.T) {
	m := loadMsg(t, "utf8.eml")
	got := render(true, func(e *wire.Encoder) { Envelope(e, m.msg.Root.Envelope) })
	want := `("Sat, 5 Jul 2003 09:00:00 +0200" "Grüße aus Köln" (("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "example.com")) (("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "example.com")) (("=?UTF-8?Q?J=C3=B6rg?=" NIL "jorg" "example.com")) (("Müller, Hans" NIL "hans" "example.de")) NIL NIL NIL "<utf8@example.de>")`
	if got != want {
		t.Errorf("ENVELOPE:\n got %s\nwant %s", got, want)
	}

	m = loadMsg(t, "edge.eml")
	got = render(true, func(e *wire.Encoder) { BodyStructure(e, m.msg, true) })
	want = `(("text" "plain" ("format" "flowed" "charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL ("en") NIL)("message" "rfc822" NIL NIL NIL "base64" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)("message" "global" NIL NIL NIL "7bit" 41 (NIL "global" ((NIL NIL "g" "example.com")) ((NIL NIL "g" "example.com")) ((NIL NIL "g" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii" "name" "ä.txt") NIL NIL "7bit" 5 1 NIL ("inline" ("filename" "a b.txt" "size" "12")) NIL NIL) "mixed" ("boundary" "q") NIL NIL NIL)`
	if got != want {
		t.Errorf("BODYSTRUCTURE:\n got %s\nwant %s", got, want)
	}
}
