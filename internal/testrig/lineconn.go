package testrig

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// LineConn is a line-level client connection, for exact protocol checks and
// for what a client library hides or will not send. The IMAP and POP3
// tests build their protocol's commands on it.
type LineConn struct {
	T    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// Dial connects to addr, with TLS from the start if implicitTLS. The
// connection has a deadline, so that a server that stops answering fails
// the test instead of hanging it, and is closed when the test ends.
func Dial(t testing.TB, addr string, implicitTLS bool) *LineConn {
	t.Helper()
	var c net.Conn
	var err error
	if implicitTLS {
		c, err = tls.Dial("tcp", addr, ClientTLS())
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return &LineConn{T: t, Conn: c, R: bufio.NewReader(c)}
}

// Send sends a line; it adds the CRLF.
func (c *LineConn) Send(line string) {
	c.T.Helper()
	if _, err := io.WriteString(c.Conn, line+"\r\n"); err != nil {
		c.T.Fatal(err)
	}
}

// Line reads a line, without its CRLF.
func (c *LineConn) Line() string {
	c.T.Helper()
	l, err := c.R.ReadString('\n')
	if err != nil {
		c.T.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// Expect reads a line, which must start with prefix.
func (c *LineConn) Expect(prefix string) string {
	c.T.Helper()
	l := c.Line()
	if !strings.HasPrefix(l, prefix) {
		c.T.Fatalf("got %q, want %s…", l, prefix)
	}
	return l
}

// StartTLS makes the connection TLS, after the protocol's command for it.
func (c *LineConn) StartTLS() {
	c.T.Helper()
	tc := tls.Client(c.Conn, ClientTLS())
	if err := tc.Handshake(); err != nil {
		c.T.Fatal(err)
	}
	c.Conn, c.R = tc, bufio.NewReader(tc)
}

// Closed reports whether the server closed the connection, waiting up to
// 5 s for it to: a server that sends more, or nothing, has not.
func (c *LineConn) Closed() bool {
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.R.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET)
}
