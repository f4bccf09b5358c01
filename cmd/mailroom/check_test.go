package main

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"mailroom/internal/mailtest"
)

// TestCheck runs `mailroom check` through the command's code path: against
// a DNS server publishing exactly what `mailroom domain dns` prints (and
// the address and reverse DNS it leaves to the operator) it passes, with a
// warning for the missing TLS; against an empty one it fails, exit 1.
func TestCheck(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	zone := e.ok("", "domain", "dns", "example.test")

	good := mailtest.NewDNS(t)
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		good.Add(t, strings.ReplaceAll(rr.String(), "\t", " "))
		n++
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("parsing the output of domain dns: %v\n%s", err, zone)
	}
	if n < 10 {
		t.Fatalf("domain dns printed %d records:\n%s", n, zone)
	}
	good.Add(t, "mail.example.test. A 127.0.0.1", "1.0.0.127.in-addr.arpa. PTR mail.example.test.")

	code, out, errs := e.run("", "check", "--dns-server", good.Addr, "--timeout", "2s")
	if code != 0 || strings.Contains(out, "FAIL ") {
		t.Fatalf("check with the records published: exit %d, stderr %q\n%s", code, errs, out)
	}
	for _, want := range []string{
		"OK    configuration ", "OK    data_dir ", "OK    store: opens",
		"WARN  certificate: no TLS configured",
		"OK    dns example.test MX: 10 mail.example.test",
		"OK    dns example.test SPF:", "OK    dns _dmarc.example.test DMARC: p=quarantine",
		"OK    dns 127.0.0.1 PTR: mail.example.test",
		"OK    dns example.test SRV:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "DKIM: publishes the current key") != 2 {
		t.Errorf("want both DKIM keys found:\n%s", out)
	}

	empty := mailtest.NewDNS(t)
	code, out, _ = e.run("", "check", "--dns-server", empty.Addr, "--timeout", "2s", "--domain", "example.test")
	if code != 1 {
		t.Fatalf("check without DNS records: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"FAIL  dns example.test MX: none", "FAIL  dns mail.example.test A/AAAA:", "FAIL  dns _dmarc.example.test DMARC:"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = e.run("", "check", "--dns-server", good.Addr, "--domain", "other.test")
	if code != 1 || !strings.Contains(out, "FAIL  domain other.test: this server does not serve other.test") {
		t.Errorf("check of a domain not served: exit %d\n%s", code, out)
	}
}
