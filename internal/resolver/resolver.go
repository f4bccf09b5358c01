// Package resolver asks recursive DNS servers directly, rather than through
// the system resolver, because mail needs what net.Resolver hides: the
// difference between NXDOMAIN (bounce, or "none" for SPF and DMARC), no
// records (implicit MX) and SERVFAIL or timeouts (retry later, or a
// "temperror" result that never rejects mail).
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// DNS query parameters.
const (
	// dnsAttempts is how many rounds over all servers a query gets before
	// it fails as temporary.
	dnsAttempts = 2
	// ednsSize is the UDP payload size we advertise: the DNS flag day 2020
	// value, small enough to avoid IP fragmentation, large enough that most
	// MX answers need no TCP.
	ednsSize = 1232
	// maxCNAMEHops bounds alias chains, which may loop.
	maxCNAMEHops = 8
)

// Resolver sends queries to the configured recursive servers. It is safe
// for concurrent use.
type Resolver struct {
	servers []string
	timeout time.Duration
	err     error // why there are no servers
}

// New returns a Resolver asking servers ("host:port") in turn, or those of
// /etc/resolv.conf if servers is empty, each query waiting at most timeout
// (5 s if zero). A missing configuration shows up as a temporary failure of
// every lookup, so that mail waits while the operator fixes it.
func New(servers []string, timeout time.Duration) *Resolver {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	r := &Resolver{servers: servers, timeout: timeout}
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			r.err = fmt.Errorf("reading resolver configuration: %w", err)
			return r
		}
		for _, s := range cc.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
		}
		if len(r.servers) == 0 {
			r.err = errors.New("no nameservers in /etc/resolv.conf")
		}
	}
	return r
}

// Error is a failed lookup: NXDOMAIN (NotFound) or a temporary failure.
type Error struct {
	Name     string
	Qtype    uint16
	NotFound bool // NXDOMAIN: the name does not exist
	Err      error
}

func (e *Error) Error() string {
	what := "temporary failure"
	if e.NotFound {
		what = "no such domain"
	}
	s := fmt.Sprintf("DNS %s lookup of %s: %s", dns.TypeToString[e.Qtype], e.Name, what)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err says the name does not exist (NXDOMAIN).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NotFound
}

// IsTemporary reports whether err is a failure that asking again later may
// cure: anything but NXDOMAIN.
func IsTemporary(err error) bool {
	return err != nil && !IsNotFound(err)
}

// query sends one question to the servers in turn until one answers with
// NOERROR or NXDOMAIN, retrying truncated UDP answers over TCP. secure
// asks for DNSSEC (the DO and AD bits, dnssec.go).
func (r *Resolver) query(ctx context.Context, name string, qtype uint16, secure bool) (*dns.Msg, error) {
	if r.err != nil {
		return nil, &Error{Name: name, Qtype: qtype, Err: r.err}
	}
	var last error
	for range dnsAttempts {
		for _, srv := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, &Error{Name: name, Qtype: qtype, Err: err}
			}
			resp, err := r.exchange(ctx, srv, name, qtype, secure)
			if err != nil {
				last = err
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return resp, nil
			}
			// SERVFAIL is also how a validating resolver reports a
			// bogus answer: a temporary failure, never "no records".
			last = fmt.Errorf("%s from %s", dns.RcodeToString[resp.Rcode], srv)
		}
	}
	return nil, &Error{Name: name, Qtype: qtype, Err: last}
}

func (r *Resolver) exchange(ctx context.Context, srv, name string, qtype uint16, secure bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = secure
	m.SetEdns0(ednsSize, secure)
	c := &dns.Client{Net: "udp", Timeout: r.timeout, UDPSize: ednsSize}
	resp, _, err := c.ExchangeContext(ctx, m, srv)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, srv)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", srv, err)
	}
	// The client matched the ID; the question must match too, or a
	// stray answer could route mail.
	if len(resp.Question) != 1 || resp.Question[0].Qtype != qtype ||
		!strings.EqualFold(resp.Question[0].Name, m.Question[0].Name) {
		return nil, fmt.Errorf("%s: answer does not match the question", srv)
	}
	return resp, nil
}

