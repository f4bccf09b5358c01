package resolver_test

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
)

func TestLookupSecure(t *testing.T) {
	d := mailtest.NewDNS(t)
	d.Add(t,
		"signed.test. MX 10 mx.signed.test.",
		"mx.signed.test. A 192.0.2.1",
		"_25._tcp.mx.signed.test. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"alias.signed.test. CNAME mx.unsigned.test.",
		"mx.unsigned.test. A 192.0.2.2",
		"unsigned.test. MX 10 mx.unsigned.test.",
	)
	d.Secure("signed.test", "mx.signed.test", "_25._tcp.mx.signed.test", "alias.signed.test", "_25._tcp.gone.signed.test")
	d.Fail("_25._tcp.mx.bogus.test", dns.RcodeServerFailure)
	r := resolver.New([]string{d.Addr}, time.Second)
	ctx := context.Background()

	if mxs, ok, err := r.LookupMXSecure(ctx, "signed.test"); err != nil || !ok || len(mxs) != 1 {
		t.Errorf("LookupMXSecure(signed) = %v, %v, %v", mxs, ok, err)
	}
	if mxs, ok, err := r.LookupMXSecure(ctx, "unsigned.test"); err != nil || ok || len(mxs) != 1 {
		t.Errorf("LookupMXSecure(unsigned) = %v, %v, %v; want an unauthenticated answer", mxs, ok, err)
	}
	if ips, ok, cname, err := r.LookupIPSecure(ctx, "mx.signed.test"); err != nil || !ok || len(ips) != 1 || cname != "" {
		t.Errorf("LookupIPSecure(mx.signed) = %v, %v, %q, %v", ips, ok, cname, err)
	}
	// An authenticated alias to an unsigned zone is not secure; the
	// alias's target is reported.
	if ips, ok, cname, err := r.LookupIPSecure(ctx, "alias.signed.test"); err != nil || ok || len(ips) != 1 || cname != "mx.unsigned.test" {
		t.Errorf("LookupIPSecure(alias) = %v, %v, %q, %v; want an insecure answer from mx.unsigned.test", ips, ok, cname, err)
	}
	tlsa, ok, err := r.LookupTLSA(ctx, 25, "mx.signed.test.")
	if err != nil || !ok || len(tlsa) != 1 || tlsa[0].Usage != 3 || tlsa[0].Selector != 1 || tlsa[0].MatchingType != 1 {
		t.Errorf("LookupTLSA = %v, %v, %v", tlsa, ok, err)
	}
	if _, ok, err := r.LookupTLSA(ctx, 25, "gone.signed.test"); !resolver.IsNotFound(err) || !ok {
		t.Errorf("LookupTLSA(no such name) = %v, %v; want an authenticated NXDOMAIN", ok, err)
	}
	if _, ok, err := r.LookupTLSA(ctx, 25, "gone.unsigned.test"); !resolver.IsNotFound(err) || ok {
		t.Errorf("LookupTLSA(no such name, unsigned) = %v, %v; want an unauthenticated NXDOMAIN", ok, err)
	}
	if _, _, err := r.LookupTLSA(ctx, 25, "mx.bogus.test"); !resolver.IsTemporary(err) {
		t.Errorf("LookupTLSA(SERVFAIL) = %v, want a temporary error", err)
	}
	// A plain lookup asks for no DNSSEC, so the resolver sets no AD; the
	// secure lookups got it because they asked.
	m := new(dns.Msg)
	m.SetQuestion("signed.test.", dns.TypeMX)
	resp, err := dns.Exchange(m, d.Addr)
	if err != nil || resp.AuthenticatedData {
		t.Errorf("query without DO: AD %v, %v", resp != nil && resp.AuthenticatedData, err)
	}
}
