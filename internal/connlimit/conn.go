package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// conn is an accepted connection holding a slot of its Listener until it is
// closed.
type conn struct {
	net.Conn
	l     *Listener
	key   netip.Prefix
	perIP bool
	once  sync.Once
}

// Close closes the connection and frees its slot. The slot is freed exactly
// once however often Close is called (TLS and protocol code may both close),
// and only after the underlying connection is closed, so a new client never
// gets a slot while the old descriptor is still open.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key, c.perIP) })
	return err
}

// NetConn returns the connection the wrapped listener accepted, for code that
// needs its concrete type (e.g. *net.TCPConn for keep-alive settings). Do not
// close it directly: that would not free the slot.
func (c *conn) NetConn() net.Conn {
	return c.Conn
}
