package msgauth

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestIPRevAndHELO(t *testing.T) {
	w := newWorld(t)
	w.dns.Add(t,
		`10.2.0.192.in-addr.arpa. PTR mail.sender.example.`,
		`mail.sender.example. A 192.0.2.10`,
		`11.2.0.192.in-addr.arpa. PTR liar.example.`,
		`liar.example. A 198.51.100.7`,
		`other.example. A 198.51.100.7`,
	)
	w.dns.Fail("12.2.0.192.in-addr.arpa", dns.RcodeServerFailure)
	c := w.checker()
	ctx := context.Background()
	for ip, want := range map[string]string{
		"192.0.2.10": "pass", "192.0.2.11": "fail", "192.0.2.12": "temperror", "192.0.2.13": "fail",
	} {
		r := c.iprev(ctx, netip.MustParseAddr(ip))
		if r.Result != want {
			t.Errorf("iprev %s: %+v, want %s", ip, r, want)
		}
		if want == "pass" && r.Name != "mail.sender.example" {
			t.Errorf("iprev name %+v", r)
		}
	}
	for helo, want := range map[string]string{
		"mail.sender.example": "pass", "other.example": "fail", "nxdomain.example": "fail",
		"[192.0.2.10]": "pass", "[192.0.2.99]": "fail", "localhost": "fail", "": "none",
	} {
		if r := c.helo(ctx, clientIP, helo); r.Result != want {
			t.Errorf("HELO %q: %+v, want %s", helo, r, want)
		}
	}
}

func TestDNSBL(t *testing.T) {
	w := newWorld(t)
	w.dns.Add(t,
		`10.2.0.192.bl.example. A 127.0.0.2`, `10.2.0.192.bl.example. TXT "listed for spam, see https://bl.example/192.0.2.10"`,
		`10.2.0.192.refused.example. A 127.255.255.254`,
		`10.2.0.192.one.example. A 127.0.0.1`,
	)
	w.dns.Fail("10.2.0.192.down.example", dns.RcodeServerFailure)
	w.opt.DNSBL = []string{"bl.example", "clean.example", "refused.example", "one.example", "down.example"}
	res := w.check(message("a@b.example"), "x.example", "a@b.example")
	if len(res.DNSBL) != 5 {
		t.Fatalf("DNSBL %+v", res.DNSBL)
	}
	if b := res.DNSBL[0]; !b.Listed || b.Code != netip.MustParseAddr("127.0.0.2") || !strings.Contains(b.Reason, "listed for spam") {
		t.Errorf("listed: %+v", b)
	}
	for _, b := range res.DNSBL[1:] {
		if b.Listed {
			t.Errorf("not listed but %+v", b)
		}
	}
	v := w.checker().Verdict(res)
	if v.Action != Quarantine || len(v.Quarantine) != 1 || v.Quarantine[0] != "dnsbl=bl.example" {
		t.Errorf("verdict %+v", v)
	}
	h := res.DNSBLHeader()
	if !strings.HasPrefix(h, "X-Mailroom-DNSBL: bl.example listed=127.0.0.2 reason=\"listed for spam") || !strings.Contains(h, "clean.example not-listed") {
		t.Errorf("header %q", h)
	}
	// RFC 5782 2.4: IPv6 by nibbles.
	if n := DNSBLName(netip.MustParseAddr("2001:db8::1"), "bl.example"); n != "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example" {
		t.Errorf("IPv6 name %s", n)
	}
}
