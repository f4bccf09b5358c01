package msgauth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"mailroom/internal/resolver"
)

// DNSBLResult is one blocklist's answer about the client's address (RFC
// 5782).
type DNSBLResult struct {
	Zone   string
	Listed bool
	Code   netip.Addr // the A record that lists it (127.0.0.x)
	Reason string     // the TXT record, or why the lookup gave nothing
}

// dnsbl asks each configured zone. A failing lookup is "not listed"
// (logged): a blocklist's outage must not hold up or junk mail.
func (c *Checker) dnsbl(ctx context.Context, ip netip.Addr) []DNSBLResult {
	if len(c.opts.DNSBL) == 0 || !ip.IsValid() {
		return nil
	}
	out := make([]DNSBLResult, 0, len(c.opts.DNSBL))
	for _, zone := range c.opts.DNSBL {
		out = append(out, c.dnsblQuery(ctx, ip, strings.Trim(zone, ".")))
	}
	return out
}

func (c *Checker) dnsblQuery(ctx context.Context, ip netip.Addr, zone string) DNSBLResult {
	r := DNSBLResult{Zone: zone}
	name := DNSBLName(ip, zone)
	rrs, err := c.res.Lookup(ctx, name, dns.TypeA)
	if err != nil {
		if !resolver.IsNotFound(err) {
			c.opts.Logger.Warn("blocklist lookup failed, counted as not listed", "zone", zone, "ip", ip.String(), "err", err)
			r.Reason = "lookup failed"
		}
		return r
	}
	for _, rr := range rrs {
		a, ok := netip.AddrFromSlice(rr.(*dns.A).A)
		if !ok {
			continue
		}
		a = a.Unmap()
		// RFC 5782 2.1: listings are 127.0.0.0/8; 127.0.0.1 never is
		// one (section 5). 127.255.255.0/24 is how some lists say
		// "query refused" (e.g. through a public resolver): no listing.
		if !netip.MustParsePrefix("127.0.0.0/8").Contains(a) || a == netip.MustParseAddr("127.0.0.1") ||
			netip.MustParsePrefix("127.255.255.0/24").Contains(a) {
			continue
		}
		r.Listed, r.Code = true, a
		break
	}
	if r.Listed {
		if txts, err := c.res.LookupTXT(ctx, name); err == nil && len(txts) > 0 {
			r.Reason = txts[0]
		}
	}
	return r
}

// DNSBLName is the name asked for ip in zone (RFC 5782 2.1 and 2.4):
// the IPv4 octets, or the IPv6 nibbles, in reverse order.
func DNSBLName(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	var b strings.Builder
	s := ip.AsSlice()
	if ip.Is4() {
		for i := 3; i >= 0; i-- {
			fmt.Fprintf(&b, "%d.", s[i])
		}
	} else {
		for i := 15; i >= 0; i-- {
			fmt.Fprintf(&b, "%x.%x.", s[i]&0xf, s[i]>>4)
		}
	}
	return b.String() + zone
}
