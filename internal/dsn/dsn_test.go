package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
)

func TestFailedHeadersOnly(t *testing.T) {
	r := failedReport()
	r.Return = "HDRS"
	raw := write(t, r, testOriginal)
	p, groups := mustParse(t, raw)

	h := p.header
	for k, want := range map[string]string{
		"From":           "Mail Delivery System <MAILER-DAEMON@mail.example.org>",
		"To":             "<alice@example.org>",
		"Subject":        "Undelivered Mail Returned to Sender",
		"Date":           "Sat, 01 Mar 2025 12:00:00 +0000",
		"Auto-Submitted": "auto-replied",
		"MIME-Version":   "1.0",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if _, err := mail.ParseDate(h.Get("Date")); err != nil {
		t.Errorf("Date does not parse: %v", err)
	}
	if id := h.Get("Message-ID"); !regexp.MustCompile(`^<[A-Z2-7]+\.\d+@mail\.example\.org>$`).MatchString(id) {
		t.Errorf("Message-ID %q, want <random.time@mail.example.org>", id)
	}
	if _, err := mail.ParseAddress(h.Get("From")); err != nil {
		t.Errorf("From does not parse: %v", err)
	}
	if h.Has("Content-Transfer-Encoding") {
		t.Errorf("a 7-bit report has Content-Transfer-Encoding %q", h.Get("Content-Transfer-Encoding"))
	}

	if len(p.parts) != 3 {
		t.Fatalf("%d parts, want 3", len(p.parts))
	}
	text, status, orig := p.parts[0], p.parts[1], p.parts[2]
	if mt, params, _ := text.header.ContentType(); mt != "text/plain" || params["charset"] != "utf-8" {
		t.Errorf("part 1: %s %v, want text/plain; charset=utf-8", mt, params)
	}
	if mt := status.mediaType(); mt != "message/delivery-status" {
		t.Errorf("part 2: %s, want message/delivery-status", mt)
	}
	if mt := orig.mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("part 3: %s, want text/rfc822-headers", mt)
	}

	for _, want := range []string{
		"<bob@example.net>: 5.1.1 (bad destination mailbox address)",
		"The mail server mx.example.net answered:",
		"        550 5.1.1 <bob@example.net>: no such user",
		"The header of your message is attached.",
	} {
		if !bytes.Contains(text.body, []byte(want)) {
			t.Errorf("text lacks %q:\n%s", want, text.body)
		}
	}

	if len(groups) != 2 {
		t.Fatalf("%d groups of DSN fields, want 2", len(groups))
	}
	checkFields(t, "per-message", groups[0], [][2]string{
		{"Original-Envelope-Id", "QQ314159"},
		{"Reporting-Mta", "dns; mail.example.org"},
		{"Arrival-Date", "Sat, 01 Mar 2025 11:00:00 +0000"},
	})
	checkFields(t, "per-recipient", groups[1], [][2]string{
		{"Original-Recipient", "rfc822; bob@example.net"},
		{"Final-Recipient", "rfc822; bob@example.net"},
		{"Action", "failed"},
		{"Status", "5.1.1"},
		{"Remote-Mta", "dns; mx.example.net"},
		{"Diagnostic-Code", "smtp; 550 5.1.1 <bob@example.net>: no such user"},
		{"Last-Attempt-Date", "Sat, 01 Mar 2025 12:00:00 +0000"},
	})

	// RET=HDRS: the header section and nothing of the body.
	wantHead := testOriginal[:strings.Index(testOriginal, "\r\n\r\n")+4]
	if string(orig.body) != wantHead {
		t.Errorf("returned header section:\n%q\nwant\n%q", orig.body, wantHead)
	}
	if bytes.Contains(raw, []byte("still on for Friday")) {
		t.Error("RET=HDRS returned the body")
	}
	hdr, err := textproto.ReadHeader(bufioReader(orig.body))
	if err != nil || hdr.Get("Subject") != "Lunch on Friday" {
		t.Errorf("returned header does not parse: %v, Subject %q", err, hdr.Get("Subject"))
	}
}

// checkFields checks that h has exactly the fields want, in that order,
// with those values once unfolded.
func checkFields(t *testing.T, what string, h textproto.Header, want [][2]string) {
	t.Helper()
	var wantKeys []string
	for _, kv := range want {
		wantKeys = append(wantKeys, kv[0])
		if got := unfolded(h.Get(kv[0])); got != kv[1] {
			t.Errorf("%s %s: %q, want %q", what, kv[0], got, kv[1])
		}
	}
	if got := keys(h); !slices.Equal(got, wantKeys) {
		t.Errorf("%s fields %q, want %q", what, got, wantKeys)
	}
}

