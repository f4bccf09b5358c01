package imap

import (
	"bufio"
	"compress/flate"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingReader counts the bytes that crossed the wire.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// deflateConn writes a DEFLATE stream, flushed after every write, as a
// COMPRESS=DEFLATE client does.
type deflateConn struct {
	net.Conn
	fw *flate.Writer
}

func (c *deflateConn) Write(p []byte) (int, error) {
	n, err := c.fw.Write(p)
	if err != nil {
		return n, err
	}
	return n, c.fw.Flush()
}

// compress runs COMPRESS DEFLATE on x and switches x to the DEFLATE
// streams; it returns the count of compressed bytes read from then on.
func (x *raw) compress(t *testing.T) *countingReader {
	t.Helper()
	x.cmd("z", "COMPRESS DEFLATE", "OK")
	fw, err := flate.NewWriter(x.Conn, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	wire := &countingReader{r: x.Conn}
	x.Conn = &deflateConn{Conn: x.Conn, fw: fw}
	x.R = bufio.NewReader(flate.NewReader(wire))
	return wire
}

// COMPRESS=DEFLATE (RFC 4978): offered once logged in, then every command
// and response crosses as DEFLATE — a large FETCH much smaller than the
// message — and a second COMPRESS is refused with COMPRESSIONACTIVE.
func TestCompressDeflate(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	line := "The quarterly minutes, once more, for the record.\r\n"
	r.Deliver(acct, "Subject: minutes\r\n\r\n"+strings.Repeat(line, 2000))

	x := r.raw(true)
	if caps := x.cmd("c0", "CAPABILITY", "OK"); has(caps, "COMPRESS=DEFLATE") {
		t.Errorf("COMPRESS offered before login: %q", caps)
	}
	x.cmd("c1", "COMPRESS DEFLATE", "BAD") // not valid before authentication
	x.cmd("l", `LOGIN ann@example.test "`+password+`"`, "OK")
	if caps := x.cmd("c2", "CAPABILITY", "OK"); !has(caps, "COMPRESS=DEFLATE") {
		t.Fatalf("COMPRESS not offered after login: %q", caps)
	}
	x.cmd("c3", "COMPRESS X-UNKNOWN", "BAD")
	x.cmd("n", "NOOP", "OK") // still uncompressed after a refusal

	wire := x.compress(t)
	x.cmd("s", "SELECT INBOX", "OK")
	lines := x.cmd("f", "FETCH 1 BODY[TEXT]", "OK")
	if got := strings.Count(strings.Join(lines, "\n"), "The quarterly minutes"); got != 2000 {
		t.Fatalf("FETCH over DEFLATE returned %d of the 2000 lines", got)
	}
	size := int64(len(line) * 2000)
	if n := wire.n.Load(); n > size/5 {
		t.Errorf("%d bytes on the wire for a %d-byte body: not compressed", n, size)
	}
	if l := x.cmd("z2", "COMPRESS DEFLATE", "NO"); !has(l, "[COMPRESSIONACTIVE]") {
		t.Errorf("second COMPRESS: %q", l)
	}
	x.cmd("o", "LOGOUT", "OK")
}

// Responses pushed while the client waits (IDLE) are flushed through the
// DEFLATE stream at once, not held until a deflate block fills.
func TestCompressIdlePush(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	x := r.login("ann@example.test")
	x.compress(t)
	x.cmd("s", "SELECT INBOX", "OK")
	x.Send("i IDLE")
	x.Expect("+")
	r.Deliver(acct, "Subject: new\r\n\r\nhello\r\n")
	x.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for l := x.Line(); l != "* 1 EXISTS"; l = x.Line() {
		if !strings.HasPrefix(l, "* ") {
			t.Fatalf("in IDLE over DEFLATE, waiting for EXISTS: %q", l)
		}
	}
	x.Send("DONE")
	for l := x.Line(); !strings.HasPrefix(l, "i "); l = x.Line() {
	}
}
