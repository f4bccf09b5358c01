package dsn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// testNow is the time of the reports the tests write.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const testOriginal = "From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>\r\n" +
	"Subject: Lunch on Friday\r\n" +
	"Message-ID: <lunch.1@example.org>\r\n" +
	"\r\n" +
	"Bob, are we still on for Friday?\r\n" +
	"-- \r\n" +
	"Alice\r\n"

// failedReport returns a report of one failed recipient.
func failedReport() Report {
	return Report{
		ReportingMTA: "mail.example.org",
		From:         "MAILER-DAEMON@mail.example.org",
		To:           "alice@example.org",
		EnvID:        "QQ314159",
		Arrival:      testNow.Add(-time.Hour),
		MaxFull:      1 << 20,
		Now:          testNow,
		Recipients: []Recipient{{
			Original:    "rfc822;bob@example.net",
			Final:       "bob@example.net",
			Action:      ActionFailed,
			Status:      "5.1.1",
			RemoteMTA:   "mx.example.net",
			Diagnostic:  "550 5.1.1 <bob@example.net>: no such user",
			LastAttempt: testNow,
		}},
	}
}

// write runs Write with original as the original message.
func write(t testing.TB, r Report, original string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Write(&out, r, strings.NewReader(original), int64(len(original))); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out.Bytes()
}

// parsed is a notification as go-message reads it.
type parsed struct {
	header message.Header
	parts  []part
}

type part struct {
	header message.Header
	body   []byte // transfer-decoded
}

func (p part) mediaType() string {
	mt, _, _ := p.header.ContentType()
	return mt
}

// parse reads a notification with go-message and checks what any message
// Write produces must be: CRLF line ends only, no line longer than 998
// octets, a multipart/report of two or three parts.
func parse(raw []byte) (*parsed, error) {
	if err := checkLines(raw); err != nil {
		return nil, err
	}
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading the message: %v", err)
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt != "multipart/report" {
		return nil, fmt.Errorf("Content-Type %q (%v), want multipart/report", mt, err)
	}
	p := &parsed{header: e.Header}
	mr := e.MultipartReader()
	for {
		pe, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("part %d: %v", len(p.parts)+1, err)
		}
		body, err := io.ReadAll(pe.Body)
		if err != nil {
			return nil, fmt.Errorf("part %d body: %v", len(p.parts)+1, err)
		}
		p.parts = append(p.parts, part{header: pe.Header, body: body})
	}
	if n := len(p.parts); n != 2 && n != 3 {
		return nil, fmt.Errorf("%d parts, want 2 or 3", n)
	}
	want := "delivery-status"
	if p.parts[1].mediaType() == "message/global-delivery-status" {
		want = "global-delivery-status"
	}
	if params["report-type"] != want {
		return nil, fmt.Errorf("report-type %q, want %q for a second part of %s", params["report-type"], want, p.parts[1].mediaType())
	}
	return p, nil
}

// checkLines checks that every line of raw ends with CRLF, that there is
// no CR or LF otherwise, and that no line exceeds 998 octets.
func checkLines(raw []byte) error {
	start := 0
	for i, c := range raw {
		switch c {
		case '\r':
			if i+1 >= len(raw) || raw[i+1] != '\n' {
				return fmt.Errorf("bare CR at %d: %q", i, context(raw, i))
			}
		case '\n':
			if i == 0 || raw[i-1] != '\r' {
				return fmt.Errorf("bare LF at %d: %q", i, context(raw, i))
			}
			if n := i - 1 - start; n > 998 {
				return fmt.Errorf("line of %d octets at %d: %q", n, start, context(raw, start))
			}
			start = i + 1
		}
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		return fmt.Errorf("the message does not end with CRLF")
	}
	return nil
}

func context(raw []byte, i int) []byte {
	return raw[max(0, i-40):min(len(raw), i+40)]
}

// statusGroups reads the groups of fields of a delivery-status body.
func statusGroups(body []byte) ([]textproto.Header, error) {
	br := bufio.NewReader(bytes.NewReader(body))
	var groups []textproto.Header
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return groups, nil
		}
		h, err := textproto.ReadHeader(br)
		if err != nil {
			return groups, fmt.Errorf("group %d: %v", len(groups)+1, err)
		}
		if h.Len() == 0 {
			return groups, fmt.Errorf("group %d is empty", len(groups)+1)
		}
		groups = append(groups, h)
	}
}

// keys returns the field names of h in order.
func keys(h textproto.Header) []string {
	var ks []string
	for f := h.Fields(); f.Next(); {
		ks = append(ks, f.Key())
	}
	return ks
}

// mustParse parses raw and its delivery-status part, failing the test if
// either does not parse.
func mustParse(t testing.TB, raw []byte) (*parsed, []textproto.Header) {
	t.Helper()
	p, err := parse(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	groups, err := statusGroups(p.parts[1].body)
	if err != nil {
		t.Fatalf("delivery-status: %v\n%s", err, p.parts[1].body)
	}
	return p, groups
}

// unfolded returns v with each run of white space made one space, which
// is how a folded value compares with what was put in.
func unfolded(v string) string { return strings.Join(strings.Fields(v), " ") }

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