func TestReturnFull(t *testing.T) {
	r := failedReport()
	r.Return = "full"
	raw := write(t, r, testOriginal)
	p, _ := mustParse(t, raw)
	orig := p.parts[2]
	if mt := orig.mediaType(); mt != "message/rfc822" {
		t.Fatalf("part 3: %s, want message/rfc822", mt)
	}
	if string(orig.body) != testOriginal {
		t.Errorf("returned message:\n%q\nwant\n%q", orig.body, testOriginal)
	}
	if !bytes.Contains(p.parts[0].body, []byte("Your message is attached.")) {
		t.Errorf("text does not say the message is attached:\n%s", p.parts[0].body)
	}
}

// TestReturnFullEightBit returns a message with 8-bit octets and lines of
// every sort byte for byte, labelled 8bit (RFC 2046 §5.2.1 allows no other
// encoding for message/rfc822).
func TestReturnFullEightBit(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: binary-ish\r\n\r\n")
	for i := 0; i < 300; i++ {
		for c := 0; c < 256; c++ {
			if c != '\r' && c != '\n' && c != 0 {
				b.WriteByte(byte(c))
			}
			if c%97 == 0 {
				b.WriteString("\r\n")
			}
		}
	}
	b.WriteString("--=_not-the-boundary\r\n.\r\nlast line without a line end")
	original := b.String()

	r := failedReport()
	r.Return = "FULL"
	r.EightBit = true
	raw := write(t, r, original)
	p, _ := mustParse(t, raw)
	orig := p.parts[2]
	if got := orig.header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("part 3 Content-Transfer-Encoding %q, want 8bit", got)
	}
	if got := p.header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("top-level Content-Transfer-Encoding %q, want 8bit", got)
	}
	if !bytes.Equal(orig.body, []byte(original)) {
		t.Errorf("the returned message differs from the original (%d octets, want %d)", len(orig.body), len(original))
	}
}

func TestReturnDefaultsToHeaders(t *testing.T) {
	r := failedReport()
	r.Return = ""
	p, _ := mustParse(t, write(t, r, testOriginal))
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("part 3: %s, want text/rfc822-headers when RET is not given", mt)
	}
}

func TestMaxFullFallsBackToHeaders(t *testing.T) {
	r := failedReport()
	r.Return = "FULL"
	r.MaxFull = int64(len(testOriginal)) - 1
	p, _ := mustParse(t, write(t, r, testOriginal))
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Fatalf("part 3: %s, want text/rfc822-headers for a message over MaxFull", mt)
	}
	if bytes.Contains(p.parts[2].body, []byte("still on for Friday")) {
		t.Error("the body was returned")
	}
	want := fmt.Sprintf("Your message was %d octets, more than the %d octets this system returns whole, so only its header is attached.",
		len(testOriginal), len(testOriginal)-1)
	if got := unfolded(string(p.parts[0].body)); !strings.Contains(got, want) {
		t.Errorf("text does not say why only the header is returned:\n%s", p.parts[0].body)
	}

	// At the limit exactly, it is returned whole.
	r.MaxFull = int64(len(testOriginal))
	p, _ = mustParse(t, write(t, r, testOriginal))
	if mt := p.parts[2].mediaType(); mt != "message/rfc822" {
		t.Errorf("part 3: %s, want message/rfc822 for a message of MaxFull octets", mt)
	}
	// MaxFull 0: never whole.
	r.MaxFull = 0
	p, _ = mustParse(t, write(t, r, testOriginal))
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("MaxFull 0: part 3: %s, want text/rfc822-headers", mt)
	}
	if !strings.Contains(unfolded(string(p.parts[0].body)), "This system does not return whole messages") {
		t.Errorf("MaxFull 0: text:\n%s", p.parts[0].body)
	}

	// A size not known: the header only, and no size in the text.
	r.MaxFull = 1 << 20
	var out bytes.Buffer
	if err := Write(&out, r, strings.NewReader(testOriginal), -1); err != nil {
		t.Fatal(err)
	}
	p, _ = mustParse(t, out.Bytes())
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("size -1: part 3: %s, want text/rfc822-headers", mt)
	}
	if !strings.Contains(unfolded(string(p.parts[0].body)), "The header of your message is attached.") {
		t.Errorf("size -1: text:\n%s", p.parts[0].body)
	}
}

