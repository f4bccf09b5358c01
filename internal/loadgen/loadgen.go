// Package loadgen is a load generator for mail servers: N concurrent
// simulated clients drive any server over SMTP, IMAP, POP3 or JMAP, check every
// answer they get (a load tool that does not verify hides bugs), and report
// throughput, per-command latency percentiles and errors as text or JSON.
//
// The protocol-independent part — options, the client loop, connections
// with TLS and STARTTLS, recording — is shared; a protocol is a driver that
// runs one cycle (a typical client session) at a time. POP3 is in pop3.go,
// IMAP in imap.go, SMTP in smtp.go, JMAP over HTTP in jmap.go (with its
// push probes, which run beside the clients, in jmappush.go).
package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Options are the settings every protocol shares.
type Options struct {
	Addr     string // host:port
	TLS      bool   // implicit TLS (e.g. 995)
	StartTLS bool   // upgrade with the protocol's STARTTLS command after the greeting
	Insecure bool   // skip certificate verification (self-signed test servers)
	// Users is the username pattern with one %d, e.g. "user%d@example.test".
	Users string
	// Users UserFirst..UserFirst+UserCount-1 are used (defaults 1 and
	// Clients). Client i takes turns, cycle by cycle, with users i,
	// i+Clients, i+2*Clients, …, so with UserCount >= Clients no user is in
	// two sessions at once (POP3 servers lock the maildrop); with fewer
	// users, clients share them.
	UserFirst, UserCount int
	Password             string
	Clients              int           // concurrent clients (default 1)
	Duration             time.Duration // run time; 0 with Cycles set: until Cycles are done
	Cycles               int           // optional: stop after this many cycles in total
	// Timeout bounds each network step (dial, handshake, one command and
	// its response), so a stuck server costs an error, not the run
	// (default 30s).
	Timeout time.Duration
	// LocalAddrs are optional source IP addresses: client i dials from
	// LocalAddrs[i%len(LocalAddrs)]. A server's per-address connection
	// limit (Mailroom's IMAP: 100) caps what one address can open; on
	// Linux every 127.x.y.z is local, so a list of loopback addresses
	// spreads thousands of connections to a server on 127.0.0.1.
	LocalAddrs []string
}

const defaultTimeout = 30 * time.Second

// normalized returns o with defaults filled in, or why it cannot run.
func (o Options) normalized() (Options, error) {
	if o.Addr == "" {
		return o, errors.New("loadgen: no server address")
	}
	if o.TLS && o.StartTLS {
		return o, errors.New("loadgen: TLS and StartTLS are exclusive")
	}
	if strings.Count(o.Users, "%") != 1 || !strings.Contains(o.Users, "%d") {
		return o, fmt.Errorf("loadgen: user pattern %q needs exactly one %%d", o.Users)
	}
	if o.Clients <= 0 {
		o.Clients = 1
	}
	if o.UserFirst == 0 {
		o.UserFirst = 1
	}
	if o.UserCount <= 0 {
		o.UserCount = o.Clients
	}
	if o.Duration < 0 || o.Cycles < 0 {
		return o, errors.New("loadgen: negative Duration or Cycles")
	}
	if o.Duration == 0 && o.Cycles == 0 {
		return o, errors.New("loadgen: set Duration or Cycles, or the run never ends")
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	for _, a := range o.LocalAddrs {
		if _, err := netip.ParseAddr(a); err != nil {
			return o, fmt.Errorf("loadgen: local address: %w", err)
		}
	}
	return o, nil
}

// localAddr returns the address client i dials from, nil for any.
func (o *Options) localAddr(i int) *net.TCPAddr {
	if len(o.LocalAddrs) == 0 {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(o.LocalAddrs[i%len(o.LocalAddrs)]), 0))
}

// usersOf returns the usernames client i takes turns with (see UserCount).
// Keeping users apart matters: a POP3 server answers a second login to a
// locked maildrop with -ERR, and IMAP servers serialise a mailbox's writers.
func (o *Options) usersOf(i int) []string {
	var names []string
	for u := i; u < o.UserCount; u += o.Clients {
		names = append(names, fmt.Sprintf(o.Users, o.UserFirst+u))
	}
	if names == nil {
		names = []string{fmt.Sprintf(o.Users, o.UserFirst+i%o.UserCount)}
	}
	return names
}
