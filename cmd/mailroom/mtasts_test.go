package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDomainDNSTransportRecords: with an HTTPS listener to serve the
// policy, `domain dns` prints the MTA-STS records with the configured
// mode's id, and the TLS-RPT record in any case.
func TestDomainDNSTransportRecords(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	out := e.ok("", "domain", "dns", "example.test")
	if strings.Contains(out, "_mta-sts") || !strings.Contains(out, `_smtp._tls.example.test.	3600	IN	TXT	"v=TLSRPTv1; rua=mailto:postmaster@example.test"`) {
		t.Errorf("without HTTPS: want the TLS-RPT record and no MTA-STS:\n%s", out)
	}

	text, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	withHTTPS := strings.Replace(string(text), `https = ""`, `https = ":8443"`, 1) + "[tls]\nself_signed = true\n"
	if err := os.WriteFile(e.config, []byte(withHTTPS), 0o600); err != nil {
		t.Fatal(err)
	}
	out = e.ok("", "domain", "dns", "example.test")
	id := regexp.MustCompile(`_mta-sts\.example\.test\.\t3600\tIN\tTXT\t"v=STSv1; id=([0-9a-f]{20})"`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "mta-sts.example.test.\t3600\tIN\tCNAME\tmail.example.test.") ||
		!strings.Contains(out, "(mode testing)") {
		t.Fatalf("with HTTPS: want the MTA-STS records:\n%s", out)
	}
	// Another mode is another policy, with another id.
	if err := os.WriteFile(e.config, []byte(withHTTPS+"[mta_sts]\nmode = \"enforce\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = e.ok("", "domain", "dns", "example.test")
	if !strings.Contains(out, "(mode enforce)") || strings.Contains(out, id[1]) {
		t.Errorf("after switching to enforce the id %s is still printed:\n%s", id[1], out)
	}
}
