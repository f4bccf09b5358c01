package smtp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// TestPostmasterWithoutAdmin: on an installation made as the README's
// production quickstart says (a domain, one account, no admin, no
// [smtp] postmaster), postmaster@ every local domain is accepted and
// reaches the first account created, the operator's; it used to be
// refused with 451 forever (RFC 5321 4.5.1 requires postmaster to work).
func TestPostmasterWithoutAdmin(t *testing.T) {
	r := newRig(t, nil)
	r.Account("you@example.test")
	r.Account("later@example.test")
	c := r.dial(r.Addr("smtp"))
	for _, rcpt := range []string{"postmaster@example.test", "Postmaster@other.test"} {
		if err := send(c, "x@remote.example", []string{rcpt}, msg("to "+rcpt)); err != nil {
			t.Fatalf("RCPT TO:<%s>: %v", rcpt, err)
		}
	}
	got := r.Bodies("you@example.test", "INBOX")
	if len(got) != 2 || !strings.Contains(got[0], "to postmaster@example.test") {
		t.Fatalf("the first account got %d postmaster messages, want 2", len(got))
	}
	if n := len(r.Bodies("later@example.test", "INBOX")); n != 0 {
		t.Fatalf("a later account got %d postmaster messages", n)
	}
}

// TestSubmissionAmbiguousOriginator: submission refuses a message whose
// From, Sender or Reply-To readers can parse in different ways, or that
// RFC 5322 forbids (two From fields, a group in From, several From
// addresses without Sender, an address as a display name); see
// originator.go for the rules. Before, `From: ann@example.test
// <bob@example.test>` and two From: fields were accepted.
func TestSubmissionAmbiguousOriginator(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	c := r.login("ann@example.test")
	for _, tc := range []struct {
		hdr  string
		code int // 0: accepted; 554 ambiguous (RFC 6409 6.3); 553 not the account's
	}{
		{"From: ann@example.test <bob@example.test>\r\n", 554},
		{"From: bob@example.test <ann@example.test>\r\n", 554},
		{"From: ann@example.test\r\nFrom: bob@example.test\r\n", 554},
		{"From: ann@example.test\r\nFrom: ann@example.test\r\n", 554},
		{"From: \"bob@example.test\" <ann@example.test>\r\n", 554},
		{"From: =?utf-8?q?bob=40example.test?= <ann@example.test>\r\n", 554},
		{"From: \"Bob \uff20 bob\uff20example.test\" <ann@example.test>\r\n", 554},
		{"From: Ann <ann@example.test> bob@example.test\r\n", 554},
		{"From: ann@example.test, ann+x@example.test\r\n", 554},
		{"From: Team: ann@example.test;\r\n", 554},
		{"From: ann@example.test\r\nSender: ann@example.test, ann+x@example.test\r\n", 554},
		{"From: ann@example.test\r\nReply-To: a@remote.example\r\nReply-To: b@remote.example\r\n", 554},
		{"From: ann@example.test\r\nSender: ann@example.test\r\nSender: ann@example.test\r\n", 554},
		{"From: ann@example.test\r\nSender: bob@example.test\r\n", 553}, // unambiguous, not hers
		{"From: Ann <ann@example.test>\r\n", 0},
		{"From: \"ann@example.test\" <ann@example.test>\r\n", 0}, // her own address as the name
		{"From: =?iso-8859-1?q?J=F6rg_M=FCller?= <ann@example.test>\r\n", 0},
		{"From: \"Smith, Ann\" <ann@example.test>\r\n", 0},
		{"From: ann@example.test (Ann)\r\n", 0},
		{"From: ann@example.test, ann+x@example.test\r\nSender: ann@example.test\r\n", 0},
		{"From: ann@example.test\r\nReply-To: Team: a@remote.example, b@remote.example;\r\n", 0},
	} {
		err := send(c, "ann@example.test", []string{"bob@example.test"}, tc.hdr+"Subject: x\r\n\r\nbody\r\n")
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%q refused: %v", tc.hdr, err)
		case tc.code == 554:
			wantCodeE(t, tc.hdr, err, 554, "5.6.0")
		case tc.code == 553:
			wantCodeE(t, tc.hdr, err, 553, "5.7.1")
		}
		if err != nil {
			c.Reset()
		}
	}
}

// TestSubmissionAmbiguousFromPython: the probe as a mail program sends
// it (Python's smtplib over STARTTLS).
func TestSubmissionAmbiguousFromPython(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	lines := smtplibSend(t, r, "ann@example.test", "ann@example.test",
		"From: ann@example.test <bob@example.test>\r\n", "From: ann@example.test\r\nFrom: bob@example.test\r\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "554 5.6.0") || !strings.HasPrefix(lines[1], "554 5.6.0 message refused: the message has 2 From: fields") {
		t.Fatalf("python smtplib got: %q", lines)
	}
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 0 {
		t.Fatalf("bob got %d messages", n)
	}
}

