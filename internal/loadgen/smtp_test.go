package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/testrig"
)

func smtpTestOptions(addr string) SMTPOptions {
	return SMTPOptions{Options: Options{
		Addr:     addr,
		Users:    "user%d@example.test",
		Password: testrig.Password,
		Clients:  3,
		Cycles:   30,
		Timeout:  10 * time.Second,
	}, Size: 3000}
}

func runSMTP(t *testing.T, o SMTPOptions) *SMTPReport {
	t.Helper()
	r, err := RunSMTP(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantSessions checks the commands of a clean run of n messages: once
// per message, or with reuse once per connection — at most one per
// client (a client that found all cycles taken has none), each ended by
// QUIT. perSession are the commands of a session's start besides
// CONNECT.
func wantSessions(t *testing.T, r *SMTPReport, o SMTPOptions, perSession map[string]int) {
	t.Helper()
	n := o.Cycles
	sessions := n
	if o.Reuse {
		sessions = r.Commands["CONNECT"].Count
		if sessions < 1 || sessions > o.Clients {
			t.Errorf("%d connections for %d clients", sessions, o.Clients)
		}
	}
	want := map[string]int{"CONNECT": sessions, "QUIT": sessions, "MAIL": n, "RCPT": n, "DATA": n, "DOT": n}
	for name, k := range perSession {
		want[name] = k * sessions
	}
	wantCounts(t, r.Report, want)
}

// smtpMark matches the Subject and Message-ID of a generated message.
var smtpMark = regexp.MustCompile(`\r\nSubject: mailroom bench (lg[0-9a-f]{12}) (\d+)\r\n(?:.*\r\n)*Message-ID: <(lg[0-9a-f]{12})\.(\d+)@loadgen\.example\.test>\r\n`)

// wantDelivered checks that the n messages of a run with o are in the
// recipients' INBOXes, in equal shares, each once and whole: addressed to
// its recipient, with the run's mark, its number and a body of o.Size
// octets that begins with "..." (sent as "....").
func wantDelivered(t *testing.T, rig *smtpRig, o SMTPOptions, users, n int) {
	t.Helper()
	seen := make(map[int]bool)
	var run string
	for u := 1; u <= users; u++ {
		email := fmt.Sprintf("user%d@example.test", u)
		msgs := rig.Bodies(email, "INBOX")
		if len(msgs) != n/users {
			t.Errorf("%s has %d messages, want %d", email, len(msgs), n/users)
		}
		for _, m := range msgs {
			mk := smtpMark.FindStringSubmatch(m)
			if mk == nil || mk[1] != mk[3] || mk[2] != mk[4] || run != "" && mk[1] != run {
				t.Errorf("%s: message without the run's mark:\n%.500s", email, m)
				continue
			}
			run = mk[1]
			k, _ := strconv.Atoi(mk[2])
			if seen[k] {
				t.Errorf("message %d delivered twice", k)
			}
			seen[k] = true
			_, body, _ := strings.Cut(m, "\r\n\r\n")
			if !strings.Contains(m, "\r\nTo: <"+email+">\r\n") || len(body) != o.Size || !strings.HasPrefix(body, "... ") {
				t.Errorf("%s: message %d: To or body (%d octets) wrong:\n%.300s", email, k, len(body), m)
			}
		}
	}
	if len(seen) != n {
		t.Errorf("%d different messages delivered, want %d", len(seen), n)
	}
}

// The MX: no AUTH, every message delivered to a local account.
func TestSMTPMX(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) {
			rig := startSMTPRig(t, 3)
			o := smtpTestOptions(rig.mx)
			o.Reuse = reuse
			r := runSMTP(t, o)
			wantClean(t, r.Report, 30)
			wantSessions(t, r, o, map[string]int{"EHLO": 1})
			wantDelivered(t, rig, o, 3, 30)
			if r.Protocol != "smtp" || r.Clients != 3 || r.Bytes < 30*int64(o.Size) {
				t.Errorf("report header %q %d, %d bytes", r.Protocol, r.Clients, r.Bytes)
			}
			t.Logf("%.0f messages/s", r.CyclesPerSec)
		})
	}
}

// Submission: STARTTLS, then AUTH PLAIN as the sending user, who must
// also be the sender (Mailroom refuses others in MAIL FROM and From:).
func TestSMTPSubmission(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) {
			rig := startSMTPRig(t, 3)
			o := smtpTestOptions(rig.sub)
			o.StartTLS, o.Insecure, o.Auth, o.Reuse = true, true, true, reuse
			r := runSMTP(t, o)
			wantClean(t, r.Report, 30)
			wantSessions(t, r, o, map[string]int{"EHLO": 2, "STARTTLS": 1, "AUTH": 1})
			wantDelivered(t, rig, o, 3, 30)
		})
	}
}

