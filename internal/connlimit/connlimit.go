// Package connlimit caps how many connections a listener serves at once, in
// total and per client address, so that one client (or a flood of them)
// cannot use up the server's file descriptors, memory and goroutines.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits are the caps on concurrent connections. Zero or negative means
// unlimited.
type Limits struct {
	// Total caps the connections served by the listener.
	Total int
	// PerIP caps the connections from one client address. IPv6 clients are
	// grouped by /64, which is what a single subscriber is usually given:
	// counting per address would let one client rotate through 2^64.
	PerIP int
}

// The reasons passed to a reject function.
const (
	ReasonTotal = "too many connections"
	ReasonPerIP = "too many connections from your address"
)

const (
	// maxRejecting bounds the goroutines writing refusals at any one time.
	// Past it, connections over a limit are closed without a word: under a
	// flood, a polite refusal is not worth a goroutine and a descriptor each.
	maxRejecting = 64
	// rejectDeadline is set on a connection before it is handed to reject,
	// so that a reject function that forgets to set one cannot hold a
	// slot in maxRejecting for ever.
	rejectDeadline = 5 * time.Second
)

// Listener is a net.Listener whose Accept returns only connections within
// its Limits. It is safe for concurrent use.
type Listener struct {
	net.Listener
	limits Limits
	reject func(c net.Conn, reason string)

	// rejecting is a semaphore of maxRejecting slots (replaceable in tests).
	rejecting chan struct{}

	mu    sync.Mutex
	total int
	perIP map[netip.Prefix]int
}

// NewListener wraps ln. Accept returns only connections within l. A
// connection over a limit is handed to reject (nil: none) in its own
// goroutine, so that a slow client cannot stall Accept, and closed when
// reject returns; Accept goes on waiting meanwhile. reject may write a
// protocol-specific refusal such as SMTP's "421 4.7.0 Too many connections
// from your address"; the connection already has a deadline of a few
// seconds, which reject may shorten. reason is ReasonTotal or ReasonPerIP.
//
// Closing an accepted connection frees its slot. Closing the Listener does
// not close connections already accepted.
func NewListener(ln net.Listener, l Limits, reject func(c net.Conn, reason string)) *Listener {
	return &Listener{
		Listener:  ln,
		limits:    l,
		reject:    reject,
		rejecting: make(chan struct{}, maxRejecting),
		perIP:     make(map[netip.Prefix]int),
	}
}

// Accept waits for and returns the next connection within the limits. The
// connection's Close frees its slot; its NetConn method returns the
// connection ln accepted.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, perIP := clientKey(c.RemoteAddr())
		if reason := l.acquire(key, perIP); reason != "" {
			l.refuse(c, reason)
			continue
		}
		return &conn{Conn: c, l: l, key: key, perIP: perIP}, nil
	}
}

// Stats returns the number of connections being served, in total and per
// client address ("192.0.2.1", or "2001:db8::/64" for IPv6).
func (l *Listener) Stats() (total int, perIP map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	perIP = make(map[string]int, len(l.perIP))
	for k, n := range l.perIP {
		if k.Addr().Is4() {
			perIP[k.Addr().String()] = n
		} else {
			perIP[k.String()] = n
		}
	}
	return l.total, perIP
}

// acquire takes a slot for a client with key, or returns why it cannot.
func (l *Listener) acquire(key netip.Prefix, perIP bool) (reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.Total > 0 && l.total >= l.limits.Total {
		return ReasonTotal
	}
	if perIP && l.limits.PerIP > 0 && l.perIP[key] >= l.limits.PerIP {
		return ReasonPerIP
	}
	l.total++
	if perIP {
		l.perIP[key]++
	}
	return ""
}

func (l *Listener) release(key netip.Prefix, perIP bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if perIP {
		// Delete at zero so that the map only holds current clients.
		if l.perIP[key]--; l.perIP[key] <= 0 {
			delete(l.perIP, key)
		}
	}
}

// refuse hands c to reject in a goroutine, or closes it at once if too many
// refusals are already being written.
func (l *Listener) refuse(c net.Conn, reason string) {
	if l.reject == nil {
		c.Close()
		return
	}
	select {
	case l.rejecting <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.rejecting }()
		defer c.Close()
		// An error here means the connection is already unusable; reject
		// will find out, and it is closed right after anyway.
		_ = c.SetDeadline(time.Now().Add(rejectDeadline))
		l.reject(c, reason)
	}()
}

// clientKey returns the unit addr is limited by: the IPv4 address or the
// IPv6 /64. perIP is false for addresses that are not IP (a Unix socket):
// those are only subject to the total limit.
func clientKey(addr net.Addr) (key netip.Prefix, perIP bool) {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	default:
		if addr == nil {
			return netip.Prefix{}, false
		}
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return netip.Prefix{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}
