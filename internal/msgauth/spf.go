package msgauth

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"mailroom/internal/resolver"
)

// SPFResult is the SPF verdict for the MAIL FROM identity, or for the HELO
// identity when MAIL FROM is the null sender (RFC 7208 section 2.4).
type SPFResult struct {
	Result   string // none, neutral, pass, fail, softfail, temperror, permerror
	Identity string // "mailfrom" or "helo"
	Value    string // the address or name checked
	Domain   string // the domain whose policy decided
	Reason   string
}

// SPF is the SPF verdict for mail from ip with that HELO and MAIL FROM,
// as the MX reaches it: `mailroom check` asks it whether a domain's own
// record authorizes this server's address.
func (c *Checker) SPF(ctx context.Context, ip netip.Addr, helo, mailFrom string) SPFResult {
	return c.spf(ctx, ip, helo, mailFrom)
}

// spf checks the client's address against the sender domain's policy.
// The library counts lookups against the limits of RFC 7208 section
// 4.6.4; our resolver bounds each one's time.
func (c *Checker) spf(ctx context.Context, ip netip.Addr, helo, mailFrom string) SPFResult {
	r := SPFResult{Identity: "mailfrom", Value: mailFrom}
	sender := mailFrom
	if mailFrom == "" {
		// RFC 7208 2.4: a null reverse path is checked as
		// postmaster@<HELO>. A HELO that is no domain name (an address
		// literal, a bare word) has no policy to check: none.
		r.Identity, r.Value = "helo", helo
		if !isDomainName(helo) {
			r.Result, r.Reason = "none", "HELO name is not a domain"
			return r
		}
		sender = "postmaster@" + helo
	}
	_, r.Domain, _ = strings.Cut(sender, "@")
	r.Domain = strings.ToLower(r.Domain)
	if !isDomainName(r.Domain) {
		r.Result, r.Reason = "none", "sender domain is not a domain name"
		return r
	}
	res, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), helo, sender,
		spf.WithContext(ctx), spf.WithResolver(spfResolver{c.res}))
	r.Result = string(res)
	if err != nil && res != spf.Pass && err != spf.ErrNoResult {
		r.Reason = err.Error()
	}
	return r
}

// isDomainName reports whether s looks like a host name: dot-separated
// labels of letters, digits, hyphens and underscores (or non-ASCII, for
// IDNs), at least two of them.
func isDomainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, ch := range label {
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch > 0x7f) {
				return false
			}
		}
	}
	return true
}

// spfResolver adapts our resolver to the SPF library, which tells "no
// such domain" from a temporary failure by net.DNSError's flags.
type spfResolver struct{ r Resolver }

// netDNSError turns our resolver's error into the net.DNSError that
// the libraries classify.
func netDNSError(name string, err error) error {
	if err == nil {
		return nil
	}
	nf := resolver.IsNotFound(err)
	return &net.DNSError{Err: err.Error(), Name: name, IsNotFound: nf, IsTemporary: !nf}
}

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := s.r.LookupTXT(ctx, name)
	return txt, netDNSError(name, err)
}

func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := s.r.LookupMX(ctx, name)
	if err != nil {
		return nil, netDNSError(name, err)
	}
	out := make([]*net.MX, 0, len(mxs))
	for _, mx := range mxs {
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	return out, nil
}

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := s.r.LookupIP(ctx, host)
	if err != nil {
		return nil, netDNSError(host, err)
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.IP(ip.AsSlice())})
	}
	return out, nil
}

func (s spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr}
	}
	names, err := s.r.LookupAddr(ctx, ip)
	if err != nil {
		return nil, netDNSError(addr, err)
	}
	for i, n := range names {
		names[i] = n + "." // as net.Resolver returns them
	}
	return names, nil
}
