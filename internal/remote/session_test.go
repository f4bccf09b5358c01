package remote

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// oneMX points dest.test at 127.0.0.2.
func oneMX(l *lab) {
	l.dns.addMX("dest.test", 10, "mx.dest.test")
	l.dns.addA("mx.dest.test", "127.0.0.2")
}

func TestPerRecipientReplies(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{onRcpt: func(to string) error {
		switch {
		case strings.HasPrefix(to, "unknown"):
			return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "no such user")
		case strings.HasPrefix(to, "full"):
			return smtpErr(452, gosmtp.EnhancedCode{4, 2, 2}, "mailbox full")
		case strings.HasPrefix(to, "plain"):
			return smtpErr(550, gosmtp.NoEnhancedCode, "rejected")
		}
		return nil
	}}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "dest.test", message(testBody,
		"good@dest.test", "unknown@dest.test", "full@dest.test", "plain@dest.test", "good2@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "good@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "mx.dest.test"})
	checkResult(t, res[1], Result{Rcpt: "unknown@dest.test", Permanent: true, Code: 550, Enhanced: "5.1.1", Text: "no such user", RemoteMTA: "mx.dest.test"})
	checkResult(t, res[2], Result{Rcpt: "full@dest.test", Code: 452, Enhanced: "4.2.2", Text: "mailbox full"})
	// No enhanced code from the server: one that fits 550.
	checkResult(t, res[3], Result{Rcpt: "plain@dest.test", Permanent: true, Code: 550, Enhanced: "5.0.0", Text: "rejected"})
	checkResult(t, res[4], Result{Rcpt: "good2@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})

	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	if got := strings.Join(msgs[0].rcpts, ","); got != "good@dest.test,good2@dest.test" {
		t.Errorf("server delivered to %s", got)
	}
	if be.mailCount() != 1 {
		t.Errorf("%d transactions, want 1", be.mailCount())
	}
}

func TestNoRecipientAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pipelining, lax bool }{{true, false}, {true, true}, {false, false}} {
		pipelining := tc.pipelining
		t.Run(fmt.Sprintf("pipelining=%v,lax=%v", tc.pipelining, tc.lax), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			oneMX(l)
			raw := &rawServer{ext: []string{"8BITMIME"}, lax: tc.lax, rcpt: func(string) string { return "550 5.1.1 unknown" }}
			if pipelining {
				raw.ext = append(raw.ext, "PIPELINING")
			}
			go raw.serve(l.listen("127.0.0.2"))
			res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test", "b@dest.test"))
			for _, r := range res {
				checkResult(t, r, Result{Rcpt: r.Rcpt, Permanent: true, Code: 550, Enhanced: "5.1.1"})
			}
			cmds := strings.Join(raw.commands(), "|")
			// Without pipelining DATA is never sent; with it, the
			// server refuses the pipelined DATA.
			if !pipelining && strings.Contains(cmds, "DATA") {
				t.Errorf("DATA sent without accepted recipients: %s", cmds)
			}
			if !strings.HasSuffix(cmds, "QUIT") {
				t.Errorf("session did not end with QUIT: %s", cmds)
			}
			// A lax server that took the pipelined DATA gets only the
			// terminating dot (RFC 2920 section 3.1).
			msgs := raw.messages()
			if tc.lax && (len(msgs) != 1 || len(msgs[0]) != 0) || !tc.lax && len(msgs) != 0 {
				t.Errorf("server got messages %q", msgs)
			}
		})
	}
}

func TestDataRefused(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{
		onRcpt: func(to string) error {
			if strings.HasPrefix(to, "bad") {
				return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "no such user")
			}
			return nil
		},
		onData: func() error { return smtpErr(554, gosmtp.EnhancedCode{5, 7, 1}, "spam") },
	}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test", "bad@dest.test", "b@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Permanent: true, Code: 554, Enhanced: "5.7.1", Text: "spam"})
	checkResult(t, res[1], Result{Rcpt: "bad@dest.test", Permanent: true, Code: 550, Enhanced: "5.1.1"})
	checkResult(t, res[2], Result{Rcpt: "b@dest.test", Permanent: true, Code: 554, Enhanced: "5.7.1"})
}

