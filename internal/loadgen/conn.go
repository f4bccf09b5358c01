package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Buffer sizes: responses (whole messages) stream through a large reader,
// commands are short.
const (
	readBufSize  = 32 << 10
	writeBufSize = 4 << 10
)

// connError marks a failure of the connection itself (dial, handshake, I/O,
// or a reply so malformed that the session is out of step). It ends the
// session, and the command that hit it has no latency to record.
type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func isConnError(err error) bool {
	var ce *connError
	return errors.As(err, &ce)
}

// conn is one client's connection. A client keeps its conn (and with it the
// bufio buffers) across reconnects, so a new connection per cycle does not
// mean new buffers per cycle.
type conn struct {
	raw     net.Conn // the TCP connection, counted
	nc      net.Conn // what the protocol speaks over: raw, or TLS over raw
	r       *bufio.Reader
	w       *bufio.Writer
	ctx     context.Context
	stop    func() bool // unregisters the context watcher
	timeout time.Duration
	bytes   *int64 // the owning client's byte counter
	broken  bool   // a connError happened: skip the rest of the session
	num     []byte // scratch for formatting numbers
}

// dial connects cl to its server, with TLS first if cl.o.TLS, counting
// traffic into cl.bytes. Cancelling ctx aborts any I/O in progress on the
// connection.
func (c *conn) dial(ctx context.Context, cl *client) error {
	o, tlsConf, bytes := cl.o, cl.tls, &cl.bytes
	c.ctx, c.timeout, c.bytes, c.broken = ctx, o.Timeout, bytes, false
	d := net.Dialer{Timeout: o.Timeout}
	if cl.laddr != nil {
		d.LocalAddr = cl.laddr
	}
	nc, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		c.broken = true
		return &connError{err}
	}
	// Blocking reads and writes do not watch ctx; a deadline in the past
	// wakes them. Capture nc rather than c.raw: the watcher may still run
	// after the next dial has replaced c.raw.
	c.stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	c.raw = &countingConn{Conn: nc, n: bytes}
	c.nc = c.raw
	if c.r == nil {
		c.r = bufio.NewReaderSize(c.nc, readBufSize)
		c.w = bufio.NewWriterSize(c.nc, writeBufSize)
	} else {
		c.r.Reset(c.nc)
		c.w.Reset(c.nc)
	}
	if o.TLS {
		return c.handshake(tlsConf)
	}
	c.arm() // for the greeting
	return nil
}

// startTLS switches to TLS after the server agreed to a STARTTLS command.
func (c *conn) startTLS(tlsConf *tls.Config) error {
	// Bytes already buffered came before the handshake, in plaintext;
	// accepting them would let an attacker inject responses (CVE-2011-0411
	// style), so a well-behaved server sends none.
	if c.r.Buffered() > 0 {
		c.broken = true
		return &connError{errors.New("server sent data after its STARTTLS response")}
	}
	return c.handshake(tlsConf)
}

// handshake arms the deadline itself, so it also covers the greeting after
// implicit TLS.
func (c *conn) handshake(tlsConf *tls.Config) error {
	tc := tls.Client(c.raw, tlsConf)
	c.arm()
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.broken = true
		return &connError{fmt.Errorf("TLS handshake: %w", err)}
	}
	c.nc = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	return nil
}

// close ends the connection without ceremony; the protocol's goodbye (QUIT,
// LOGOUT) is the driver's business.
func (c *conn) close() {
	if c.nc == nil {
		return
	}
	c.stop()
	c.nc.Close()
	c.nc, c.raw = nil, nil
}

// arm sets the deadline for the next step. ctx's end is left to the
// watcher, so that an I/O error caused by it always comes with ctx.Err()
// set. If ctx ended meanwhile, this may just have overwritten the watcher's
// past deadline, so set that again.
func (c *conn) arm() {
	c.raw.SetDeadline(time.Now().Add(c.timeout))
	if c.ctx.Err() != nil {
		c.raw.SetDeadline(time.Unix(1, 0))
	}
}

// put, putInt and send build one command line in the write buffer, then
// send it; none of them allocates.
func (c *conn) put(s string) { c.w.WriteString(s) }

func (c *conn) putInt(n int) {
	c.num = strconv.AppendInt(c.num[:0], int64(n), 10)
	c.w.Write(c.num)
}

// send terminates the command line, arms the deadline (covering the
// response too) and flushes.
func (c *conn) send() error {
	c.w.WriteString("\r\n")
	c.arm()
	if err := c.w.Flush(); err != nil {
		c.broken = true
		return &connError{err}
	}
	return nil
}

// readLine returns the next line without its line end. The slice is only
// valid until the next read.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		c.broken = true
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, &connError{fmt.Errorf("reply line longer than %d bytes", readBufSize)}
		}
		return nil, &connError{fmt.Errorf("reading reply: %w", err)}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// errBareLF reports a dot-terminated response ended by ".\n": RFC 1939 and
// RFC 5321 demand CRLF, and a client that only accepts CRLF would hang.
var errBareLF = errors.New("response terminated by \".\\n\", not \".\\r\\n\"")

// readDotBody reads a dot-terminated multi-line response body (POP3
// RETR/TOP/LIST/UIDL; the same framing as SMTP DATA), undoing byte-stuffing.
// It returns the octets of the un-stuffed body, line ends included, which is
// what a server's size for the message counts. fn, if not nil, sees each
// un-stuffed line with its line end; a line longer than the read buffer
// comes in pieces, and start tells whether a piece begins a line.
//
// A body that ends without its terminating line is a connError; a bare-LF
// terminator is read as one (so the session stays in step) but reported
// as errBareLF.
func (c *conn) readDotBody(fn func(piece []byte, start bool)) (int64, error) {
	var octets int64
	start := true
	for {
		piece, err := c.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			c.broken = true
			return octets, &connError{fmt.Errorf("response body cut short: %w", err)}
		}
		if start && len(piece) > 0 && piece[0] == '.' {
			if err == nil && len(piece) <= 3 {
				switch string(piece) {
				case ".\r\n":
					return octets, nil
				case ".\n":
					return octets, errBareLF
				}
			}
			piece = piece[1:]
		}
		octets += int64(len(piece))
		if fn != nil {
			fn(piece, start)
		}
		start = err == nil
	}
}

// countingConn counts the bytes a connection carries into *n. Only the
// owning client's goroutine reads and writes it, so no atomics.
type countingConn struct {
	net.Conn
	n *int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	*c.n += int64(n)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	*c.n += int64(n)
	return n, err
}
