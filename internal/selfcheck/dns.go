package selfcheck

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"mailroom/internal/dnsrecords"
	"mailroom/internal/msgauth"
	"mailroom/internal/mtasts"
	"mailroom/internal/resolver"
)

// checkDNS compares what DNS says with what internal/dnsrecords says it
// should (the records `mailroom domain dns` prints): the server's own
// address and its reverse DNS, then each domain's records.
func checkDNS(ctx context.Context, o Options, domains []string) []Result {
	host := strings.ToLower(strings.TrimSuffix(o.Config.Hostname, "."))
	addrs, err := o.Resolver.LookupIP(ctx, host)
	var rs []Result
	if err != nil || len(addrs) == 0 {
		rs = append(rs, Result{"dns " + host + " A/AAAA", Fail, fmt.Sprintf("the host name has no address (%s): publish its A (and AAAA) record; "+
			"without it the SPF and reverse DNS checks cannot run", errText(err, "no records"))})
	} else {
		rs = append(rs, Result{"dns " + host + " A/AAAA", OK, "the public address is " + joinAddrs(addrs)})
		for _, ip := range addrs {
			rs = append(rs, checkPTR(ctx, o, host, ip))
		}
	}
	for _, d := range domains {
		rs = append(rs, checkDomain(ctx, o, host, addrs, d)...)
	}
	return rs
}

// checkPTR: receivers refuse or junk mail from an address whose PTR does
// not name a host that resolves back to it (forward-confirmed reverse
// DNS, RFC 8601 section 3 "iprev").
func checkPTR(ctx context.Context, o Options, host string, ip netip.Addr) Result {
	label := "dns " + ip.String() + " PTR"
	names, err := o.Resolver.LookupAddr(ctx, ip)
	if err != nil || len(names) == 0 {
		return Result{label, Fail, fmt.Sprintf("no reverse DNS (%s): ask whoever provides the address (usually the hosting company) to set its PTR to %s",
			errText(err, "no PTR record"), host)}
	}
	for _, n := range names {
		if !strings.EqualFold(strings.TrimSuffix(n, "."), host) {
			continue
		}
		back, err := o.Resolver.LookupIP(ctx, n)
		if err == nil && slices.Contains(back, ip) {
			return Result{label, OK, host + ", which resolves back to " + ip.String()}
		}
		return Result{label, Fail, fmt.Sprintf("names %s, but %s does not resolve back to %s: fix the A/AAAA record", n, n, ip)}
	}
	return Result{label, Fail, fmt.Sprintf("names %s, not %s: ask whoever provides the address to set its PTR to %s", strings.Join(names, ", "), host, host)}
}

func checkDomain(ctx context.Context, o Options, host string, addrs []netip.Addr, d string) []Result {
	keys, err := o.Store.DKIM(ctx, d)
	if err != nil {
		return []Result{{"dns " + d, Fail, fmt.Sprintf("reading its DKIM keys failed: %v", err)}}
	}
	want := dnsrecords.For(dnsrecords.FromConfig(o.Config, d, keys))
	rs := []Result{checkMX(ctx, o, host, d)}
	rs = append(rs, checkSPF(ctx, o, host, addrs, d))
	if len(keys) == 0 {
		rs = append(rs, Result{"dns " + d + " DKIM", Fail, "the domain has no DKIM keys yet: `mailroom domain dns " + d + "` makes them and prints the records to publish"})
	}
	for _, r := range want {
		if r.Type == "TXT" && strings.Contains(r.Name, "._domainkey.") {
			rs = append(rs, checkDKIM(ctx, o, r))
		}
	}
	rs = append(rs, checkDMARC(ctx, o, d))
	for _, r := range want {
		switch {
		case r.Type == "TXT" && r.Name == "_mta-sts."+d:
			rs = append(rs, checkMTASTS(ctx, o, host, d, r.Value))
		case r.Type == "TXT" && r.Name == "_smtp._tls."+d:
			rs = append(rs, checkTLSRPT(ctx, o, d))
		}
	}
	rs = append(rs, checkSRV(ctx, o, d, want))
	for _, r := range want {
		if r.Type == "CNAME" && (strings.HasPrefix(r.Name, "autoconfig.") || strings.HasPrefix(r.Name, "autodiscover.")) {
			rs = append(rs, checkAlias(ctx, o, r, addrs))
		}
	}
	return rs
}

func checkMX(ctx context.Context, o Options, host, d string) Result {
	label := "dns " + d + " MX"
	mxs, err := o.Resolver.LookupMX(ctx, d)
	if err != nil || len(mxs) == 0 {
		return Result{label, Fail, fmt.Sprintf("none (%s): publish %s. MX 10 %s.", errText(err, "no MX records"), d, host)}
	}
	var others []string
	for _, mx := range mxs {
		if strings.EqualFold(strings.TrimSuffix(mx.Mx, "."), host) {
			return Result{label, OK, fmt.Sprintf("%d %s", mx.Preference, host)}
		}
		others = append(others, strings.TrimSuffix(mx.Mx, "."))
	}
	return Result{label, Fail, fmt.Sprintf("points at %s, not at %s: mail for %s does not reach this server; publish MX 10 %s.",
		strings.Join(others, ", "), host, d, host)}
}