func TestMailRefusedPermanently(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 10, "mx1.dest.test")
	l.dns.addMX("dest.test", 20, "mx2.dest.test")
	l.dns.addA("mx1.dest.test", "127.0.0.2")
	l.dns.addA("mx2.dest.test", "127.0.0.3")
	l.smtp("127.0.0.2", &backend{onMail: func(string) error {
		return smtpErr(550, gosmtp.EnhancedCode{5, 7, 26}, "DMARC")
	}})
	backup := &backend{}
	l.smtp("127.0.0.3", backup)
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Permanent: true, Code: 550, Enhanced: "5.7.26", RemoteMTA: "mx1.dest.test"})
	if backup.mailCount() != 0 {
		t.Error("a 5xx to MAIL is definitive, but the backup was tried")
	}
}

// bigBody is a message of about n octets whose lines test transparency:
// lines of dots, a lone dot, dots after CRLF at buffer boundaries.
func bigBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: a@sender.test\r\nSubject: big\r\n\r\n")
	for i := 0; b.Len() < n; i++ {
		switch i % 7 {
		case 0:
			b.WriteString(".\r\n")
		case 1:
			b.WriteString("..leading dots\r\n")
		case 2:
			fmt.Fprintf(&b, ".%d\r\n", i)
		default:
			fmt.Fprintf(&b, "line %d %s\r\n", i, strings.Repeat("x", i%70))
		}
	}
	return b.Bytes()
}

func TestSTARTTLSAndBigBody(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{}
	// A self-signed certificate: opportunistic TLS takes it.
	l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.TLSConfig = l.ca.issue(t, true, "mx.dest.test") })
	body := bigBody(10 << 20)
	m := message("", "a@dest.test")
	m.Size = int64(len(body))
	opens := 0
	m.Open = func() (io.ReadCloser, error) {
		opens++
		return io.NopCloser(bytes.NewReader(body)), nil
	}
	// The server may still be reading megabytes from socket buffers when
	// the last write returns: the race detector makes it slow.
	c := l.client(func(cfg *Config) { cfg.Timeouts.DataBlock, cfg.Timeouts.DataEnd = time.Minute, time.Minute })
	res := deliver(t, c, "dest.test", m)
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	if !res[0].TLS {
		t.Error("Result.TLS false after STARTTLS")
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	if !msgs[0].tls {
		t.Error("server did not see TLS")
	}
	if got, want := sha256.Sum256(msgs[0].data), sha256.Sum256(body); got != want {
		t.Errorf("body changed in transit: %d octets arrived, %d sent", len(msgs[0].data), len(body))
	}
	if opens != 1 {
		t.Errorf("message opened %d times", opens)
	}
}

func TestTLSHandshakeFailureFallsBack(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{}
	l.smtp("127.0.0.2", be, func(s *gosmtp.Server) {
		s.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return nil, errors.New("no certificate today")
		}}
	})
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	if res[0].TLS {
		t.Error("Result.TLS true, but the handshake failed")
	}
}

