package remote

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/idna"

	"mailroom/internal/resolver"
	"mailroom/internal/tlsrpt"
)

// mxHost is a mail exchanger to try.
type mxHost struct {
	name  string       // A-label, no trailing dot; "[addr]" for a literal
	pref  uint16       // MX preference
	addrs []netip.Addr // set for address literals; looked up otherwise
}

// route returns the hosts to try for domain, best first (RFC 5321 section
// 5.1), or the failure that settles every recipient. implicit reports that
// the domain has no MX records and is its own mail host. secure reports
// that the MX answer was DNSSEC-authenticated, which DANE needs (RFC 7672
// section 2.2.1).
func (c *Client) route(ctx context.Context, domain string) (hosts []mxHost, implicit, secure bool, f *failure) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if strings.HasPrefix(domain, "[") {
		hosts, f := literalRoute(domain)
		return hosts, false, false, f
	}
	name, err := idna.Lookup.ToASCII(domain)
	if err != nil || name == "" {
		return nil, false, false, localFailure(true, "5.1.2", "invalid destination domain %q: %v", domain, err)
	}
	mxs, secure, err := c.res.LookupMXSecure(ctx, name)
	if err != nil {
		if resolver.IsNotFound(err) {
			return nil, false, false, localFailure(true, "5.1.2", "domain %s does not exist", name)
		}
		return nil, false, false, localFailure(false, "4.4.3", "%v", err)
	}
	if len(mxs) == 1 && mxs[0].Mx == "." {
		// RFC 7505 section 3: the domain accepts no mail; the status is
		// the one section 4.3 gives for it.
		return nil, false, false, localFailure(true, "5.1.10", "domain %s does not accept mail (null MX)", name)
	}
	for _, mx := range mxs {
		// A "." among other MX records is a misconfiguration; it
		// names no host, so it is skipped.
		if host := strings.ToLower(strings.TrimSuffix(mx.Mx, ".")); host != "" {
			hosts = append(hosts, mxHost{name: host, pref: mx.Preference})
		}
	}
	if len(mxs) == 0 {
		implicit = true
		hosts = []mxHost{{name: name}}
	}
	// RFC 5321 section 5.1: equal preferences MUST be tried in random
	// order to spread the load. Shuffle, then sort stably; a host listed
	// twice keeps its best place.
	rand.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	slices.SortStableFunc(hosts, func(a, b mxHost) int { return cmp.Compare(a.pref, b.pref) })
	seen := map[string]bool{}
	hosts = slices.DeleteFunc(hosts, func(h mxHost) bool {
		dup := seen[h.name]
		seen[h.name] = true
		return dup
	})

	// RFC 5321 section 5.1: if we are one of the MX hosts, only the
	// more preferred ones may take the message, or it would come back to
	// us or go to a backup that sends it to us again.
	if i := slices.IndexFunc(hosts, func(h mxHost) bool { return h.name == c.hostname }); i >= 0 {
		own := hosts[i].pref
		hosts = slices.DeleteFunc(hosts, func(h mxHost) bool { return h.pref >= own })
		if len(hosts) == 0 {
			return nil, false, false, localFailure(true, "5.4.6", "mail for %s loops back to myself", name)
		}
	}
	return hosts, implicit, secure, nil
}

// literalRoute routes to an address literal such as "[192.0.2.1]" or
// "[IPv6:2001:db8::1]" (RFC 5321 section 4.1.3).
func literalRoute(domain string) ([]mxHost, *failure) {
	inner := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]")
	v6, isV6 := strings.CutPrefix(inner, "ipv6:")
	ip, err := netip.ParseAddr(v6)
	if err != nil || !strings.HasSuffix(domain, "]") || ip.Is6() != isV6 || ip.Zone() != "" {
		return nil, localFailure(true, "5.1.2", "invalid address literal %s", domain)
	}
	return []mxHost{{name: domain, addrs: []netip.Addr{ip}}}, nil
}

