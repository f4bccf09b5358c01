package listener

import (
	"crypto/tls"
	"io"
	"net"
	"time"
)

// How long and how much CloseGracefully reads after its half-close: the
// peer's kernel has our last reply by then, or the peer is not reading.
// (net/http waits 500 ms for the same reason.)
const (
	drainTime  = 500 * time.Millisecond
	drainLimit = 256 << 10
	closeWrite = 5 * time.Second
)

// CloseGracefully closes c so that what was written last (an error reply,
// a BYE) reaches the client. Closing a socket that still has unread input
// makes the kernel send a reset instead of a FIN, and the client's kernel
// may then throw away the reply before the client reads it: a client that
// sent an over-long line saw "connection reset", not the -ERR. So: send
// TLS close_notify and a TCP FIN (half-close), read and discard what the
// client still sends, up to drainLimit bytes or drainTime, then close.
func CloseGracefully(c net.Conn) error {
	c.SetWriteDeadline(time.Now().Add(closeWrite))
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		if tc.ConnectionState().HandshakeComplete {
			tc.CloseWrite() // close_notify; does not half-close the TCP connection
		}
		raw = tc.NetConn()
	}
	if cw := closeWriter(raw); cw != nil {
		cw.CloseWrite()
	}
	// Below TLS: what the client still sends is not for us anyway.
	raw.SetReadDeadline(time.Now().Add(drainTime))
	io.CopyN(io.Discard, raw, drainLimit)
	return c.Close()
}

// closeWriter finds the TCP (or Unix) connection under wrappers that
// expose it through NetConn.
func closeWriter(c net.Conn) interface{ CloseWrite() error } {
	for range 8 {
		switch x := c.(type) {
		case interface{ CloseWrite() error }:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}