// TestDelayReturnsHeaders: RET=FULL asks for the message in a "failed"
// DSN (RFC 3461 §4.3); a delay warning carries the header section.
func TestDelayReturnsHeaders(t *testing.T) {
	r := failedReport()
	r.Return = "FULL"
	r.Recipients[0].Action = ActionDelayed
	r.Recipients[0].Status = "4.4.1"
	r.Recipients[0].WillRetryUntil = testNow.Add(96 * time.Hour)
	p, groups := mustParse(t, write(t, r, testOriginal))
	if got := p.header.Get("Subject"); got != "Delayed Mail (still being retried)" {
		t.Errorf("Subject %q", got)
	}
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("part 3: %s, want text/rfc822-headers for a delay", mt)
	}
	if got := groups[1].Get("Will-Retry-Until"); got != "Wed, 05 Mar 2025 12:00:00 +0000" {
		t.Errorf("Will-Retry-Until %q", got)
	}
	text := unfolded(string(p.parts[0].body))
	for _, want := range []string{"has not been delivered yet", "Trying until: Wed, 05 Mar 2025 12:00:00 +0000", "no need to send the message again"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, p.parts[0].body)
		}
	}
}

func TestMixedRecipients(t *testing.T) {
	r := failedReport()
	r.Return = "FULL"
	r.Recipients = append(r.Recipients,
		Recipient{
			Final:          "carol@example.com",
			Action:         ActionDelayed,
			Status:         "4.4.1",
			Explanation:    "no mail server for example.com answered",
			LastAttempt:    testNow,
			WillRetryUntil: testNow.Add(72 * time.Hour),
		},
		Recipient{
			Original:    "rfc822;dave@example.com",
			Final:       "dave@example.com",
			Action:      ActionFailed,
			RemoteMTA:   "mx.example.com",
			Diagnostic:  "552 5.2.2 mailbox full",
			LastAttempt: testNow,
			// Not for a failure (RFC 3464 §2.3.9): not written.
			WillRetryUntil: testNow.Add(time.Hour),
		},
	)
	p, groups := mustParse(t, write(t, r, testOriginal))
	if got := p.header.Get("Subject"); got != "Undelivered and Delayed Mail" {
		t.Errorf("Subject %q", got)
	}
	// RET=FULL and a failure among the recipients: the message, whole.
	if mt := p.parts[2].mediaType(); mt != "message/rfc822" {
		t.Errorf("part 3: %s, want message/rfc822", mt)
	}
	if len(groups) != 4 {
		t.Fatalf("%d groups, want the per-message one and 3 recipients", len(groups))
	}
	checkFields(t, "carol", groups[2], [][2]string{
		{"Final-Recipient", "rfc822; carol@example.com"},
		{"Action", "delayed"},
		{"Status", "4.4.1"},
		{"Diagnostic-Code", "X-Mailroom; no mail server for example.com answered"},
		{"Last-Attempt-Date", "Sat, 01 Mar 2025 12:00:00 +0000"},
		{"Will-Retry-Until", "Tue, 04 Mar 2025 12:00:00 +0000"},
	})
	checkFields(t, "dave", groups[3], [][2]string{
		{"Original-Recipient", "rfc822; dave@example.com"},
		{"Final-Recipient", "rfc822; dave@example.com"},
		{"Action", "failed"},
		{"Status", "5.2.2"}, // from the reply, as none was given
		{"Remote-Mta", "dns; mx.example.com"},
		{"Diagnostic-Code", "smtp; 552 5.2.2 mailbox full"},
		{"Last-Attempt-Date", "Sat, 01 Mar 2025 12:00:00 +0000"},
	})

	text := string(p.parts[0].body)
	failed := strings.Index(text, "could not be delivered")
	delayed := strings.Index(text, "has not been delivered yet")
	if failed < 0 || delayed < 0 || failed > delayed {
		t.Fatalf("text does not list the failures, then the delays:\n%s", text)
	}
	for _, want := range []string{"<bob@example.net>", "<dave@example.com>: 5.2.2 (mailbox full)"} {
		if i := strings.Index(text, want); i < failed || i > delayed {
			t.Errorf("%q not among the failures:\n%s", want, text)
		}
	}
	if i := strings.Index(text, "<carol@example.com>: 4.4.1 (no answer from host)"); i < delayed {
		t.Errorf("carol not among the delays:\n%s", text)
	}
	if !strings.Contains(text, "    no mail server for example.com answered") {
		t.Errorf("text lacks carol's explanation:\n%s", text)
	}
}