func wantCodeE(t *testing.T, what string, err error, code int, enhanced string) {
	t.Helper()
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		t.Errorf("%q: got %v, want %d %s", what, err, code, enhanced)
		return
	}
	if ec := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2]); se.Code != code || ec != enhanced {
		t.Errorf("%q: got %d %s %q, want %d %s", what, se.Code, ec, se.Message, code, enhanced)
	}
}

// TestOverlongCommandGraceful: a command line over the limit gets go-smtp's
// 500 and then a clean close (FIN), on 25 and on 465 (TLS): the server
// used to close with the rest of the line unread, so the client got a
// connection reset.
func TestOverlongCommandGraceful(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxLineLength = 1000 })
	for _, key := range []string{"smtp", "submissions"} {
		c := testrig.Dial(t, r.Addr(key), key == "submissions")
		c.Expect("220 ")
		c.SendOverlong("EHLO " + strings.Repeat("a", 100<<10))
		got, err := c.ReadToEnd()
		if !strings.HasPrefix(got, "500 ") || strings.Count(got, "\r\n") != 1 || err != io.EOF {
			t.Errorf("%s: got %q, ended by %v; want one 500, then EOF", key, got, err)
		}
	}
}

// TestDotCRSmugglingRefused: "\r\n.\r" followed by more than "\n" inside
// DATA is refused like every other bare CR/LF form (550 5.6.0). go-smtp's
// dot-reader used to drop the CR, turning it into a clean line, so the
// message (with the smuggled commands as text) was delivered.
func TestDotCRSmugglingRefused(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	for _, body := range []string{
		"Subject: first\r\n\r\nhello\r\n.\rMAIL FROM:<admin@example.test>\r\n",
		".\rSubject: starts the data\r\n\r\nx\r\n",
		"Subject: first\r\n\r\nhello\r\n.\r\r\nmore\r\n",
	} {
		x := r.raw(r.Addr("smtp"))
		x.send("EHLO attacker.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
		x.expect("250")
		x.expect("250")
		x.expect("250")
		x.expect("354")
		x.send(body + ".\r\n")
		x.expect("550 5.6.0")
		// In sync: the next transaction works.
		x.send("RSET\r\n")
		x.expect("250")
	}
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 0 {
		t.Fatalf("%d messages stored, want none", n)
	}
}

// TestOverlongDataLine: a message line over smtp.max_line_length gets one
// permanent reply at the end of the data (500 5.6.0), and the session goes
// on. It used to get 451 4.3.0 (so the sender retried forever) and then an
// unasked-for 500 and a closed connection.
func TestOverlongDataLine(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxLineLength = 1000 })
	r.Account("ann@example.test")
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO sender.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
	x.expect("250")
	x.expect("250")
	x.expect("250")
	x.expect("354")
	x.send("Subject: long\r\n\r\n" + strings.Repeat("x", 5000) + "\r\nafter\r\n.\r\n")
	x.expect("500 5.6.0")
	x.send("NOOP\r\n")
	x.expect("250") // not a second reply to the message: the session is in sync
	x.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
	x.expect("250")
	x.expect("250")
	x.expect("354")
	x.send("Subject: short\r\n\r\n" + strings.Repeat("y", 990) + "\r\n.\r\n")
	x.expect("250")
	got := r.Bodies("ann@example.test", "INBOX")
	if len(got) != 1 || !strings.Contains(got[0], "Subject: short") {
		t.Fatalf("stored %d messages, want the short one only", len(got))
	}
}

// TestTooManyErrorsGraceful: the 421 that ends a session after too many
// errors reaches the client, and the connection ends with a FIN even
// though the client sent more (it used to shut the socket's reading side
// and then close with unread input: a reset).
func TestTooManyErrorsGraceful(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxErrors = 2 })
	c := testrig.Dial(t, r.Addr("smtp"), false)
	c.Expect("220 ")
	c.SendOverlong("EHLO client.example\r\nMAIL FROM:<x@remote.example>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<nobody2@example.test>\r\n" +
		strings.Repeat("NOOP\r\n", 30000))
	got, err := c.ReadToEnd()
	if !strings.Contains(got, "\r\n550 ") || !strings.HasSuffix(got, "too many errors, closing connection\r\n") || err != io.EOF {
		t.Errorf("got %q, ended by %v; want 550, 421, then EOF", got, err)
	}
}

// smtplibSend submits, with Python's smtplib over STARTTLS as user, one
// message per header block (each followed by a Subject and a line of
// text), all from envFrom to bob@example.test; it returns per message
// "accepted" or the SMTP code and text of the refusal.
func smtplibSend(t *testing.T, r *rig, user, envFrom string, headers ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	host, port, _ := net.SplitHostPort(r.Addr("submission"))
	const script = `
import smtplib, ssl, sys
ctx = ssl._create_unverified_context()
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]))
s.starttls(context=ctx)
s.login(sys.argv[4], sys.argv[3])
for hdr in sys.argv[6:]:
    try:
        s.sendmail(sys.argv[5], ["bob@example.test"], hdr + "Subject: python\r\n\r\nhi\r\n")
        print("accepted")
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())
s.quit()
`
	out, err := exec.Command("python3", append([]string{"-c", script, host, port, password, user, envFrom}, headers...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
