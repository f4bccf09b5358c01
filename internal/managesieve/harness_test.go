package managesieve

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/testrig"
)

const password = testrig.Password

// rig is a real Mailroom (store, TLS, auth, ManageSieve on a loopback
// port) with the account ann@example.test.
type rig struct{ *testrig.Rig }

func newRig(t testing.TB, opts ...testrig.Option) *rig {
	t.Helper()
	r := &rig{testrig.Start(t, testrig.Factories{"managesieve": Factory()}, opts...)}
	r.Account("ann@example.test")
	return r
}

// conn is a line-level ManageSieve client, for exact answers and for
// what client libraries will not send.
type conn struct {
	*testrig.LineConn
	caps map[string]string // the last capability block
}

// dial connects and reads the greeting's capabilities.
func (r *rig) dial() *conn {
	r.T.Helper()
	c := &conn{LineConn: testrig.Dial(r.T, r.Addr("managesieve"), false)}
	c.readCaps()
	return c
}

// readCaps reads a capability block and its OK.
func (c *conn) readCaps() {
	c.T.Helper()
	c.caps = map[string]string{}
	for {
		l := c.Line()
		if strings.HasPrefix(l, "OK") {
			return
		}
		if !strings.HasPrefix(l, `"`) {
			c.T.Fatalf("capability line %q", l)
		}
		name, value, _ := strings.Cut(l, " ")
		c.caps[strings.Trim(name, `"`)] = strings.Trim(value, `"`)
	}
}

// startTLS upgrades the connection and reads the new capabilities.
func (c *conn) startTLS() {
	c.T.Helper()
	c.Send("STARTTLS")
	c.Expect("OK")
	c.StartTLS()
	c.readCaps()
}

// plain is a SASL PLAIN initial response, base64.
func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// login connects with STARTTLS and logs in as email.
func (r *rig) login(email string) *conn {
	r.T.Helper()
	c := r.dial()
	c.startTLS()
	c.cmd(`AUTHENTICATE "PLAIN" "`+plain(email, password)+`"`, "OK")
	return c
}

// cmd sends a command and checks its one-line answer's start.
func (c *conn) cmd(line, prefix string) string {
	c.T.Helper()
	c.Send(line)
	return c.Expect(prefix)
}

// put uploads a script with a non-synchronising literal and returns the
// answer.
func (c *conn) put(name, script string) string {
	c.T.Helper()
	c.Send(fmt.Sprintf("PUTSCRIPT %q {%d+}\r\n%s", name, len(script), script))
	return c.Line()
}

// get downloads a script, which must exist.
func (c *conn) get(name string) string {
	c.T.Helper()
	c.Send(fmt.Sprintf("GETSCRIPT %q", name))
	body := c.literal()
	if l := c.Line(); l != "" {
		c.T.Fatalf("literal followed by %q, want CRLF", l)
	}
	c.Expect("OK")
	return body
}

// literal reads a {N} line and its N octets.
func (c *conn) literal() string {
	c.T.Helper()
	l := c.Line()
	if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
		c.T.Fatalf("want a literal, got %q", l)
	}
	n, err := strconv.Atoi(strings.Trim(l, "{}+"))
	if err != nil {
		c.T.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.R, buf); err != nil {
		c.T.Fatal(err)
	}
	return string(buf)
}

// list returns LISTSCRIPTS's lines, without the OK.
func (c *conn) list() []string {
	c.T.Helper()
	c.Send("LISTSCRIPTS")
	var out []string
	for {
		l := c.Line()
		if l == "OK" {
			return out
		}
		out = append(out, l)
	}
}

const vacation = "require [\"vacation\"];\r\nvacation :days 7 \"I am away.\";\r\n"

// base64PLAIN is a PLAIN response with an authorization identity.
func base64PLAIN(identity, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(identity + "\x00" + user + "\x00" + pass))
}

func authHash(pw string) (auth.Credentials, error) {
	return auth.HashPassword(pw, testrig.HashParams())
}
