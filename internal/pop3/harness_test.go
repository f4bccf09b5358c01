package pop3

import (
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

const password = testrig.Password

// rig is a real Mailroom (store, TLS, auth, POP3 on 110-style STLS and
// 995-style implicit TLS listeners) on loopback.
type rig struct{ *testrig.Rig }

// newRig starts the rig; tweak, if not nil, changes the configuration.
func newRig(t testing.TB, tweak func(*config.Config)) *rig {
	t.Helper()
	var opts []testrig.Option
	if tweak != nil {
		opts = append(opts, testrig.Config(tweak))
	}
	return &rig{testrig.Start(t, testrig.Factories{"pop3": Factory()}, opts...)}
}

func message(subject, body string) string {
	return "From: a@remote.example\r\nTo: ann@example.test\r\nSubject: " + subject + "\r\n\r\n" + body
}

// client is a line-level POP3 client.
type client struct{ *testrig.LineConn }

// dial connects and reads the greeting.
func (r *rig) dial(addr string, implicitTLS bool) *client {
	r.T.Helper()
	c := &client{testrig.Dial(r.T, addr, implicitTLS)}
	c.Expect("+OK")
	return c
}

// login connects with STLS and logs in with USER/PASS.
func (r *rig) login(email string) *client {
	r.T.Helper()
	c := r.dial(r.Addr("pop3"), false)
	c.cmd("STLS", "+OK")
	c.StartTLS()
	c.cmd("USER "+email, "+OK")
	c.cmd("PASS "+password, "+OK")
	return c
}

// cmd sends a command and checks the first line of the reply.
func (c *client) cmd(line, prefix string) string {
	c.T.Helper()
	c.Send(line)
	return c.Expect(prefix)
}

// multi reads a multi-line body after a +OK line, undoing byte-stuffing;
// it returns the exact octets (CRLF line ends kept).
func (c *client) multi() string {
	c.T.Helper()
	var b strings.Builder
	for {
		l, err := c.R.ReadString('\n')
		if err != nil {
			c.T.Fatalf("read: %v", err)
		}
		if l == ".\r\n" {
			return b.String()
		}
		if !strings.HasSuffix(l, "\r\n") {
			c.T.Fatalf("line without CRLF: %q", l)
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}
