package mime

import (
	"fmt"
	"strings"
	"testing"
)

var noBoundaryMsg = crlf(`Content-Type: multipart/mixed

--x
Content-Type: text/plain

hello
--x--
`)

var missingCloseMsg = crlf(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

first
--b
Content-Type: multipart/alternative; boundary=c

--c
Content-Type: text/plain

second`) + "\r\n"

// bareLFMsg uses LF line ends only; offsets must still be exact.
var bareLFMsg = "Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\ntwo\n--b\n\nthree\n\n--b--\n"

var eightBitMsg = "Subject: caf\xe9 \xff\xfe garbage\r\nFrom: J\xf6rg <j@example.com>\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: inline; filename=\"\xe9t\xe9.txt\"\r\n\r\n" +
	"d\xe9j\xe0 vu \x80\x81\r\n"

var nulMsg = "Subject: nul\x00here\r\n\r\nbody\x00with\x00nuls\r\n"

// nestedMultiparts builds n nested multiparts, each with one child.
func nestedMultiparts(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

func brokenCorpus() []corpusCase {
	longHeader := "X-Long: " + strings.Repeat("a", 1<<20) + "\r\nSubject: after the long line\r\n\r\nbody\r\n"
	longSubject := "Subject: " + strings.Repeat("s", 1<<20) + "\r\nFrom: x@example.com\r\n\r\nbody\r\n"
	longBody := "Content-Type: text/plain\r\n\r\n" + strings.Repeat("A", 5<<20)
	return []corpusCase{
		{name: "no-boundary", input: noBoundaryMsg, check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "", "multipart/mixed", "--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n")
			if len(m.Root.Parts) != 0 {
				t.Errorf("children: %s", dump(m))
			}
			wantBody(t, m, in, "1", "multipart/mixed", "--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n")
		}},
		{name: "missing-close", input: missingCloseMsg, check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "1", "text/plain", "first")
			wantBody(t, m, in, "2.1", "text/plain", "second\r\n")
			if p := partAt(t, m, "2"); p.End != int64(len(in)) {
				t.Errorf("unclosed multipart ends at %d, not at end of input", p.End)
			}
		}},
		{name: "nested-10000", input: nestedMultiparts(10000), check: func(t *testing.T, m *Message, in string) {
			if m.Flags&Truncated == 0 {
				t.Error("Truncated not set")
			}
			depth := 0
			for p := m.Root; len(p.Parts) > 0; p = p.Parts[0] {
				depth++
			}
			if depth != defaultMaxDepth {
				t.Errorf("depth %d", depth)
			}
		}},
		{name: "nested-5", input: nestedMultiparts(5), check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "1.1.1.1.1", "text/plain", "deep")
			if m.Flags != 0 {
				t.Errorf("flags %v", m.Flags)
			}
		}},
		{name: "bare-lf", input: bareLFMsg, check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "1", "text/plain", "one\ntwo")
			wantBody(t, m, in, "2", "text/plain", "three\n")
			if p := partAt(t, m, "2"); p.HeaderLines != 1 || p.BodyLines != 1 {
				t.Errorf("lines %d/%d", p.HeaderLines, p.BodyLines)
			}
			if m.Flags != BareLF {
				t.Errorf("flags %v", m.Flags)
			}
			if m.Root.Envelope.Subject != "lf" || m.Preview != "one two" {
				t.Errorf("subject %q preview %q", m.Root.Envelope.Subject, m.Preview)
			}
		}},
		{name: "8bit-garbage", input: eightBitMsg, check: func(t *testing.T, m *Message, in string) {
			e := m.Root.Envelope
			if e.Subject != "caf\xe9 \xff\xfe garbage" {
				t.Errorf("raw subject %q", e.Subject)
			}
			if e.DecodedSubject != "caf\uFFFD \uFFFD garbage" {
				t.Errorf("decoded subject %q", e.DecodedSubject)
			}
			if e.From[0].Name != "J\xf6rg" || e.From[0].DecodedName != "J\uFFFDrg" {
				t.Errorf("from %+v", e.From)
			}
			if m.Root.Filename != "\uFFFDt\uFFFD.txt" {
				t.Errorf("filename %q", m.Root.Filename)
			}
			// ISO-8859-1 reads as Windows-1252, where 0x80 is the euro
			// sign and 0x81 is undefined.
			if m.Preview != "déjà vu €\uFFFD" {
				t.Errorf("preview %q", m.Preview)
			}
			if m.Flags != EightBit {
				t.Errorf("flags %v", m.Flags)
			}
		}},
		{name: "1mb-header-line", input: longHeader, check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "", "text/plain", "body\r\n")
			if m.Root.Envelope.Subject != "after the long line" {
				t.Errorf("subject %q", m.Root.Envelope.Subject)
			}
			if m.Flags != LongLine {
				t.Errorf("flags %v", m.Flags)
			}
		}},
		{name: "1mb-subject", input: longSubject, check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "", "text/plain", "body\r\n")
			if n := len(m.Root.Envelope.Subject); n == 0 || n > defaultMaxHeaderBytes {
				t.Errorf("subject length %d", n)
			}
			if m.Flags != LongLine|Truncated {
				t.Errorf("flags %v", m.Flags)
			}
		}},
		{name: "5mb-body-line", input: longBody, check: func(t *testing.T, m *Message, in string) {
			p := m.Root
			if p.End-p.BodyStart != 5<<20 || p.BodyLines != 0 { // one line, no line end
				t.Errorf("body [%d,%d) lines %d", p.BodyStart, p.End, p.BodyLines)
			}
			if m.Flags != LongLine {
				t.Errorf("flags %v", m.Flags)
			}
			if len(m.Preview) != defaultPreviewRunes {
				t.Errorf("preview length %d", len(m.Preview))
			}
		}},
		{name: "nul", input: nulMsg, check: func(t *testing.T, m *Message, in string) {
			wantBody(t, m, in, "", "text/plain", "body\x00with\x00nuls\r\n")
			if m.Flags != NULByte || m.Root.Envelope.Subject != "nul\x00here" {
				t.Errorf("flags %v subject %q", m.Flags, m.Root.Envelope.Subject)
			}
		}},
		{name: "empty", input: "", check: func(t *testing.T, m *Message, in string) {
			r := m.Root
			if r.End != 0 || r.Type != "text" || r.Envelope == nil || r.HeaderLines != 0 || len(r.Parts) != 0 {
				t.Errorf("empty: %+v", r)
			}
			wantBody(t, m, in, "1", "text/plain", "")
		}},
		{name: "header-only", input: "Subject: only\r\nFrom: a@example.com\r\n", check: func(t *testing.T, m *Message, in string) {
			r := m.Root
			if r.BodyStart != r.End || r.End != int64(len(in)) || r.HeaderLines != 2 || r.BodyLines != 0 {
				t.Errorf("header-only: %s", dump(m))
			}
			if r.Envelope.Subject != "only" || len(r.Envelope.From) != 1 {
				t.Errorf("envelope %+v", r.Envelope)
			}
		}},
		{name: "header-only-no-eol", input: "Subject: only", check: func(t *testing.T, m *Message, in string) {
			if m.Root.Envelope.Subject != "only" || m.Root.HeaderLines != 1 {
				t.Errorf("envelope %+v", m.Root.Envelope)
			}
		}},
	}
}