func TestSizeExceeded(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{}
	l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.MaxMessageBytes = 1000 })
	m := message(testBody, "a@dest.test", "b@dest.test")
	m.Size = 5000
	for _, r := range deliver(t, l.client(), "dest.test", m) {
		checkResult(t, r, Result{Rcpt: r.Rcpt, Permanent: true, Enhanced: "5.3.4", Text: "exceeds", RemoteMTA: "mx.dest.test"})
	}
	if be.mailCount() != 0 {
		t.Error("MAIL sent for a message over the size limit")
	}
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 10, "mx1.dest.test")
	l.dns.addA("mx1.dest.test", "127.0.0.2")
	l.dns.addMX("utf8.test", 10, "mx2.utf8.test")
	l.dns.addA("mx2.utf8.test", "127.0.0.3")
	plain, utf8 := &backend{}, &backend{}
	l.smtp("127.0.0.2", plain)
	l.smtp("127.0.0.3", utf8, func(s *gosmtp.Server) { s.EnableSMTPUTF8 = true })
	c := l.client()

	m := message(testBody, "jöran@dest.test")
	res := deliver(t, c, "dest.test", m)
	checkResult(t, res[0], Result{Rcpt: "jöran@dest.test", Permanent: true, Enhanced: "5.6.7", Text: "SMTPUTF8"})
	if plain.mailCount() != 0 {
		t.Error("MAIL sent to a server without SMTPUTF8")
	}
	// UTF-8 headers with ASCII addresses need it too.
	m = message(testBody, "a@dest.test")
	m.UTF8 = true
	checkResult(t, deliver(t, c, "dest.test", m)[0], Result{Rcpt: "a@dest.test", Permanent: true, Enhanced: "5.6.7"})

	m = message(testBody, "jöran@utf8.test")
	m.UTF8, m.EightBit = true, true
	checkResult(t, deliver(t, c, "utf8.test", m)[0], Result{Rcpt: "jöran@utf8.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	msgs := utf8.messages()
	if len(msgs) != 1 || !msgs[0].mailOpts.UTF8 || msgs[0].mailOpts.Body != gosmtp.Body8BitMIME || msgs[0].rcpts[0] != "jöran@utf8.test" {
		t.Errorf("server got %+v", msgs)
	}
}

func TestEightBitWithout8BITMIME(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	raw := &rawServer{ext: []string{"PIPELINING"}}
	go raw.serve(l.listen("127.0.0.2"))
	m := message(testBody, "a@dest.test")
	m.EightBit = true
	checkResult(t, deliver(t, l.client(), "dest.test", m)[0], Result{Rcpt: "a@dest.test", Permanent: true, Enhanced: "5.6.3"})
	// 7-bit mail goes without BODY=.
	deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
	for _, cmd := range raw.commands() {
		if strings.HasPrefix(cmd, "MAIL") && strings.Contains(cmd, "BODY=") {
			t.Errorf("sent %q", cmd)
		}
	}
	if len(raw.messages()) != 1 {
		t.Errorf("server got %d messages, want 1", len(raw.messages()))
	}
}

func TestDSNParameters(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{}
	l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.EnableDSN = true })
	m := message(testBody, "a@dest.test", "b@dest.test")
	m.EightBit = true
	m.Ret, m.EnvID = "HDRS", "env+id=1"
	m.Recipients[0].Notify = []string{"failure", "DELAY"}
	m.Recipients[0].ORcpt = "rfc822;Orig+1@Example.org"
	m.Recipients[1].Notify = []string{"NEVER"}
	res := deliver(t, l.client(), "dest.test", m)
	for _, r := range res {
		checkResult(t, r, Result{Rcpt: r.Rcpt, Delivered: true, Code: 250, Enhanced: "2.0.0"})
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	mo := msgs[0].mailOpts
	if mo.Return != gosmtp.DSNReturnHeaders || mo.EnvelopeID != "env+id=1" || mo.Body != gosmtp.Body8BitMIME || mo.Size != int64(len(testBody)) {
		t.Errorf("MAIL options %+v", mo)
	}
	r0, r1 := msgs[0].rcptOpts[0], msgs[0].rcptOpts[1]
	if fmt.Sprint(r0.Notify) != "[FAILURE DELAY]" || r0.OriginalRecipientType != gosmtp.DSNAddressTypeRFC822 || r0.OriginalRecipient != "Orig+1@Example.org" {
		t.Errorf("RCPT options %+v", r0)
	}
	if fmt.Sprint(r1.Notify) != "[NEVER]" || r1.OriginalRecipient != "" {
		t.Errorf("RCPT options %+v", r1)
	}
}