// TestInjection puts CR, LF and whole header fields into everything that
// reaches a field, and checks that none of it becomes a field or a part.
func TestInjection(t *testing.T) {
	const evil = "\r\nBcc: victim@example.com\r\nX-Injected: yes\r\n\r\n--=_fake\r\nContent-Type: text/html\r\n\r\n<b>"
	r := Report{
		ReportingMTA: "mail.example.org" + evil,
		From:         "MAILER-DAEMON@mail.example.org" + evil,
		To:           "alice@example.org\nBcc: victim@example.com",
		EnvID:        "QQ" + evil,
		Return:       "HDRS",
		Now:          testNow,
		Recipients: []Recipient{{
			Original:    "rfc822;bob@example.net\rX-Injected: yes",
			Final:       "bob@example.net" + evil,
			Action:      ActionFailed,
			Status:      "5.1.1",
			RemoteMTA:   "mx.example.net" + evil,
			Diagnostic:  "550 5.1.1 no" + evil + "\x00\x1b[31m\u2028Resent-To: x@y\u0085Cc: z@y",
			Explanation: "explained" + evil,
			LastAttempt: testNow,
		}},
	}
	raw := write(t, r, testOriginal)
	p, groups := mustParse(t, raw)

	wantTop := []string{"From", "To", "Subject", "Date", "Message-Id", "Auto-Submitted", "Mime-Version", "Content-Type"}
	if got := keys(p.header.Header); !slices.Equal(got, wantTop) {
		t.Errorf("top-level fields %q, want %q", got, wantTop)
	}
	if len(p.parts) != 3 {
		t.Errorf("%d parts, want 3", len(p.parts))
	}
	for i, pt := range p.parts {
		ks := keys(pt.header.Header)
		slices.Sort(ks)
		want := []string{"Content-Description", "Content-Type"}
		if i == 0 && pt.header.Has("Content-Transfer-Encoding") {
			want = []string{"Content-Description", "Content-Transfer-Encoding", "Content-Type"}
		}
		if !slices.Equal(ks, want) {
			t.Errorf("part %d fields %q, want %q", i+1, ks, want)
		}
	}
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	checkKeys(t, groups[0], perMessageFields)
	checkKeys(t, groups[1], perRecipientFields)
	// No line of a header section, or of the DSN fields, is the input's.
	// (The text for people may well have a line that starts "Bcc:".)
	heads := string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))]) + "\r\n" + string(p.parts[1].body)
	for _, line := range strings.Split(heads, "\r\n") {
		for _, f := range []string{"Bcc:", "X-Injected:", "Resent-To:", "Cc:", "--=_fake"} {
			if strings.HasPrefix(line, f) {
				t.Errorf("a line starts with %q: %q", f, line)
			}
		}
	}
	// The text of the reply is kept, as text.
	if got := unfolded(groups[1].Get("Diagnostic-Code")); !strings.Contains(got, "Bcc: victim@example.com X-Injected: yes --=_fake") {
		t.Errorf("Diagnostic-Code %q lost the reply's text", got)
	}
	if got := p.header.Get("To"); got != "<alice@example.org Bcc: victim@example.com>" {
		t.Errorf("To %q", got)
	}
}

var (
	perMessageFields   = []string{"Original-Envelope-Id", "Reporting-Mta", "Dsn-Gateway", "Received-From-Mta", "Arrival-Date"}
	perRecipientFields = []string{"Original-Recipient", "Final-Recipient", "Action", "Status", "Remote-Mta",
		"Diagnostic-Code", "Last-Attempt-Date", "Final-Log-Id", "Will-Retry-Until"}
)

// checkKeys checks that every field of h is one of allowed, at most once.
func checkKeys(t testing.TB, h textproto.Header, allowed []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, k := range keys(h) {
		if !slices.Contains(allowed, k) || seen[k] {
			t.Errorf("unexpected or repeated DSN field %q in %q", k, keys(h))
		}
		seen[k] = true
	}
}

func TestMultiLineDiagnostic(t *testing.T) {
	r := failedReport()
	r.Recipients[0].Status = ""
	r.Recipients[0].Diagnostic = "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
		"550-5.1.1 double-checking the recipient's email address for typos or\n" +
		"550 5.1.1 unnecessary spaces. https://support.example.net/mail/?p=NoSuchUser\r\n"
	p, groups := mustParse(t, write(t, r, testOriginal))
	if got := groups[1].Get("Status"); got != "5.1.1" {
		t.Errorf("Status %q, want 5.1.1 from the reply", got)
	}
	want := "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach\r\n" +
		" does not exist. Please try\r\n" +
		" 550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
		" 550 5.1.1 unnecessary spaces. https://support.example.net/mail/?p=NoSuchUser\r\n"
	if !bytes.Contains(p.parts[1].body, []byte(want)) {
		t.Errorf("Diagnostic-Code not folded line by line:\n%s\nwant\n%s", p.parts[1].body, want)
	}
	wantText := "        550-5.1.1 double-checking the recipient's email address for typos or\r\n"
	if !bytes.Contains(p.parts[0].body, []byte(wantText)) {
		t.Errorf("text does not quote the reply line by line:\n%s", p.parts[0].body)
	}
}