// viaMX delivers through domain's mail exchangers, trying each address of
// each host in turn until one answers for the message. Each host's TLS
// follows the strongest policy that covers it: DANE, then MTA-STS, then
// opportunistic TLS (policy.go).
func (c *Client) viaMX(ctx context.Context, d *delivery, domain string, log *slog.Logger) {
	hosts, implicit, mxSecure, f := c.route(ctx, domain)
	if f != nil {
		log.Info("no route", "reason", f.Error())
		d.settleAll(f, "", false)
		return
	}
	dp := c.domainPolicy(ctx, domain, log)
	t := c.tryHosts(ctx, d, hosts, mxSecure, dp, log)
	if t.done {
		return
	}
	// RFC 8461 section 5.1: before an enforced policy from the cache
	// holds mail back, make sure it is still the domain's policy.
	if t.heldBySTS && dp.cached && ctx.Err() == nil && c.refreshPolicy(ctx, dp, log) {
		if t = c.tryHosts(ctx, d, hosts, mxSecure, dp, log); t.done {
			return
		}
	}
	switch {
	case t.last != nil:
		d.settleAll(t.last.failure.temporary(), t.lastHost, t.last.tls)
	case t.dnsFail != nil:
		d.settleAll(t.dnsFail, "", false)
	case implicit:
		d.settleAll(localFailure(true, "5.1.2", "domain %s has neither MX nor address records", hosts[0].name), "", false)
	default:
		// RFC 5321 section 5.1: MX records none of which is usable
		// MUST be reported as an error.
		d.settleAll(localFailure(true, "5.4.4", "no mail exchanger of %s has an address", domain), "", false)
	}
}

// tried is how a round over the MX hosts ended.
type tried struct {
	done      bool         // every recipient is settled
	last      *hostFailure // the last server's failure
	lastHost  string
	dnsFail   *failure // a temporary failure to look up a host
	heldBySTS bool     // an enforced MTA-STS policy refused a host
}

// tryHosts tries the hosts in order until one takes the message.
func (c *Client) tryHosts(ctx context.Context, d *delivery, hosts []mxHost, mxSecure bool, dp *destPolicy, log *slog.Logger) tried {
	var t tried
	for _, h := range hosts {
		addrs := h.addrs
		addrSecure, canonical := false, ""
		if addrs == nil {
			var err error
			addrs, addrSecure, canonical, err = c.res.LookupIPSecure(ctx, h.name)
			if err != nil {
				log.Info("MX host lookup failed", "mx", h.name, "err", err)
				if t.dnsFail == nil && !resolver.IsNotFound(err) {
					t.dnsFail = localFailure(false, "4.4.3", "%v", err)
				}
				continue
			}
			if len(addrs) == 0 {
				log.Info("MX host has no addresses", "mx", h.name)
				continue
			}
		}
		hp, hf := c.hostPolicy(ctx, dp, h, mxSecure && addrSecure, canonical, log)
		if hf != nil {
			t.last, t.lastHost = hf, h.name
			t.heldBySTS = t.heldBySTS || hf.bySTS
			continue
		}
		for _, a := range addrs {
			hf := c.attempt(ctx, d, hop{name: h.name, addr: netip.AddrPortFrom(a, uint16(c.port)), mode: hp.mode, pol: hp}, log)
			if hf == nil {
				t.done = true
				return t
			}
			t.last, t.lastHost = hf, h.name
			t.heldBySTS = t.heldBySTS || (hp.kind == tlsrpt.PolicySTS && hp.mode == tlsRequired && !hf.tls)
			if ctx.Err() != nil {
				d.settleAll(hf.failure.temporary(), t.lastHost, hf.tls)
				t.done = true
				return t
			}
		}
	}
	return t
}

// attempt runs a session with h, and again without TLS if opportunistic
// STARTTLS failed in the handshake.
func (c *Client) attempt(ctx context.Context, d *delivery, h hop, log *slog.Logger) *hostFailure {
	hf := c.session(ctx, d, h, log)
	if hf != nil && hf.retryPlain && ctx.Err() == nil {
		log.Info("retrying without TLS", "mx", h.name, "addr", h.addr.String())
		h.mode = tlsNone
		hf = c.session(ctx, d, h, log)
	}
	return hf
}

// viaSmarthost delivers everything through the configured relay, with TLS
// required and verified.
func (c *Client) viaSmarthost(ctx context.Context, d *delivery, log *slog.Logger) {
	sh := c.smart
	host, port, err := net.SplitHostPort(sh.Addr)
	if err != nil {
		host, port = sh.Addr, "587"
		if sh.ImplicitTLS {
			port = "465"
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || host == "" {
		// A configuration error: keep the mail queued until it is fixed.
		d.settleAll(localFailure(false, "4.3.5", "invalid smarthost address %q", sh.Addr), "", false)
		return
	}
	addrs, err := c.res.LookupIP(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		d.settleAll(localFailure(false, "4.4.3", "smarthost %s: %v", host, err), "", false)
		return
	}
	mode := tlsRequired
	if sh.ImplicitTLS {
		mode = tlsImplicit
	}
	var last *hostFailure
	for _, a := range addrs {
		last = c.session(ctx, d, hop{name: host, addr: netip.AddrPortFrom(a, uint16(p)), mode: mode, creds: sh}, log)
		if last == nil {
			return
		}
		if ctx.Err() != nil {
			break
		}
	}
	d.settleAll(last.failure.temporary(), host, last.tls)
}
