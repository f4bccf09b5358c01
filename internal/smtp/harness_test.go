package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/server"
	"mailroom/internal/testrig"
)

const password = testrig.Password

// rig is a real Mailroom (store, TLS, auth, delivery, SMTP listeners) on
// loopback, configured like production except for the ports.
type rig struct{ *testrig.Rig }

// newRig starts the rig with the domains example.test and other.test;
// tweak, if not nil, changes the configuration.
func newRig(t *testing.T, tweak func(*config.Config), opts ...server.Option) *rig {
	t.Helper()
	r := &rig{testrig.Start(t, testrig.Factories{"smtp": Factory(Inbound), "submission": Factory(Submission)},
		testrig.Config(func(c *config.Config) {
			c.Hostname = "mx.example.test"
			if tweak != nil {
				tweak(c)
			}
		}),
		testrig.ServerOptions(opts...))}
	r.AddDomain("other.test")
	return r
}

// dial connects a go-smtp client to addr (EHLO done).
func (r *rig) dial(addr string) *gosmtp.Client {
	r.T.Helper()
	c, err := gosmtp.Dial(addr)
	if err != nil {
		r.T.Fatal(err)
	}
	if err := c.Hello("client.example.org"); err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { c.Close() })
	return c
}

// dialStartTLS connects a go-smtp client to addr and runs STARTTLS.
func (r *rig) dialStartTLS(addr string) *gosmtp.Client {
	r.T.Helper()
	c, err := gosmtp.DialStartTLS(addr, testrig.ClientTLS())
	if err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { c.Close() })
	return c
}

// login dials submission with STARTTLS and logs in with PLAIN.
func (r *rig) login(email string) *gosmtp.Client {
	r.T.Helper()
	c := r.dialStartTLS(r.Addr("submission"))
	if err := c.Auth(gosasl.NewPlainClient("", email, password)); err != nil {
		r.T.Fatalf("AUTH PLAIN %s: %v", email, err)
	}
	return c
}

// send runs one transaction; it returns the first error.
func send(c *gosmtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// wantCode checks an SMTP error's code and enhanced code.
func wantCode(t *testing.T, err error, code int, enhanced string) {
	t.Helper()
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP error %d %s", err, code, enhanced)
	}
	ec := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != code || (enhanced != "" && ec != enhanced) {
		t.Fatalf("got %d %s %q, want %d %s", se.Code, ec, se.Message, code, enhanced)
	}
}

// raw is a line-level client for what go-smtp's client will not send.
type raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (rg *rig) raw(addr string) *raw {
	rg.T.Helper()
	x := rg.rawNoGreeting(addr)
	x.expect("220")
	return x
}

func (x *raw) send(s string) {
	x.t.Helper()
	if _, err := io.WriteString(x.conn, s); err != nil {
		x.t.Fatal(err)
	}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (x *raw) reply() string {
	x.t.Helper()
	for {
		line, err := x.r.ReadString('\n')
		if err != nil {
			x.t.Fatalf("reading reply: %v (got %q)", err, line)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		return strings.TrimRight(line, "\r\n")
	}
}

func (x *raw) expect(prefix string) string {
	x.t.Helper()
	line := x.reply()
	if !strings.HasPrefix(line, prefix) {
		x.t.Fatalf("reply %q, want %s…", line, prefix)
	}
	return line
}

// closed reports whether the server closed the connection.
func (x *raw) closed() bool {
	x.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := x.r.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reset by peer")
}

// rawNoGreeting connects without reading the greeting.
func (rg *rig) rawNoGreeting(addr string) *raw {
	rg.T.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		rg.T.Fatal(err)
	}
	rg.T.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &raw{t: rg.T, conn: c, r: bufio.NewReader(c)}
}
