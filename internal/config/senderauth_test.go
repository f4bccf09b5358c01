package config

import (
	"strings"
	"testing"
	"time"
)

func TestSenderAuthKeys(t *testing.T) {
	base := "hostname = \"mx.example.org\"\n[tls]\nself_signed = true\n"
	c, err := Parse("m.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SMTP.DMARCEnforce || c.SMTP.DMARCTempError != "accept" || c.SMTP.AuthservID != "" || len(c.SMTP.DNSBL) != 0 || c.DNS.Timeout.Std() != 5*time.Second {
		t.Fatalf("defaults %+v %+v", c.SMTP, c.DNS)
	}
	c, err = Parse("m.toml", []byte(base+"[smtp]\nauthserv_id = \"mx1.example.org\"\ndmarc_enforce = false\ndmarc_temperror = \"defer\"\n"+
		"arc_trusted_sealers = [\"lists.example.org\"]\ndnsbl = [\"zen.example\"]\n[dns]\ntimeout = \"2s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.DMARCEnforce || c.SMTP.DMARCTempError != "defer" || c.SMTP.AuthservID != "mx1.example.org" ||
		c.SMTP.ARCTrustedSealers[0] != "lists.example.org" || c.SMTP.DNSBL[0] != "zen.example" || c.DNS.Timeout.Std() != 2*time.Second {
		t.Fatalf("set %+v %+v", c.SMTP, c.DNS)
	}
	for text, key := range map[string]string{
		"[smtp]\ndmarc_temperror = \"reject\"\n": "smtp.dmarc_temperror",
		"[smtp]\ndnsbl = [\"not a zone\"]\n":     "smtp.dnsbl",
		"[smtp]\narc_trusted_sealers = [\"\"]\n": "smtp.arc_trusted_sealers",
		"[smtp]\nauthserv_id = \"a; b\"\n":       "smtp.authserv_id",
		"[dns]\ntimeout = \"-1s\"\n":             "dns.timeout",
	} {
		_, err := Parse("m.toml", []byte(base+text))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: %v, want an error about %s", text, err, key)
		}
	}
}