func TestLongValuesFolded(t *testing.T) {
	long := strings.Repeat("x", 3000)
	r := failedReport()
	r.Recipients[0].Diagnostic = "550 5.7.1 " + strings.Repeat("word ", 400) + long + " end"
	r.Recipients[0].RemoteMTA = strings.Repeat("mx", 600)
	r.ReportingMTA = strings.Repeat("m", 1200) + ".example.org"
	raw := write(t, r, testOriginal)
	_, groups := mustParse(t, raw) // checks no line exceeds 998 octets
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > softLine && strings.Contains(line, "word") {
			t.Errorf("a line of words is %d octets, want at most %d: %q", len(line), softLine, line)
		}
	}
	got := unfolded(groups[1].Get("Diagnostic-Code"))
	if !strings.HasPrefix(got, "smtp; 550 5.7.1 word word") || !strings.HasSuffix(got, " end") ||
		strings.Count(got, "x") != len(long) {
		t.Errorf("Diagnostic-Code lost text: %.80q...", got)
	}
}

func TestUTF8Addresses(t *testing.T) {
	r := failedReport()
	r.To = "用户@例子.example"
	r.Recipients[0] = Recipient{
		Original:   "UTF-8;收件人+tag@例子.example",
		Final:      "收件人@例子.example",
		Action:     ActionFailed,
		Status:     "5.1.1",
		RemoteMTA:  "mx.例子.example",
		Diagnostic: "550 5.1.1 <收件人@例子.example>: 没有这个用户",
	}
	p, groups := mustParse(t, write(t, r, testOriginal))
	if _, params, _ := p.header.ContentType(); params["report-type"] != "global-delivery-status" {
		t.Errorf("report-type %q, want global-delivery-status", params["report-type"])
	}
	if got := p.header.Get("To"); got != "<用户@例子.example>" {
		t.Errorf("To %q", got)
	}
	if got := p.header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("top-level Content-Transfer-Encoding %q, want 8bit", got)
	}
	if mt := p.parts[1].mediaType(); mt != "message/global-delivery-status" {
		t.Errorf("part 2: %s, want message/global-delivery-status", mt)
	}
	if got := p.parts[1].header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("part 2 Content-Transfer-Encoding %q, want 8bit (RFC 6533)", got)
	}
	// The original's header is ASCII: it stays text/rfc822-headers.
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("part 3: %s, want text/rfc822-headers", mt)
	}
	checkFields(t, "recipient", groups[1], [][2]string{
		// RFC 6533 §3: "+" is not a QCHAR.
		{"Original-Recipient", `utf-8; 收件人\x{2B}tag@例子.example`},
		{"Final-Recipient", "utf-8; 收件人@例子.example"},
		{"Action", "failed"},
		{"Status", "5.1.1"},
		{"Remote-Mta", "dns; mx.例子.example"},
		{"Diagnostic-Code", "smtp; 550 5.1.1 <收件人@例子.example>: 没有这个用户"},
	})
	if !bytes.Contains(p.parts[0].body, []byte("<收件人@例子.example>: 5.1.1")) {
		t.Errorf("text lacks the recipient:\n%s", p.parts[0].body)
	}
}

func TestUTF8Header(t *testing.T) {
	original := "From: Jürgen <juergen@example.org>\r\nSubject: Grüße aus Köln\r\n\r\nHallo.\r\n"
	r := failedReport()
	r.Return = "HDRS"
	p, groups := mustParse(t, write(t, r, original))
	if mt := p.parts[1].mediaType(); mt != "message/global-delivery-status" {
		t.Errorf("part 2: %s, want message/global-delivery-status", mt)
	}
	orig := p.parts[2]
	if mt := orig.mediaType(); mt != "message/global-headers" {
		t.Errorf("part 3: %s, want message/global-headers", mt)
	}
	if got := orig.header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("part 3 Content-Transfer-Encoding %q, want 8bit", got)
	}
	if !bytes.Contains(orig.body, []byte("Subject: Grüße aus Köln\r\n")) || bytes.Contains(orig.body, []byte("Hallo")) {
		t.Errorf("returned header section:\n%s", orig.body)
	}
	// ASCII addresses keep the rfc822 type.
	if got := groups[1].Get("Final-Recipient"); got != "rfc822; bob@example.net" {
		t.Errorf("Final-Recipient %q", got)
	}

	r.Return = "FULL"
	p, _ = mustParse(t, write(t, r, original))
	if mt := p.parts[2].mediaType(); mt != "message/global" {
		t.Errorf("part 3: %s, want message/global", mt)
	}
	if string(p.parts[2].body) != original {
		t.Errorf("returned message %q", p.parts[2].body)
	}

	// SMTPUTF8 mail gets the global types even when it is ASCII.
	r.UTF8 = true
	p, _ = mustParse(t, write(t, r, testOriginal))
	if mt := p.parts[2].mediaType(); mt != "message/global" {
		t.Errorf("SMTPUTF8: part 3: %s, want message/global", mt)
	}
}

