package msgfmt

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/imap/wire"
)

// cut returns raw from the first occurrence of from (at its start) to the
// following occurrence of to (excluded).
func cut(t *testing.T, raw []byte, from, to string) string {
	t.Helper()
	i := bytes.Index(raw, []byte(from))
	if i < 0 {
		t.Fatalf("%q not in message", from)
	}
	j := bytes.Index(raw[i:], []byte(to))
	if j < 0 {
		t.Fatalf("%q not after %q", to, from)
	}
	return string(raw[i : i+j])
}

func sec(spec string, part ...int) *wire.Section {
	return &wire.Section{Part: part, Specifier: spec}
}

func fields(not bool, names ...string) func(part ...int) *wire.Section {
	return func(part ...int) *wire.Section {
		return &wire.Section{Part: part, Specifier: "HEADER.FIELDS", Fields: names, Not: not}
	}
}

func TestSectionsNested(t *testing.T) {
	m := loadMsg(t, "rfc822.eml")
	raw := m.raw
	hdrEnd := bytes.Index(raw, []byte("\r\n\r\n")) + 4
	inner := cut(t, raw, "From: Eve", "\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: frank")
	if len(inner) != 334 {
		t.Fatalf("test message changed: inner message is %d octets", len(inner))
	}
	innerHdrEnd := strings.Index(inner, "\r\n\r\n") + 4
	cases := []struct {
		sec  *wire.Section
		want string
		ok   bool
	}{
		{nil, string(raw), true},
		{sec(""), string(raw), true},
		{sec("HEADER"), string(raw[:hdrEnd]), true},
		{sec("TEXT"), string(raw[hdrEnd:]), true},
		{sec("", 1), "See attached.", true},
		{sec("MIME", 1), "Content-Type: text/plain\r\n\r\n", true},
		{sec("", 2), inner, true},
		{sec("MIME", 2), "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n", true},
		{sec("HEADER", 2), inner[:innerHdrEnd], true},
		{sec("TEXT", 2), inner[innerHdrEnd:], true},
		{sec("", 2, 1), "inner text", true},
		{sec("MIME", 2, 1), "Content-Type: text/plain; charset=us-ascii\r\n\r\n", true},
		{sec("", 2, 2), "<p>inner</p>", true},
		// A message/rfc822 part whose message is not multipart: n.1 is
		// that message's body, n.1.MIME its header.
		{sec("", 3), "From: frank@example.com\r\nSubject: simple inner\r\n\r\njust text", true},
		{sec("", 3, 1), "just text", true},
		{sec("MIME", 3, 1), "From: frank@example.com\r\nSubject: simple inner\r\n\r\n", true},
		{sec("TEXT", 3), "just text", true},
		{fields(false, "SUBJECT")(3), "Subject: simple inner\r\n\r\n", true},
		{fields(false, "to", "Subject")(2), "To: undisclosed-recipients:;\r\nSubject: inner\r\n\r\n", true},
		{fields(false, "Subject")(), "Subject: Fwd: nested\r\n\r\n", true},
		{fields(true, "subject", "date", "message-id", "mime-version", "content-type")(),
			"From: Carol <carol@example.org>\r\nTo: Dave <dave@example.org>\r\n\r\n", true},
		// Nonexistent sections: an empty literal.
		{sec("", 4), "", false},
		{sec("", 0), "", false},
		{sec("HEADER", 1), "", false},
		{sec("TEXT", 1), "", false},
		{fields(false, "subject")(1), "", false},
		{sec("", 1, 1), "", false},
		{sec("", 2, 3), "", false},
		{sec("TEXT", 2, 1), "", false},
		{sec("MIME"), "", false},
	}
	for _, c := range cases {
		name := "BODY[]"
		if c.sec != nil {
			it := wire.FetchItem{Name: "BODY", Section: c.sec}
			name = string(wire.AppendFetchKey(nil, &it))
		}
		t.Run(name, func(t *testing.T) {
			r, ok := SectionRange(m.msg, c.sec)
			if ok != c.ok {
				t.Fatalf("SectionRange ok = %v, want %v", ok, c.ok)
			}
			if ok && c.sec != nil && c.sec.Specifier != "HEADER.FIELDS" && string(raw[r.Start:r.End]) != c.want {
				t.Errorf("SectionRange = %q, want %q", raw[r.Start:r.End], c.want)
			}
			got := renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, m.body, c.sec, nil) })
			if want := literal(c.want); got != want {
				t.Errorf("WriteSection:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestSectionsSimple(t *testing.T) {
	m := loadMsg(t, "simple.eml")
	raw := string(m.raw)
	i := strings.Index(raw, "\r\n\r\n") + 4
	header, body := raw[:i], raw[i:]
	cases := []struct {
		sec  *wire.Section
		want string
	}{
		{sec("", 1), body},       // part 1 of a non-multipart message is its body
		{sec("MIME", 1), header}, // and its MIME header the message header
		{sec("TEXT"), body},
		{sec("HEADER"), header},
		{fields(false, "SUBJECT", "In-Reply-To")(), "Subject: Hello\r\n world\r\nIn-Reply-To: <1234@local.machine.example>\r\n\r\n"},
		{fields(false, "X-None")(), "\r\n"},
		{fields(true, "return-path", "from", "to", "cc", "date", "message-id", "in-reply-to")(), "Subject: Hello\r\n world\r\n\r\n"},
	}
	for _, c := range cases {
		got := renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, m.body, c.sec, nil) })
		if want := literal(c.want); got != want {
			t.Errorf("%+v:\n got %q\nwant %q", *c.sec, got, want)
		}
	}
}

