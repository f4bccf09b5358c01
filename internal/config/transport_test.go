package config

import (
	"errors"
	"testing"
	"time"
)

func TestTransportSecurityKeys(t *testing.T) {
	c, err := Parse("t.toml", []byte("hostname = \"mail.example.org\"\n[tls]\nself_signed = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MTASTS.Mode != "testing" || c.MTASTS.MaxAge.Std() != 7*24*time.Hour || len(c.MTASTS.MX) != 0 || !c.TLSReports.Enabled {
		t.Errorf("defaults: %+v %+v", c.MTASTS, c.TLSReports)
	}
	c, err = Parse("t.toml", []byte("hostname = \"mail.example.org\"\n[tls]\nself_signed = true\n[mta_sts]\nmode = \"enforce\"\nmax_age = \"30d\"\nmx = [\"mail.example.org\", \"*.mx.example.org\"]\n[tls_reports]\nenabled = false\nfrom = \"tlsrpt@example.org\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MTASTS.Mode != "enforce" || c.MTASTS.MaxAge.Std() != 30*24*time.Hour || len(c.MTASTS.MX) != 2 ||
		c.TLSReports.Enabled || c.TLSReports.From != "tlsrpt@example.org" {
		t.Errorf("parsed: %+v %+v", c.MTASTS, c.TLSReports)
	}
	for key, body := range map[string]string{
		"mta_sts.mode":     "[mta_sts]\nmode = \"strict\"\n",
		"mta_sts.max_age":  "[mta_sts]\nmax_age = \"400d\"\n",
		"mta_sts.mx":       "[mta_sts]\nmx = [\"bad host\"]\n",
		"tls_reports.from": "[tls_reports]\nfrom = \"nobody\"\n",
	} {
		_, err := Parse("t.toml", []byte("hostname = \"mail.example.org\"\n[tls]\nself_signed = true\n"+body))
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("%s: error %v, want one naming %s", body, err, key)
		}
	}
}
