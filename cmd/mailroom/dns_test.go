package main

import (
	"os"
	"strings"
	"testing"
)

// TestDomainDNSConfiguredPorts: the SRV records name the ports the
// listeners are configured on, and a service that is off is announced as
// not available (target "."), rather than the standard ports regardless.
func TestDomainDNSConfiguredPorts(t *testing.T) {
	e := newEnv(t)
	cfg := strings.NewReplacer(
		`submissions = ""`, `submissions = ":10465"`,
		`submission = ""`, `submission = "0.0.0.0:2587"`,
		`imaps = ""`, `imaps = "[::]:10993"`,
		`imap = ""`, `imap = ":0"`,
		`https = ""`, `https = ":8443"`,
	).Replace(readFile(t, e.config)) + "[tls]\nself_signed = true\n"
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("", "domain", "add", "example.test")
	out := e.ok("", "domain", "dns", "example.test")
	for _, want := range []string{
		"_submissions._tcp.example.test.", "0 1 10465 mail.example.test.",
		"0 1 2587 mail.example.test.", "0 1 10993 mail.example.test.",
		"0 1 143 mail.example.test.", // ":0" has no fixed port: the standard one
		"0 1 8443 mail.example.test.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("domain dns lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "_pop3") && !strings.HasSuffix(line, "SRV\t0 0 0 .") {
			t.Errorf("POP3 is off, yet: %q", line)
		}
		for _, std := range []string{" 465 ", " 587 ", " 993 ", " 995 ", " 110 ", " 443 "} {
			if strings.Contains(line, "SRV") && strings.Contains(line, std) {
				t.Errorf("standard port%sprinted: %q", std, line)
			}
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