func TestSectionPartial(t *testing.T) {
	m := loadMsg(t, "rfc822.eml")
	const part1 = "See attached." // 13 octets
	hf := "Subject: Fwd: nested\r\n\r\n"
	max := ^uint32(0)
	cases := []struct {
		sec        *wire.Section
		off, count uint32
		want       string
	}{
		{sec("", 1), 0, 5, part1[:5]},
		{sec("", 1), 0, 13, part1},
		{sec("", 1), 0, 14, part1},
		{sec("", 1), 0, max, part1},
		{sec("", 1), 12, 1, part1[12:]},
		{sec("", 1), 12, 5, part1[12:]},
		{sec("", 1), 13, 1, ""},
		{sec("", 1), 14, 1, ""},
		{sec("", 1), max, max, ""},
		{sec("", 9), 0, 5, ""},
		{fields(false, "subject")(), 0, 9, hf[:9]},
		{fields(false, "subject")(), 20, 100, hf[20:]},
		{fields(false, "subject")(), uint32(len(hf)), 1, ""},
		{fields(false, "subject")(), uint32(len(hf)) - 1, 1, "\n"},
	}
	for _, c := range cases {
		p := &wire.Partial{Offset: c.off, Count: c.count}
		got := renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, m.body, c.sec, p) })
		if want := literal(c.want); got != want {
			t.Errorf("%+v <%d.%d>:\n got %q\nwant %q", *c.sec, c.off, c.count, got, want)
		}
	}
}

func TestHeaderFields(t *testing.T) {
	long := strings.Repeat("y", 100<<10) // a 100 KiB line, far beyond the filter's buffer
	longName := strings.Repeat("N", 5000)
	cases := []struct {
		name, msg string
		sec       *wire.Section
		want      string
	}{
		{"folded, case-insensitive, obsolete space before colon, repeated",
			"Subject: one\r\n two\r\nX-A: 1\r\nsubject : again\r\nFrom: f@x\r\n\r\nbody",
			fields(false, "SUBJECT")(), "Subject: one\r\n two\r\nsubject : again\r\n\r\n"},
		{"not",
			"Subject: one\r\n two\r\nX-A: 1\r\nFrom: f@x\r\n\r\nbody",
			fields(true, "subject")(), "X-A: 1\r\nFrom: f@x\r\n\r\n"},
		{"long line kept",
			"X-Long: " + long + "\r\n\tcont\r\nSubject: s\r\n\r\nbody",
			fields(false, "x-long")(), "X-Long: " + long + "\r\n\tcont\r\n\r\n"},
		{"long line dropped",
			"X-Long: " + long + "\r\n\tcont\r\nSubject: s\r\n\r\nbody",
			fields(false, "subject")(), "Subject: s\r\n\r\n"},
		{"long name matches nothing",
			longName + ": v\r\nSubject: s\r\n\r\nbody",
			fields(true, "subject")(), longName + ": v\r\n\r\n"},
		{"unterminated header",
			"Subject: s\r\nX: y",
			fields(false, "x")(), "X: y\r\n\r\n"},
		{"bare LF lines are kept as they are",
			"Subject: s\nX: y\n\nbody",
			fields(false, "subject")(), "Subject: s\n\r\n"},
		{"line without colon",
			"garbage line\r\nSubject: s\r\n\r\nbody",
			fields(true, "x")(), "garbage line\r\nSubject: s\r\n\r\n"},
		{"NUL sent as 0x80",
			"Subject: a\x00b\r\n\r\nbody",
			fields(false, "subject")(), "Subject: a\x80b\r\n\r\n"},
		{"body fields are not header fields",
			"Subject: s\r\n\r\nX: body\r\n",
			fields(false, "x")(), "\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := scanBytes(t, []byte(c.msg))
			got := renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, m.body, c.sec, nil) })
			if want := literal(c.want); got != want {
				t.Errorf("\n got %q\nwant %q", clip(got), clip(want))
			}
		})
	}
}

// NUL octets, which no literal may carry, are sent as 0x80 in BODY[]
// sections, keeping the size.
func TestSectionNUL(t *testing.T) {
	m := scanBytes(t, []byte("Subject: n\r\n\r\na\x00b\r\n"))
	got := renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, m.body, sec("TEXT"), nil) })
	if want := literal("a\x80b\r\n"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := checkSyntax([]byte(got)); err != nil {
		t.Error(err)
	}
}

// A structure that claims more octets than the store holds (damaged
// records) must not announce octets that cannot be sent.
func TestSectionShortBody(t *testing.T) {
	m := loadMsg(t, "simple.eml")
	short := newBody(m.raw[:100])
	got := renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, short, nil, nil) })
	if want := literal(string(m.raw[:100])); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = renderErr(t, false, func(e *wire.Encoder) error { return WriteSection(e, m.msg, short, sec("TEXT"), nil) })
	if got != literal("") {
		t.Errorf("TEXT past the stored end: got %q", got)
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%s...(%d octets)...%s", s[:100], len(s), s[len(s)-100:])
	}
	return s
}