func TestSMTPSubmissionRefused(t *testing.T) {
	rig := startSMTPRig(t, 2)
	o := smtpTestOptions(rig.sub)
	o.StartTLS, o.Auth, o.Clients, o.Cycles = true, true, 2, 4

	// Without Insecure the self-signed certificate must be refused,
	// before AUTH.
	r := runSMTP(t, o)
	if r.Cycles != 0 || r.Errors != 4 || r.Commands["AUTH"] != nil || !strings.Contains(strings.Join(r.ErrorSamples, "\n"), "certificate") {
		t.Errorf("unverified: %d cycles, %d errors %q", r.Cycles, r.Errors, r.ErrorSamples)
	}

	o.Insecure, o.Password = true, "wrong"
	r = runSMTP(t, o)
	wantCounts(t, r.Report, map[string]int{"CONNECT": 4, "EHLO": 8, "STARTTLS": 4, "AUTH": 4, "QUIT": 4})
	if c := r.Commands["AUTH"]; c.Errors != 4 || r.Errors != 4 || !strings.HasPrefix(r.ErrorSamples[0], "AUTH: 535 ") {
		t.Errorf("AUTH %+v, samples %q", c, r.ErrorSamples)
	}
}

// After the run, the messages are counted over IMAP; a lost message, one
// too many and a mailbox that cannot be read each show.
func TestSMTPVerifyIMAP(t *testing.T) {
	rig := startSMTPRig(t, 3)
	o := smtpTestOptions(rig.mx)
	o.Reuse, o.VerifyIMAP, o.Insecure = true, rig.imaps, true
	r := runSMTP(t, o)
	wantClean(t, r.Report, 30)
	want := SMTPVerification{Recipients: 3, Accepted: 30, Verified: 30}
	if r.Verify == nil || !reflect.DeepEqual(*r.Verify, want) {
		t.Fatalf("verification %+v, want %+v", r.Verify, want)
	}
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "\nverify: 30 accepted messages to 3 recipients: 30 verified, 0 missing") {
		t.Errorf("text report (%v):\n%s", err, &text)
	}
	var back struct {
		Cycles int
		Verify SMTPVerification
	}
	if err := r.WriteJSON(&js); err != nil || json.Unmarshal(js.Bytes(), &back) != nil || back.Cycles != 30 || back.Verify.Verified != 30 {
		t.Errorf("JSON report (%v):\n%s", err, &js)
	}

	// The same messages checked against what another run might have
	// been told: user1 one more accepted than there are, user2 one less,
	// and a recipient without a mailbox.
	id := smtpMark.FindStringSubmatch(rig.Bodies("user1@example.test", "INBOX")[0])[1]
	sr := &smtpRun{id: id, rcpts: []string{"user1@example.test", "user2@example.test", "nobody@example.test", "user3@example.test"},
		sent: make([]atomic.Int64, 4), accepted: make([]atomic.Int64, 4)}
	for i, n := range []int64{11, 9, 2, 0} {
		sr.sent[i].Store(n + 1)
		sr.accepted[i].Store(n)
	}
	sr.sent[3].Store(0) // not sent to: not checked
	o.Options.Timeout = 300 * time.Millisecond
	v := verifySMTP(t.Context(), &o, sr)
	want = SMTPVerification{Recipients: 3, Accepted: 22, Verified: 19, Missing: 1, Extra: 1, Unchecked: 2}
	errs := v.Errors
	v.Errors = nil
	if !reflect.DeepEqual(*v, want) || len(errs) != 1 || !strings.HasPrefix(errs[0], "LOGIN: ") {
		t.Errorf("verification %+v %q, want %+v and a LOGIN error", v, errs, want)
	}
}

const testMbox = `From alice@example.org Mon Jan  2 15:04:05 2006
From: Alice <alice@example.org>
To: someone@example.test
Subject: first
 folded
Message-ID: <orig1@example.org>
 <folded-id-continuation>

Hello.
>From the start, this line was escaped.
>>From stays quoted once.
.
..two dots
end

From bob@example.org Mon Jan  2 15:04:06 2006
From: bob@example.org
Subject: second

Body two.

From carol@example.org Mon Jan  2 15:04:07 2006
X-Note: no From, no Subject

`

