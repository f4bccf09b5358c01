package resolver_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
)

func TestLookups(t *testing.T) {
	d := mailtest.NewDNS(t)
	d.Add(t,
		"example.test. MX 10 mx.example.test.",
		"mx.example.test. A 192.0.2.1",
		"mx.example.test. AAAA 2001:db8::1",
		`example.test. TXT "v=spf1 " "-all"`,
		"alias.example.test. CNAME mx.example.test.",
		"1.2.0.192.in-addr.arpa. PTR mx.example.test.",
	)
	d.Fail("broken.test.", dns.RcodeServerFailure)
	r := resolver.New([]string{d.Addr}, time.Second)
	ctx := context.Background()

	mxs, err := r.LookupMX(ctx, "example.test")
	if err != nil || len(mxs) != 1 || mxs[0].Mx != "mx.example.test." {
		t.Errorf("LookupMX = %v, %v", mxs, err)
	}
	ips, err := r.LookupIP(ctx, "alias.example.test")
	want := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1")}
	if err != nil || !slices.Equal(ips, want) {
		t.Errorf("LookupIP through a CNAME = %v, %v; want %v", ips, err, want)
	}
	txt, err := r.LookupTXT(ctx, "example.test")
	if err != nil || !slices.Equal(txt, []string{"v=spf1 -all"}) {
		t.Errorf("LookupTXT = %q, %v; want the strings joined", txt, err)
	}
	names, err := r.LookupAddr(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || !slices.Equal(names, []string{"mx.example.test"}) {
		t.Errorf("LookupAddr = %q, %v", names, err)
	}
	if rrs, err := r.Lookup(ctx, "mx.example.test", dns.TypeMX); err != nil || len(rrs) != 0 {
		t.Errorf("no records of the type: %v, %v; want none and no error", rrs, err)
	}
	_, err = r.LookupTXT(ctx, "nowhere.example.test")
	if !resolver.IsNotFound(err) || resolver.IsTemporary(err) {
		t.Errorf("NXDOMAIN: %v; want IsNotFound and not IsTemporary", err)
	}
	_, err = r.LookupTXT(ctx, "broken.test")
	if resolver.IsNotFound(err) || !resolver.IsTemporary(err) {
		t.Errorf("SERVFAIL: %v; want a temporary error", err)
	}
}

func TestNoServers(t *testing.T) {
	r := resolver.New([]string{"127.0.0.1:1"}, 200*time.Millisecond)
	_, err := r.LookupMX(context.Background(), "example.test")
	if !resolver.IsTemporary(err) {
		t.Errorf("unreachable server: %v; want a temporary error", err)
	}
}
