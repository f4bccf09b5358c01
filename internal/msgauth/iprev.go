package msgauth

import (
	"context"
	"net/netip"
	"strings"

	"mailroom/internal/resolver"
)

// maxPTRNames bounds the forward lookups of an iprev check, as RFC 7208
// 4.6.4 does for SPF's ptr: an address's owner chooses how many names it has.
const maxPTRNames = 10

// IPRevResult is the reverse DNS check of the client's address (RFC 8601
// 3: "iprev"): a PTR name whose forward lookup gives the address back.
type IPRevResult struct {
	Result string // pass, fail, temperror, permerror
	IP     netip.Addr
	Name   string // the confirmed name (policy.iprev), if pass
	Reason string
}

func (c *Checker) iprev(ctx context.Context, ip netip.Addr) IPRevResult {
	r := IPRevResult{IP: ip}
	if !ip.IsValid() {
		r.Result, r.Reason = "permerror", "no client address"
		return r
	}
	names, err := c.res.LookupAddr(ctx, ip)
	switch {
	case resolver.IsNotFound(err):
		r.Result, r.Reason = "fail", "no PTR record"
		return r
	case err != nil:
		r.Result, r.Reason = "temperror", err.Error()
		return r
	case len(names) == 0:
		r.Result, r.Reason = "fail", "no PTR record"
		return r
	}
	temp := false
	for i, n := range names {
		if i == maxPTRNames {
			break
		}
		addrs, err := c.res.LookupIP(ctx, n)
		if err != nil && !resolver.IsNotFound(err) {
			temp = true
			continue
		}
		for _, a := range addrs {
			if a == ip {
				r.Result, r.Name = "pass", strings.ToLower(n)
				return r
			}
		}
	}
	if temp {
		r.Result, r.Reason = "temperror", "forward lookup of the PTR name failed"
		return r
	}
	r.Result, r.Reason = "fail", "no PTR name resolves back to the address"
	return r
}

// HELOResult says whether the client's HELO name is its own: a domain
// name that resolves to the client's address, or an address literal
// holding it. Recorded only: many legitimate servers get this wrong.
type HELOResult struct {
	Result string // pass, fail, temperror, none (no HELO)
	Reason string
}

func (c *Checker) helo(ctx context.Context, ip netip.Addr, helo string) HELOResult {
	switch {
	case helo == "":
		return HELOResult{Result: "none"}
	case strings.HasPrefix(helo, "[") && strings.HasSuffix(helo, "]"):
		lit := strings.TrimPrefix(strings.Trim(helo, "[]"), "IPv6:")
		a, err := netip.ParseAddr(lit)
		if err == nil && a.Unmap() == ip {
			return HELOResult{Result: "pass", Reason: "address literal of the client"}
		}
		return HELOResult{Result: "fail", Reason: "address literal is not the client's address"}
	case !isDomainName(helo):
		return HELOResult{Result: "fail", Reason: "not a domain name"}
	}
	addrs, err := c.res.LookupIP(ctx, helo)
	if err != nil && !resolver.IsNotFound(err) {
		return HELOResult{Result: "temperror", Reason: err.Error()}
	}
	for _, a := range addrs {
		if a == ip {
			return HELOResult{Result: "pass", Reason: "resolves to the client's address"}
		}
	}
	if err != nil {
		return HELOResult{Result: "fail", Reason: "does not exist"}
	}
	return HELOResult{Result: "fail", Reason: "does not resolve to the client's address"}
}