func writeMbox(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mbox")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Messages from an mbox file arrive as they were, but for the mark in
// the Subject and a Message-ID of their own.
func TestSMTPMbox(t *testing.T) {
	rig := startSMTPRig(t, 2)
	o := smtpTestOptions(rig.mx)
	o.Mbox, o.Clients, o.Cycles = writeMbox(t, testMbox), 2, 6
	r := runSMTP(t, o)
	wantClean(t, r.Report, 6)
	bodies := []string{
		"Hello.\r\nFrom the start, this line was escaped.\r\n>From stays quoted once.\r\n.\r\n..two dots\r\nend\r\n",
		"Body two.\r\n",
		"",
	}
	mark := regexp.MustCompile(`\r\nSubject: \[(lg[0-9a-f]{12}) (\d+)\]`)
	var got int
	for _, u := range []string{"user1@example.test", "user2@example.test"} {
		for _, m := range rig.Bodies(u, "INBOX") {
			got++
			mk := mark.FindStringSubmatch(m)
			if mk == nil {
				t.Errorf("no mark:\n%s", m)
				continue
			}
			k, _ := strconv.Atoi(mk[2])
			header, body, _ := strings.Cut(m, "\r\n\r\n")
			wantID := "\r\nMessage-ID: <" + mk[1] + "." + mk[2] + "@loadgen.example.test>\r\n"
			if body != bodies[k%3] || strings.Count(header, "Message-ID:") != 1 || !strings.Contains(header+"\r\n", wantID) {
				t.Errorf("message %d:\n%s", k, m)
			}
			switch k % 3 {
			case 0:
				if !strings.Contains(header, "\r\nFrom: Alice <alice@example.org>\r\n") || !strings.Contains(header, "] first\r\n folded\r\n") {
					t.Errorf("message %d: From or Subject:\n%s", k, header)
				}
			case 2:
				// From: the sending user, whichever client sent it.
				if !regexp.MustCompile(`\r\nFrom: <user[12]@example\.test>\r\n`).MatchString(header) || !strings.Contains(header, "\r\nX-Note: no From, no Subject") {
					t.Errorf("message %d: From:\n%s", k, header)
				}
			}
		}
	}
	if got != 6 {
		t.Errorf("%d messages delivered", got)
	}
}

func TestReadMbox(t *testing.T) {
	msgs, err := readMbox(writeMbox(t, testMbox))
	if err != nil || len(msgs) != 3 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	m := msgs[0]
	if string(m.from) != "From: Alice <alice@example.org>\r\n" || string(m.subject) != " first\r\n folded" ||
		string(m.header) != "To: someone@example.test\r\n" ||
		string(m.body) != "\r\nHello.\r\nFrom the start, this line was escaped.\r\n>From stays quoted once.\r\n..\r\n...two dots\r\nend\r\n" {
		t.Errorf("message 1: %q %q %q %q", m.from, m.subject, m.header, m.body)
	}
	if m := msgs[2]; m.from != nil || m.subject != nil || string(m.body) != "\r\n" {
		t.Errorf("message 3: %q %q %q", m.from, m.subject, m.body)
	}

	// With Auth, the sender replaces From.
	p := newSMTPClient(&SMTPOptions{Auth: true}, &smtpRun{id: "lgx"})
	p.sender = "me@example.test"
	got := string(msgs[1].appendTo(nil, p, 4))
	want := "From: <me@example.test>\r\nSubject: [lgx 4] second\r\nMessage-ID: <lgx.4@loadgen.example.test>\r\n\r\nBody two.\r\n."
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}

	for _, text := range []string{"Subject: not an mbox\n\nx\n", "\n\n", ""} {
		if _, err := readMbox(writeMbox(t, text)); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
	if _, err := readMbox(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

// A generated message has exactly Size octets of body in lines of at most
// 78, dot-stuffed, after its header.
func TestSMTPMessage(t *testing.T) {
	for _, size := range []int{1, 2, 3, 4, 5, 50, 79, 80, 81, 300, 10240, 100001} {
		p := newSMTPClient(&SMTPOptions{Size: size}, &smtpRun{id: "lgx"})
		p.sender = "me@example.test"
		p.makeMessage(7, "you@example.test")
		m := string(p.msg)
		if !strings.HasSuffix(m, "\r\n.") || strings.Count(m, "\n") != strings.Count(m, "\r\n") || strings.Count(m, "\r") != strings.Count(m, "\r\n") {
			t.Errorf("size %d: line ends or terminator", size)
			continue
		}
		var un strings.Builder
		for l := range strings.SplitSeq(m[:len(m)-3], "\r\n") {
			if len(l) > 78+1 || strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "..") {
				t.Errorf("size %d: line %q", size, l)
			}
			un.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
		}
		header, body, _ := strings.Cut(un.String(), "\r\n\r\n")
		if want := max(size, 2); len(body) != want {
			t.Errorf("size %d: body of %d octets", size, len(body))
		}
		if size >= 5 && !strings.HasPrefix(body, "...") { // "...\r\n"
			t.Errorf("size %d: body %.20q", size, body)
		}
		for _, f := range []string{"From: <me@example.test>", "To: <you@example.test>", "Subject: mailroom bench lgx 7", "Message-ID: <lgx.7@loadgen.example.test>", "Date: "} {
			if !strings.Contains(header, f) {
				t.Errorf("size %d: no %q in\n%s", size, f, header)
			}
		}
	}
}

// refusingBackend is a go-smtp server that refuses RCPT TO user2 with 451
// and the messages to user3 with 554 after DATA, and keeps the others.
type refusingBackend struct {
	mu  sync.Mutex
	got []string
}

func (b *refusingBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &refusingSession{b: b}, nil
}

type refusingSession struct {
	b    *refusingBackend
	rcpt string
}

func (s *refusingSession) Reset()                                 { s.rcpt = "" }
func (s *refusingSession) Logout() error                          { return nil }
func (s *refusingSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *refusingSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if strings.HasPrefix(to, "user2@") {
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.rcpt = to
	return nil
}

func (s *refusingSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if strings.HasPrefix(s.rcpt, "user3@") {
		return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0}, Message: "content refused"}
	}
	s.b.mu.Lock()
	s.b.got = append(s.b.got, string(b))
	s.b.mu.Unlock()
	return nil
}

// Refusals are counted as errors of the command refused, not of the
// commands after it that were meant to fail with it; a reused connection
// goes on after RSET.
func TestSMTPRefusals(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) {
			b := &refusingBackend{}
			gs := gosmtp.NewServer(b)
			gs.Domain = "gosmtp.example.test"
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { gs.Serve(ln); close(done) }()
			t.Cleanup(func() { gs.Close(); <-done })

			o := smtpTestOptions(ln.Addr().String())
			o.Reuse = reuse
			r := runSMTP(t, o)
			// Every third message to user2 (RCPT) and to user3 (DOT).
			if r.Cycles != 10 || r.Errors != 20 || r.Commands["RCPT"].Errors != 10 || r.Commands["DOT"].Errors != 10 {
				t.Errorf("%d cycles, %d errors, RCPT %+v, DOT %+v", r.Cycles, r.Errors, r.Commands["RCPT"], r.Commands["DOT"])
			}
			want := map[string]int{"MAIL": 30, "RCPT": 30, "DATA": 20, "DOT": 20}
			if reuse {
				want["RSET"] = 20
				n := r.Commands["CONNECT"].Count
				want["CONNECT"], want["EHLO"], want["QUIT"] = n, n, n
			} else {
				want["CONNECT"], want["EHLO"], want["QUIT"] = 30, 30, 30
			}
			wantCounts(t, r.Report, want)
			samples := strings.Join(r.ErrorSamples, "\n")
			if len(r.ErrorSamples) != 2 || !strings.Contains(samples, "RCPT: 451 4.3.0 try again later") || !strings.Contains(samples, "DOT: 554 5.6.0 content refused") {
				t.Errorf("samples %q", r.ErrorSamples)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, m := range b.got {
				if _, body, _ := strings.Cut(m, "\r\n\r\n"); len(body) != o.Size {
					t.Errorf("message with a body of %d octets", len(body))
				}
			}
			if len(b.got) != 10 {
				t.Errorf("%d messages kept", len(b.got))
			}
		})
	}
}