// Lookup returns name's records of type qtype, following CNAMEs. No
// records and no error means the name exists without such records.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	rrs, _, err := r.lookup(ctx, name, qtype, false)
	return rrs, err
}

// lookup is Lookup, with DNSSEC if secure (LookupSecure): authenticated
// reports whether every answer used, each step of a CNAME chain included,
// had the AD bit.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16, secure bool) (rrs []dns.RR, authenticated bool, err error) {
	name = dns.Fqdn(name)
	authenticated = secure
	for range maxCNAMEHops {
		resp, err := r.query(ctx, name, qtype, secure)
		if err != nil {
			return nil, false, err
		}
		authenticated = authenticated && resp.AuthenticatedData
		// A recursive server answers with the chain and the records
		// at its end; follow it within the answer first.
		target := name
		for range maxCNAMEHops {
			next := ""
			for _, rr := range resp.Answer {
				if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, target) {
					next = c.Target
				}
			}
			if next == "" {
				break
			}
			target = next
		}
		for _, rr := range resp.Answer {
			if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, target) {
				rrs = append(rrs, rr)
			}
		}
		if len(rrs) > 0 {
			return rrs, authenticated, nil
		}
		if resp.Rcode == dns.RcodeNameError {
			return nil, authenticated, &Error{Name: strings.TrimSuffix(target, "."), Qtype: qtype, NotFound: true}
		}
		if strings.EqualFold(target, name) {
			return nil, authenticated, nil
		}
		// The server stopped at an alias: ask for its target.
		name = target
	}
	return nil, false, &Error{Name: name, Qtype: qtype, Err: errors.New("CNAME chain too long")}
}

// LookupMX returns domain's MX records.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]*dns.MX, error) {
	rrs, err := r.Lookup(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	mxs := make([]*dns.MX, 0, len(rrs))
	for _, rr := range rrs {
		mxs = append(mxs, rr.(*dns.MX))
	}
	return mxs, nil
}

// LookupIP returns host's IPv6 and IPv4 addresses, interleaved starting
// with IPv6, so that a host whose IPv6 is broken costs one failed attempt
// before an IPv4 one, not all of them. The two queries run concurrently.
// It fails only if neither family gives an address.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	var (
		wg         sync.WaitGroup
		v6, v4     []netip.Addr
		err6, err4 error
	)
	wg.Go(func() { v6, err6 = r.addrs(ctx, host, dns.TypeAAAA) })
	v4, err4 = r.addrs(ctx, host, dns.TypeA)
	wg.Wait()
	if len(v6)+len(v4) == 0 {
		// A temporary failure may have hidden addresses: it wins over
		// NXDOMAIN, which wins over no records.
		for _, err := range []error{err6, err4} {
			if err != nil && !IsNotFound(err) {
				return nil, err
			}
		}
		if err4 != nil {
			return nil, err4
		}
		return nil, err6
	}
	out := make([]netip.Addr, 0, len(v6)+len(v4))
	for i := 0; i < len(v6) || i < len(v4); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out, nil
}

func (r *Resolver) addrs(ctx context.Context, host string, qtype uint16) ([]netip.Addr, error) {
	rrs, err := r.Lookup(ctx, host, qtype)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, rr := range rrs {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// LookupTXT returns name's TXT records, each one's strings joined (RFC 7208
// section 3.3 and RFC 6376 section 3.6.2.2 read a record that way).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

// LookupAddr returns the names an address's PTR records point to, without
// the trailing dot.
func (r *Resolver) LookupAddr(ctx context.Context, ip netip.Addr) ([]string, error) {
	name, err := dns.ReverseAddr(ip.Unmap().String())
	if err != nil {
		return nil, &Error{Name: ip.String(), Qtype: dns.TypePTR, Err: err}
	}
	rrs, err := r.Lookup(ctx, name, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
	}
	return out, nil
}