// TestUTF8DiagnosticInASCIIReport: a reply with UTF-8 does not make a
// report about ASCII mail need UTF-8: the field gets "?", the text keeps
// the reply, quoted-printable.
func TestUTF8DiagnosticInASCIIReport(t *testing.T) {
	r := failedReport()
	r.Recipients[0].Diagnostic = "550 5.1.1 Benutzer unbekannt: Grüße \xff"
	p, groups := mustParse(t, write(t, r, testOriginal))
	if mt := p.parts[1].mediaType(); mt != "message/delivery-status" {
		t.Errorf("part 2: %s, want message/delivery-status", mt)
	}
	if got := groups[1].Get("Diagnostic-Code"); got != "smtp; 550 5.1.1 Benutzer unbekannt: Gr??e ?" {
		t.Errorf("Diagnostic-Code %q", got)
	}
	if got := p.parts[0].header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
		t.Errorf("text Content-Transfer-Encoding %q, want quoted-printable", got)
	}
	if !bytes.Contains(p.parts[0].body, []byte("Benutzer unbekannt: Grüße \uFFFD")) {
		t.Errorf("text lacks the reply:\n%s", p.parts[0].body)
	}
	if p.header.Has("Content-Transfer-Encoding") {
		t.Error("a 7-bit report is labelled 8bit")
	}
}