// Without PIPELINING, MAIL, RCPT and DATA go one by one; with it, in one
// write. Either way the server gets every message as it was meant.
func TestSMTPPipelining(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		s := startSMTPServer(t, pipelining, smtpFaultNone)
		o := smtpTestOptions(s.addr())
		r := runSMTP(t, o)
		wantClean(t, r.Report, 30)
		wantSessions(t, r, o, map[string]int{"EHLO": 1})
		s.mu.Lock()
		if pipelining != (s.early > 0) {
			t.Errorf("pipelining %v: %d commands came early", pipelining, s.early)
		}
		if len(s.msgs) != 30 {
			t.Errorf("pipelining %v: %d messages", pipelining, len(s.msgs))
		}
		for _, m := range s.msgs {
			if _, body, _ := strings.Cut(m, "\r\n\r\n"); len(body) != o.Size || !strings.HasPrefix(body, "... ") {
				t.Errorf("pipelining %v: body of %d octets: %.20q", pipelining, len(body), body)
			}
		}
		s.mu.Unlock()
	}
}

func TestSMTPBrokenServers(t *testing.T) {
	tests := []struct {
		fault  smtpFault
		reuse  bool
		counts map[string]int // over 20 cycles; a broken connection gets no QUIT
		cmd    string         // whose errors, one per cycle
		sample string
	}{
		{smtpFaultMail421, false, map[string]int{"CONNECT": 20, "EHLO": 20, "MAIL": 20}, "MAIL", "MAIL: 421 4.3.2 shutting down"},
		{smtpFaultMail421, true, map[string]int{"CONNECT": 20, "EHLO": 20, "MAIL": 20}, "MAIL", "MAIL: 421 4.3.2 shutting down"},
		{smtpFaultData250, false, map[string]int{"CONNECT": 20, "EHLO": 20, "MAIL": 20, "RCPT": 20, "DATA": 20, "QUIT": 20}, "DATA", "DATA: 250 2.0.0 ok (want 354)"},
		{smtpFaultDotHangup, false, map[string]int{"CONNECT": 20, "EHLO": 20, "MAIL": 20, "RCPT": 20, "DATA": 20, "DOT": 20}, "DOT", "DOT: reading reply: EOF"},
		{smtpFaultDotHangup, true, map[string]int{"CONNECT": 20, "EHLO": 20, "MAIL": 20, "RCPT": 20, "DATA": 20, "DOT": 20}, "DOT", "DOT: reading reply: EOF"},
		{smtpFaultMalformed, false, map[string]int{"CONNECT": 20, "EHLO": 20, "MAIL": 20, "RCPT": 20}, "RCPT", `RCPT: malformed reply "25O 2.1.5 ok"`},
	}
	for _, tt := range tests {
		s := startSMTPServer(t, true, tt.fault)
		o := smtpTestOptions(s.addr())
		o.Cycles, o.Reuse = 20, tt.reuse
		r := runSMTP(t, o)
		wantCounts(t, r.Report, tt.counts)
		if c := r.Commands[tt.cmd]; c == nil || c.Errors != 20 || r.Errors != 20 || r.Cycles != 0 {
			t.Errorf("fault %d: %s %+v, %d errors, %d cycles", tt.fault, tt.cmd, c, r.Errors, r.Cycles)
		}
		if len(r.ErrorSamples) != 1 || r.ErrorSamples[0] != tt.sample {
			t.Errorf("fault %d: samples %q, want %q", tt.fault, r.ErrorSamples, tt.sample)
		}
	}
}

