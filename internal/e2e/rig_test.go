package e2e

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/imap"
	"mailroom/internal/pop3"
	"mailroom/internal/smtp"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

const password = testrig.Password

// rig is one Mailroom with every protocol on loopback, and the account
// ann@example.test.
type rig struct {
	*testrig.Rig
	acct store.Account
}

func start(t *testing.T, opts ...testrig.Option) *rig {
	t.Helper()
	// No https: with it the http listener sends browsers there, to the
	// port 0 of its configured address.
	opts = append([]testrig.Option{testrig.Listen("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http")}, opts...)
	tr := testrig.Start(t, testrig.Factories{
		"smtp": smtp.Factory(smtp.Inbound), "submission": smtp.Factory(smtp.Submission),
		"imap": imap.Factory(), "pop3": pop3.Factory(), "http": web.Factory(),
	}, opts...)
	return &rig{Rig: tr, acct: tr.Account("ann@example.test")}
}

// deliver puts a message with the subject into ann's INBOX.
func (r *rig) deliver(subject string) {
	r.T.Helper()
	r.Deliver(r.acct, "Subject: "+subject+"\r\n\r\nx\r\n")
}

// imap logs ann in on a line-level IMAP session.
func (r *rig) imap() *line {
	r.T.Helper()
	l := dial(r.T, r.Addr("imaps"))
	l.Line()
	l.imapCmd("l", "LOGIN ann@example.test \""+password+"\"")
	return l
}

// imapClient logs in with go-imap's client over implicit TLS. The
// connection has a deadline: imapclient's commands have none of their own.
func (r *rig) imapClient(email string, opts *imapclient.Options) *imapclient.Client {
	r.T.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", r.Addr("imaps"), testrig.ClientTLS())
	if err != nil {
		r.T.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	c := imapclient.New(conn, opts)
	r.T.Cleanup(func() { c.Close() })
	if err := c.Login(email, password).Wait(); err != nil {
		r.T.Fatalf("IMAP LOGIN %s: %v", email, err)
	}
	return c
}

// pop runs a POP3 session: login, the commands, QUIT; it returns the
// replies' first lines and UIDL listing lines.
func (r *rig) pop(cmds ...string) []string {
	r.T.Helper()
	p := dial(r.T, r.Addr("pop3s"))
	p.Line()
	p.Send("USER ann@example.test")
	p.Line()
	p.Send("PASS " + password)
	if s := p.Line(); !strings.HasPrefix(s, "+OK") {
		r.T.Fatalf("POP3 login: %s", s)
	}
	var out []string
	for _, c := range cmds {
		p.Send(c)
		s := p.Line()
		if !strings.HasPrefix(s, "+OK") {
			r.T.Fatalf("POP3 %s: %s", c, s)
		}
		if c == "UIDL" || strings.HasPrefix(c, "RETR") {
			for l := p.Line(); l != "."; l = p.Line() {
				if c == "UIDL" {
					out = append(out, l)
				}
			}
		}
	}
	p.Send("QUIT")
	p.Line()
	return out
}

// line is a line-level client over implicit TLS, for IMAP and POP3.
type line struct{ *testrig.LineConn }

func dial(t testing.TB, addr string) *line { return &line{testrig.Dial(t, addr, true)} }

// cmd sends a command and returns the first line of the answer.
func (l *line) cmd(s string) string {
	l.T.Helper()
	l.Send(s)
	return l.Line()
}

// imapCmd runs a tagged IMAP command and returns its untagged lines.
func (l *line) imapCmd(tag, cmd string) []string {
	l.T.Helper()
	l.Send(tag + " " + cmd)
	var out []string
	for {
		s := l.Line()
		if strings.HasPrefix(s, tag+" ") {
			if !strings.HasPrefix(s, tag+" OK") {
				l.T.Fatalf("%s: %s", cmd, s)
			}
			return out
		}
		out = append(out, s)
	}
}
