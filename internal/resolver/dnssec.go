package resolver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Secure lookups serve DANE (RFC 7672), which may trust an answer only if
// a validating resolver vouched for it. Mailroom does not validate DNSSEC
// itself: it asks the configured recursive resolver, which must validate
// and be reached over a path the operator trusts (loopback, as RFC 7672
// section 8 advises), and believes its AD bit.

// LookupSecure is Lookup with DNSSEC: it sets the DO bit (and AD, RFC 6840
// section 5.7) and reports whether the resolver marked every answer it
// used as authenticated. A CNAME chain is secure only if every step is.
// NXDOMAIN is returned as an error, with authenticated telling whether the
// denial itself was validated.
func (r *Resolver) LookupSecure(ctx context.Context, name string, qtype uint16) (rrs []dns.RR, authenticated bool, err error) {
	return r.lookup(ctx, name, qtype, true)
}

// LookupMXSecure is LookupMX, also reporting whether the answer (or the
// denial) was DNSSEC-authenticated.
func (r *Resolver) LookupMXSecure(ctx context.Context, domain string) ([]*dns.MX, bool, error) {
	rrs, secure, err := r.LookupSecure(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, secure, err
	}
	mxs := make([]*dns.MX, 0, len(rrs))
	for _, rr := range rrs {
		mxs = append(mxs, rr.(*dns.MX))
	}
	return mxs, secure, nil
}

// LookupIPSecure is LookupIP, also reporting whether both address lookups
// were DNSSEC-authenticated (RFC 7672 section 2.2.2 looks up TLSA records
// only for hosts whose addresses are), and the name at the end of any
// CNAME chain ("" if host is no alias), which DANE uses as the TLSA base
// domain when the chain is secure.
func (r *Resolver) LookupIPSecure(ctx context.Context, host string) (addrs []netip.Addr, secure bool, canonical string, err error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, false, "", nil
	}
	secure = true
	var v4, v6 []netip.Addr
	var errs [2]error
	// The two questions go out at once, as in LookupIP.
	var (
		wg      sync.WaitGroup
		answers [2][]dns.RR
		oks     [2]bool
		qerrs   [2]error
	)
	qtypes := []uint16{dns.TypeAAAA, dns.TypeA}
	for i, qtype := range qtypes {
		wg.Go(func() { answers[i], oks[i], qerrs[i] = r.LookupSecure(ctx, host, qtype) })
	}
	wg.Wait()
	for i := range qtypes {
		rrs, ok, err := answers[i], oks[i], qerrs[i]
		if err != nil && !IsNotFound(err) {
			errs[i] = err
			secure = false
			continue
		}
		secure = secure && ok
		for _, rr := range rrs {
			if name := strings.TrimSuffix(rr.Header().Name, "."); !strings.EqualFold(name, strings.TrimSuffix(host, ".")) {
				canonical = strings.ToLower(name)
			}
			switch rr := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(rr.A); ok {
					v4 = append(v4, a.Unmap())
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(rr.AAAA); ok {
					v6 = append(v6, a.Unmap())
				}
			}
		}
		if err != nil {
			errs[i] = err
		}
	}
	for i := 0; i < len(v6) || i < len(v4); i++ {
		if i < len(v6) {
			addrs = append(addrs, v6[i])
		}
		if i < len(v4) {
			addrs = append(addrs, v4[i])
		}
	}
	if len(addrs) == 0 {
		for _, err := range errs {
			if err != nil && !IsNotFound(err) {
				return nil, false, "", err
			}
		}
		if errs[1] != nil {
			return nil, secure, "", errs[1]
		}
		return nil, secure, "", errs[0]
	}
	return addrs, secure, canonical, nil
}

// LookupTLSA returns the TLSA records of a TCP service of host (RFC 6698:
// "_25._tcp.mx.example.org") and whether they are authenticated.
func (r *Resolver) LookupTLSA(ctx context.Context, port int, host string) ([]*dns.TLSA, bool, error) {
	rrs, secure, err := r.LookupSecure(ctx, fmt.Sprintf("_%d._tcp.%s", port, strings.TrimSuffix(host, ".")), dns.TypeTLSA)
	if err != nil {
		return nil, secure, err
	}
	out := make([]*dns.TLSA, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.TLSA))
	}
	return out, secure, nil
}