func TestSMTPOptions(t *testing.T) {
	base := smtpTestOptions("127.0.0.1:1")
	for _, mod := range []func(*SMTPOptions){
		func(o *SMTPOptions) { o.Auth = true }, // password in the clear
		func(o *SMTPOptions) { o.Users = "user%d" },
		func(o *SMTPOptions) { o.Size = -1 },
		func(o *SMTPOptions) { o.From = "a@b>" },
		func(o *SMTPOptions) { o.VerifyIMAP, o.Password = "127.0.0.1:2", "" },
		func(o *SMTPOptions) { o.Mbox = filepath.Join(t.TempDir(), "missing") },
		func(o *SMTPOptions) { o.Addr = "" },
		func(o *SMTPOptions) { o.Cycles, o.Duration = 0, 0 },
	} {
		o := base
		mod(&o)
		if _, err := RunSMTP(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestParseReply(t *testing.T) {
	for in, want := range map[string]struct {
		code     int
		more, ok bool
	}{
		"250 ok": {250, false, true}, "250-PIPELINING": {250, true, true}, "354": {354, false, true},
		"221 ": {221, false, true}, "25O ok": {}, "250ok": {}, "25": {}, "": {}, "199 x": {199, false, false}, "600 x": {600, false, false},
	} {
		code, more, ok := parseReply([]byte(in))
		if ok != want.ok || ok && (code != want.code || more != want.more) {
			t.Errorf("parseReply(%q) = %d %v %v, want %+v", in, code, more, ok, want)
		}
	}
}