func TestNoDSNWithoutExtension(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	raw := &rawServer{ext: []string{"PIPELINING", "8BITMIME", "SIZE 0"}}
	go raw.serve(l.listen("127.0.0.2"))
	m := message(testBody, "a@dest.test")
	m.Ret, m.EnvID = "FULL", "x"
	m.Recipients[0].Notify = []string{"SUCCESS"}
	m.Recipients[0].ORcpt = "rfc822;a@dest.test"
	checkResult(t, deliver(t, l.client(), "dest.test", m)[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	for _, cmd := range raw.commands() {
		if strings.Contains(cmd, "RET=") || strings.Contains(cmd, "ENVID=") || strings.Contains(cmd, "NOTIFY=") || strings.Contains(cmd, "ORCPT=") {
			t.Errorf("DSN parameter sent to a server without DSN: %q", cmd)
		}
		if strings.HasPrefix(cmd, "MAIL") && !strings.Contains(cmd, fmt.Sprintf("SIZE=%d", len(testBody))) {
			t.Errorf("no SIZE in %q", cmd)
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("greeting", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		oneMX(l)
		go (&rawServer{hang: true}).serve(l.listen("127.0.0.2"))
		c := l.client(func(cfg *Config) { cfg.Timeouts.Greeting = 200 * time.Millisecond })
		start := time.Now()
		res := deliver(t, c, "dest.test", message(testBody, "a@dest.test"))
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v with a 200ms greeting timeout", d)
		}
		checkResult(t, res[0], Result{Rcpt: "a@dest.test", Enhanced: "4.4.2", Text: "timeout", RemoteMTA: "mx.dest.test"})
	})
	t.Run("final dot", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		l.dns.addMX("dest.test", 10, "mx1.dest.test")
		l.dns.addMX("dest.test", 20, "mx2.dest.test")
		l.dns.addA("mx1.dest.test", "127.0.0.2")
		l.dns.addA("mx2.dest.test", "127.0.0.3")
		go (&rawServer{ext: []string{"PIPELINING", "8BITMIME"}, dataHang: true}).serve(l.listen("127.0.0.2"))
		backup := &backend{}
		l.smtp("127.0.0.3", backup)
		c := l.client(func(cfg *Config) { cfg.Timeouts.DataEnd = 300 * time.Millisecond })
		res := deliver(t, c, "dest.test", message(testBody, "a@dest.test"))
		checkResult(t, res[0], Result{Rcpt: "a@dest.test", Enhanced: "4.4.2", Text: "may have been delivered", RemoteMTA: "mx1.dest.test"})
		// The first server may have the message: no second copy now.
		if backup.mailCount() != 0 {
			t.Error("backup tried after a timeout on the final dot")
		}
	})
}

func TestMessageOpenFails(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	be := &backend{}
	l.smtp("127.0.0.2", be)
	m := message(testBody, "a@dest.test")
	m.Open = func() (io.ReadCloser, error) { return nil, errors.New("disk on fire") }
	checkResult(t, deliver(t, l.client(), "dest.test", m)[0], Result{Rcpt: "a@dest.test", Enhanced: "4.3.0", Text: "disk on fire"})

	// A read error in the middle must not end the data: the server would
	// deliver half a message.
	m.Open = func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("Subject: half\r\n\r\n"), errReader{})), nil
	}
	checkResult(t, deliver(t, l.client(), "dest.test", m)[0], Result{Rcpt: "a@dest.test", Enhanced: "4.3.0", Text: "reading the message"})
	if n := len(be.messages()); n != 0 {
		t.Errorf("server took %d messages", n)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("I/O error") }

func TestTooManyRecipients(t *testing.T) {
	t.Parallel()
	t.Run("RCPTMAX", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		oneMX(l)
		be := &backend{}
		l.smtp("127.0.0.2", be, func(s *gosmtp.Server) { s.MaxRecipients = 2 })
		m := message(testBody, "a@dest.test", "b@dest.test", "c@dest.test", "d@dest.test", "e@dest.test")
		for _, r := range deliver(t, l.client(), "dest.test", m) {
			checkResult(t, r, Result{Rcpt: r.Rcpt, Delivered: true, Code: 250, Enhanced: "2.0.0"})
		}
		if n := len(be.messages()); n != 3 {
			t.Errorf("%d transactions, want 3", n)
		}
	})
	t.Run("452", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		oneMX(l)
		// Two recipients a transaction, refused with 452 beyond, and
		// no LIMITS to tell us in advance.
		n := 0
		raw := &rawServer{ext: []string{"PIPELINING", "8BITMIME"}, rcpt: func(string) string {
			n++
			if n > 2 {
				return "452 4.5.3 too many recipients"
			}
			return "250 2.1.5 ok"
		}}
		go raw.serve(l.listen("127.0.0.2"))
		m := message(testBody, "a@dest.test", "b@dest.test", "c@dest.test")
		res := deliver(t, l.client(), "dest.test", m)
		// Only one RSET-separated retry: the third gets 452 again
		// (the counter does not reset), so it stays temporary.
		checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
		checkResult(t, res[1], Result{Rcpt: "b@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
		checkResult(t, res[2], Result{Rcpt: "c@dest.test", Code: 452, Enhanced: "4.5.3"})
		if got := strings.Count(strings.Join(raw.commands(), "|"), "MAIL FROM"); got != 2 {
			t.Errorf("%d transactions, want 2 (the retry of the refused recipient)", got)
		}
	})
}