func checkSPF(ctx context.Context, o Options, host string, addrs []netip.Addr, d string) Result {
	label := "dns " + d + " SPF"
	txts, err := o.Resolver.LookupTXT(ctx, d)
	var spf []string
	for _, t := range txts {
		if t == "v=spf1" || strings.HasPrefix(strings.ToLower(t), "v=spf1 ") {
			spf = append(spf, t)
		}
	}
	switch {
	case err != nil && !resolver.IsNotFound(err):
		return Result{label, Fail, "lookup failed: " + err.Error()}
	case len(spf) == 0:
		return Result{label, Fail, fmt.Sprintf("no SPF record: publish %s. TXT \"v=spf1 mx ~all\"", d)}
	case len(spf) > 1:
		// RFC 7208 section 4.5: two records are a permanent error.
		return Result{label, Fail, fmt.Sprintf("%d SPF records, which receivers treat as none valid: merge them into one", len(spf))}
	case len(addrs) == 0:
		return Result{label, Warn, fmt.Sprintf("%q found, but without the host name's address it cannot be checked", spf[0])}
	}
	checker := msgauth.New(o.Resolver, msgauth.Options{Now: o.Now})
	for _, ip := range addrs {
		res := checker.SPF(ctx, ip, host, "postmaster@"+d)
		if res.Result != "pass" {
			why := ""
			if res.Reason != "" {
				why = " (" + res.Reason + ")"
			}
			return Result{label, Fail, fmt.Sprintf("%q gives %s for this server's address %s%s: authorize it (\"mx\" does when the MX names this server, or add ip4:/ip6:)",
				spf[0], res.Result, ip, why)}
		}
	}
	return Result{label, OK, fmt.Sprintf("%q authorizes %s", spf[0], joinAddrs(addrs))}
}

// checkDKIM compares the published key with the current one; the rest of
// the record (t=, h=) may differ.
func checkDKIM(ctx context.Context, o Options, want dnsrecords.Record) Result {
	label := "dns " + want.Name + " DKIM"
	wantTags, _ := msgauth.ParseTags(want.Value)
	txts, err := o.Resolver.LookupTXT(ctx, want.Name)
	if err != nil || len(txts) == 0 {
		return Result{label, Fail, fmt.Sprintf("missing (%s): publish the record `mailroom domain dns` prints; until then receivers cannot verify the signatures", errText(err, "no TXT record"))}
	}
	for _, t := range txts {
		tags, err := msgauth.ParseTags(t)
		if err != nil {
			continue
		}
		if tags["p"] == wantTags["p"] && strings.EqualFold(orDefault(tags["k"], "rsa"), orDefault(wantTags["k"], "rsa")) {
			return Result{label, OK, "publishes the current key"}
		}
	}
	return Result{label, Fail, "publishes another key than the one this server signs with: replace it with the record `mailroom domain dns` prints"}
}

func checkDMARC(ctx context.Context, o Options, d string) Result {
	label := "dns _dmarc." + d + " DMARC"
	txts, err := o.Resolver.LookupTXT(ctx, "_dmarc."+d)
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			recs = append(recs, t)
		}
	}
	switch {
	case err != nil && !resolver.IsNotFound(err):
		return Result{label, Fail, "lookup failed: " + err.Error()}
	case len(recs) == 0:
		return Result{label, Fail, "no DMARC record: large receivers junk or refuse mail from domains without one; publish the one `mailroom domain dns` prints"}
	case len(recs) > 1:
		return Result{label, Fail, "more than one DMARC record, which receivers treat as none (RFC 7489 section 6.6.3): keep one"}
	}
	tags, err := msgauth.ParseTags(recs[0])
	if err != nil {
		return Result{label, Fail, fmt.Sprintf("%q does not parse (%v): publish the one `mailroom domain dns` prints", recs[0], err)}
	}
	switch p := strings.ToLower(tags["p"]); p {
	case "quarantine", "reject":
		return Result{label, OK, "p=" + p}
	case "none":
		return Result{label, Warn, "p=none only collects reports: move to p=quarantine once they show all your mail passes"}
	default:
		return Result{label, Fail, fmt.Sprintf("p=%q is not none, quarantine or reject, so receivers ignore the record: fix it", tags["p"])}
	}
}