func TestOriginalRecipient(t *testing.T) {
	for _, tc := range []struct {
		in     string
		global bool
		want   string
	}{
		{"", false, ""},
		{"  ", false, ""},
		{"RFC822;bob@example.net", false, "rfc822; bob@example.net"},
		{"rfc822; <bob@example.net> ", false, "rfc822; bob@example.net"},
		{"bob@example.net", false, "rfc822; bob@example.net"},
		{"<bob@example.net>", false, "rfc822; bob@example.net"},
		{"Bob@Example.NET", false, "rfc822; Bob@Example.NET"}, // case kept (RFC 3464 §2.3.2)
		{"rfc822;bob+2B@example.net", false, "rfc822; bob+2B@example.net"},
		{"UTF-8;bob+tag@example.net", false, `utf-8; bob\x{2B}tag@example.net`},
		{"utf-8;用户@例子.example", true, "utf-8; 用户@例子.example"},
		{"utf-8;用户@例子.example", false, `utf-8; \x{7528}\x{6237}@\x{4F8B}\x{5B50}.example`},
		{"rfc822;用户@例子.example", true, "utf-8; 用户@例子.example"},
		{"用户=x@例子.example", true, `utf-8; 用户\x{3D}x@例子.example`},
		{"x400;/G=Bob/S=Smith/", false, "x400; /G=Bob/S=Smith/"},
		{`"a;b"@example.net`, false, `rfc822; "a;b"@example.net`},
		{"rfc822;bob@example.net\r\nX-Injected: 1", false, "rfc822; bob@example.net X-Injected: 1"},
	} {
		got, err := originalRecipient(tc.in, tc.global)
		if err != nil || got != tc.want {
			t.Errorf("originalRecipient(%q, %v) = %q, %v; want %q", tc.in, tc.global, got, err, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		action Action
		status string
		diag   string
		want   string
	}{
		{ActionFailed, "5.7.1", "", "5.7.1"},
		{ActionFailed, "4.4.7", "", "4.4.7"}, // given up after temporary failures
		{ActionFailed, "", "", "5.0.0"},
		{ActionFailed, "", "550 5.7.1 relaying denied", "5.7.1"},
		{ActionFailed, "", "550-5.7.26 unauthenticated\r\n550 5.7.26 mail", "5.7.26"},
		{ActionFailed, "", "550 4.7.1 class mismatch", "5.0.0"},
		{ActionFailed, "", "550 relaying denied", "5.0.0"},
		{ActionDelayed, "", "451 4.3.0 try later", "4.3.0"},
		{ActionDelayed, "", "", "4.0.0"},
		{ActionDelivered, "", "", "2.0.0"},
		{ActionRelayed, "", "", "2.0.0"},
	} {
		r := failedReport()
		r.Recipients[0].Action, r.Recipients[0].Status, r.Recipients[0].Diagnostic = tc.action, tc.status, tc.diag
		_, groups := mustParse(t, write(t, r, testOriginal))
		if got := groups[1].Get("Status"); got != tc.want {
			t.Errorf("%s, status %q, reply %q: Status %q, want %q", tc.action, tc.status, tc.diag, got, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for name, change := range map[string]func(*Report){
		"no recipients":      func(r *Report) { r.Recipients = nil },
		"null To":            func(r *Report) { r.To = "" },
		"null To, brackets":  func(r *Report) { r.To = " <> " },
		"no reporting MTA":   func(r *Report) { r.ReportingMTA = "\r\n" },
		"bad RET":            func(r *Report) { r.Return = "BODY" },
		"bad action":         func(r *Report) { r.Recipients[0].Action = "bounced" },
		"empty action":       func(r *Report) { r.Recipients[0].Action = "" },
		"no final":           func(r *Report) { r.Recipients[0].Final = "<>" },
		"bad status":         func(r *Report) { r.Recipients[0].Status = "550" },
		"leading zero":       func(r *Report) { r.Recipients[0].Status = "5.01.1" },
		"status class 3":     func(r *Report) { r.Recipients[0].Status = "3.0.0" },
		"status 4 digits":    func(r *Report) { r.Recipients[0].Status = "5.1.1000" },
		"final too long":     func(r *Report) { r.Recipients[0].Final = strings.Repeat("a", 500) + "@x" },
		"original too long":  func(r *Report) { r.Recipients[0].Original = "rfc822;" + strings.Repeat("a", 501) },
		"To too long":        func(r *Report) { r.To = strings.Repeat("a", 501) },
		"From too long":      func(r *Report) { r.From = strings.Repeat("a", 501) },
		"status with spaces": func(r *Report) { r.Recipients[0].Status = "5. 1.1" },
	} {
		r := failedReport()
		change(&r)
		var out bytes.Buffer
		err := Write(&out, r, strings.NewReader(testOriginal), int64(len(testOriginal)))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", name, err)
		}
		if out.Len() != 0 {
			t.Errorf("%s: wrote %d octets before failing", name, out.Len())
		}
	}
	r := failedReport()
	r.Recipients[0].Action = "bounced"
	err := Write(&bytes.Buffer{}, r, nil, 0)
	if want := `dsn: invalid report: recipient 1: action "bounced": want one of RFC 3464 §2.3.3`; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestDefaults(t *testing.T) {
	r := failedReport()
	r.From = ""
	r.EnvID = ""
	r.Arrival = time.Time{}
	r.Recipients[0].Original = ""
	r.Recipients[0].LastAttempt = time.Time{}
	r.Recipients[0].Action = "FAILED"
	p, groups := mustParse(t, write(t, r, testOriginal))
	if got := p.header.Get("From"); got != "Mail Delivery System <MAILER-DAEMON@mail.example.org>" {
		t.Errorf("From %q", got)
	}
	checkFields(t, "per-message", groups[0], [][2]string{{"Reporting-Mta", "dns; mail.example.org"}})
	checkFields(t, "per-recipient", groups[1], [][2]string{
		{"Final-Recipient", "rfc822; bob@example.net"},
		{"Action", "failed"},
		{"Status", "5.1.1"},
		{"Remote-Mta", "dns; mx.example.net"},
		{"Diagnostic-Code", "smtp; 550 5.1.1 <bob@example.net>: no such user"},
	})
}

func TestSuccess(t *testing.T) {
	r := failedReport()
	r.Return = "FULL"
	r.Recipients[0] = Recipient{Final: "bob@example.net", Action: ActionRelayed, RemoteMTA: "mx.example.net", Diagnostic: "250 2.0.0 OK queued as 1234"}
	p, groups := mustParse(t, write(t, r, testOriginal))
	if got := p.header.Get("Subject"); got != "Successful Mail Delivery Report" {
		t.Errorf("Subject %q", got)
	}
	if got := groups[1].Get("Status"); got != "2.0.0" {
		t.Errorf("Status %q", got)
	}
	if mt := p.parts[2].mediaType(); mt != "text/rfc822-headers" {
		t.Errorf("part 3: %s, want the header only with a success", mt)
	}
	if !bytes.Contains(p.parts[0].body, []byte("<bob@example.net>: passed on to a system that does not report delivery")) {
		t.Errorf("text:\n%s", p.parts[0].body)
	}
}

func TestNoOriginal(t *testing.T) {
	var out bytes.Buffer
	if err := Write(&out, failedReport(), nil, 0); err != nil {
		t.Fatal(err)
	}
	p, _ := mustParse(t, out.Bytes())
	if len(p.parts) != 2 {
		t.Errorf("%d parts, want 2 without an original", len(p.parts))
	}
	if bytes.Contains(p.parts[0].body, []byte("attached")) {
		t.Errorf("text speaks of an attachment:\n%s", p.parts[0].body)
	}
}

// TestOriginalLineEnds: bare LF and bare CR in the original become CRLF.
func TestOriginalLineEnds(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Subject: lf\n\nbody\nmore\n", "Subject: lf\r\n\r\nbody\r\nmore\r\n"},
		{"Subject: cr\r\rbody\rmore\r", "Subject: cr\r\n\r\nbody\r\nmore\r\n"},
		{"Subject: mixed\r\n\nbody\r\r\n\n", "Subject: mixed\r\n\r\nbody\r\n\r\n\r\n"},
		{"Subject: none\r\n\r\nno line end", "Subject: none\r\n\r\nno line end"},
	} {
		r := failedReport()
		r.Return = "FULL"
		p, _ := mustParse(t, write(t, r, tc.in))
		if got := string(p.parts[2].body); got != tc.want {
			t.Errorf("%q returned as %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHeaderSection(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no body", "Subject: a\r\nFrom: b@example.org\r\n", "Subject: a\r\nFrom: b@example.org\r\n\r\n"},
		{"no line end", "Subject: a", "Subject: a\r\n\r\n"},
		{"no header", "\r\nbody\r\n", "\r\n"},
		{"folded", "Subject: a\r\n b\r\n\r\nbody", "Subject: a\r\n b\r\n\r\n"},
	} {
		r := failedReport()
		p, _ := mustParse(t, write(t, r, tc.in))
		if got := string(p.parts[2].body); got != tc.want {
			t.Errorf("%s: header section %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLongHeaderCut: a header section over the limit is returned cut at a
// line end, and the text says so.
func TestLongHeaderCut(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < maxHead+100<<10; i++ {
		b.WriteString("X-Filler: " + strings.Repeat("f", 70) + "\r\n")
	}
	b.WriteString("Subject: beyond the limit\r\n\r\nbody\r\n")
	r := failedReport()
	p, _ := mustParse(t, write(t, r, b.String()))
	got := p.parts[2].body
	if len(got) > maxHead+bufSize || bytes.Contains(got, []byte("beyond the limit")) {
		t.Errorf("returned %d octets of header, want it cut at about %d", len(got), maxHead)
	}
	if !bytes.HasSuffix(got, []byte(strings.Repeat("f", 70)+"\r\n\r\n")) {
		t.Errorf("the cut header does not end with a whole line and an empty one: %q", got[len(got)-100:])
	}
	if !bytes.Contains(p.parts[0].body, []byte("only its start is attached")) {
		t.Errorf("text does not say the header was cut:\n%s", p.parts[0].body)
	}

	// Returned whole, it is all there.
	r.Return = "FULL"
	r.MaxFull = 1 << 30
	p, _ = mustParse(t, write(t, r, b.String()))
	if string(p.parts[2].body) != b.String() {
		t.Error("a message with a long header was not returned whole")
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("io error") }

func TestIOErrors(t *testing.T) {
	r := failedReport()
	r.Return = "FULL"
	big := testOriginal + strings.Repeat("line of the body\r\n", 20000)
	err := Write(&failingWriter{n: 100 << 10}, r, strings.NewReader(big), int64(len(big)))
	if err == nil || !strings.Contains(err.Error(), "disk full") || errors.Is(err, ErrInvalid) {
		t.Errorf("write failure: %v", err)
	}
	err = Write(&bytes.Buffer{}, r, failingReader{}, 100)
	if err == nil || !strings.Contains(err.Error(), "io error") {
		t.Errorf("read failure: %v", err)
	}
	err = Write(&bytes.Buffer{}, r, &readerThenError{s: testOriginal}, 1000)
	if err == nil || !strings.Contains(err.Error(), "reading the original") {
		t.Errorf("read failure in the body: %v", err)
	}
}

// readerThenError returns s, then an error.
type readerThenError struct{ s string }

func (r *readerThenError) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, errors.New("io error")
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

// TestUnique: every report has a Message-ID and a boundary of its own.
func TestUnique(t *testing.T) {
	ids := map[string]bool{}
	boundaries := map[string]bool{}
	for i := 0; i < 50; i++ {
		p, _ := mustParse(t, write(t, failedReport(), testOriginal))
		_, params, _ := p.header.ContentType()
		id := p.header.Get("Message-ID")
		if ids[id] || boundaries[params["boundary"]] {
			t.Fatalf("report %d repeats Message-ID %q or boundary %q", i, id, params["boundary"])
		}
		ids[id], boundaries[params["boundary"]] = true, true
	}
}