// checkMTASTS fetches the policy as a sender would (internal/mtasts), and
// checks that it lets senders deliver to this server.
func checkMTASTS(ctx context.Context, o Options, host, d, wantRecord string) Result {
	label := "dns _mta-sts." + d + " MTA-STS"
	txts, err := o.Resolver.LookupTXT(ctx, "_mta-sts."+d)
	id, ok := mtasts.ParseRecord(txts)
	if err != nil && !resolver.IsNotFound(err) {
		return Result{label, Fail, "lookup failed: " + err.Error()}
	}
	if !ok {
		return Result{label, Warn, "no MTA-STS record: senders may be tricked into sending mail for " + d +
			" without TLS; publish the mta-sts CNAME and _mta-sts TXT records `mailroom domain dns` prints"}
	}
	c := mtasts.New(mtasts.Config{Resolver: o.Resolver, RootCAs: o.RootCAs, Port: o.MTASTSPort, Timeout: o.DialTimeout * 3, Now: o.Now})
	res := c.Lookup(ctx, d)
	switch {
	case res.Err != nil:
		return Result{label, Fail, fmt.Sprintf("the record is there but the policy at https://mta-sts.%s/.well-known/mta-sts.txt cannot be had (%v): "+
			"senders that know the domain's policy keep to the cached one until it expires; check the mta-sts CNAME and that the certificate covers mta-sts.%s", d, res.Err, d)}
	case res.Policy == nil:
		return Result{label, Warn, "the policy says mode none: senders forget the domain's policy"}
	case !res.Policy.Matches(host):
		return Result{label, Fail, fmt.Sprintf("the policy does not list %s among its mx, so senders enforcing it refuse to deliver here: fix [mta_sts] mx", host)}
	}
	if "v=STSv1; id="+id != wantRecord {
		return Result{label, Warn, fmt.Sprintf("mode %s, but the record's id %s is not the current policy's (%q): publish the new record so senders fetch the policy again", res.Policy.Mode, id, wantRecord)}
	}
	return Result{label, OK, fmt.Sprintf("mode %s, policy fetched over HTTPS, lists %s", res.Policy.Mode, host)}
}

func checkTLSRPT(ctx context.Context, o Options, d string) Result {
	label := "dns _smtp._tls." + d + " TLS-RPT"
	txts, err := o.Resolver.LookupTXT(ctx, "_smtp._tls."+d)
	if err != nil && !resolver.IsNotFound(err) {
		return Result{label, Fail, "lookup failed: " + err.Error()}
	}
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1;") || strings.HasPrefix(t, "v=TLSRPTv1 ") {
			if !strings.Contains(t, "rua=") {
				return Result{label, Warn, fmt.Sprintf("%q names nowhere to send reports (rua=)", t)}
			}
			return Result{label, OK, t}
		}
	}
	return Result{label, Warn, "no TLS-RPT record: senders cannot tell you when TLS to this server fails; publish the one `mailroom domain dns` prints"}
}

// checkSRV checks the client-setup records of RFC 6186 as one line:
// missing ones only make clients ask their user.
func checkSRV(ctx context.Context, o Options, d string, want []dnsrecords.Record) Result {
	label := "dns " + d + " SRV"
	var bad []string
	n := 0
	for _, r := range want {
		if r.Type != "SRV" {
			continue
		}
		n++
		rrs, err := o.Resolver.Lookup(ctx, r.Name, dns.TypeSRV)
		f := strings.Fields(r.Value) // priority weight port target
		found := false
		for _, rr := range rrs {
			s := rr.(*dns.SRV)
			if fmt.Sprint(s.Port) == f[2] && strings.EqualFold(s.Target, f[3]) {
				found = true
			}
		}
		switch {
		case found:
		case len(rrs) == 0 && f[3] == ".":
			// A switched-off service without its "not here" record:
			// clients simply find nothing.
		case len(rrs) == 0:
			bad = append(bad, r.Name+" missing"+errSuffix(err))
		default:
			s := rrs[0].(*dns.SRV)
			bad = append(bad, fmt.Sprintf("%s points at %s:%d, not %s:%s", r.Name, strings.TrimSuffix(s.Target, "."), s.Port, strings.TrimSuffix(f[3], "."), f[2]))
		}
	}
	if len(bad) > 0 {
		return Result{label, Warn, strings.Join(bad, "; ") + ": mail clients cannot set themselves up from the address alone; publish the SRV records `mailroom domain dns` prints"}
	}
	return Result{label, OK, fmt.Sprintf("all %d client-setup records as expected", n)}
}

// checkAlias checks that an autoconfiguration name leads to this server.
func checkAlias(ctx context.Context, o Options, r dnsrecords.Record, addrs []netip.Addr) Result {
	label := "dns " + r.Name
	got, err := o.Resolver.LookupIP(ctx, r.Name)
	if err != nil || len(got) == 0 {
		return Result{label, Warn, fmt.Sprintf("does not resolve (%s): publish %s. CNAME %s so clients find their settings", errText(err, "no address"), r.Name, r.Value)}
	}
	for _, a := range got {
		if slices.Contains(addrs, a) {
			return Result{label, OK, "leads to this server"}
		}
	}
	return Result{label, Warn, fmt.Sprintf("resolves to %s, not to this server: publish %s. CNAME %s", joinAddrs(got), r.Name, r.Value)}
}

func errText(err error, none string) string {
	if err == nil {
		return none
	}
	if resolver.IsNotFound(err) {
		return "no such name"
	}
	return err.Error()
}

func errSuffix(err error) string {
	if err == nil || resolver.IsNotFound(err) {
		return ""
	}
	return " (" + err.Error() + ")"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func joinAddrs(as []netip.Addr) string {
	var ss []string
	for _, a := range as {
		ss = append(ss, a.String())
	}
	return strings.Join(ss, ", ")
}
