package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const full = `hostname = "mail.example.org"
data_dir = "/var/lib/mailroom"
shutdown_timeout = "10s"

[listen]
smtp = ":25"
submission = ":587"
submissions = ":465"
imap = ":143"
imaps = ":993"
pop3 = ":110"
pop3s = ":995"
http = ":80"
https = ":443"

[tls]
cert_file = "certs/fullchain.pem"
key_file = "certs/privkey.pem"
self_signed = false
acme_email = ""

[auth]
allow_insecure = false
cache_ttl = "15m"

[log]
level = "debug"
format = "json"
`

func TestParseFull(t *testing.T) {
	c, err := Parse("/etc/mailroom/mailroom.toml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "mail.example.org" || c.DataDir != "/var/lib/mailroom" || c.Listen.IMAPS != ":993" ||
		c.ShutdownTimeout.Std() != 10*time.Second || c.Auth.CacheTTL.Std() != 15*time.Minute || c.Log.Format != "json" {
		t.Fatalf("parsed %+v", c)
	}
	// Relative paths are relative to the config file.
	if c.TLS.CertFile != "/etc/mailroom/certs/fullchain.pem" || c.TLS.KeyFile != "/etc/mailroom/certs/privkey.pem" {
		t.Fatalf("tls paths %q %q", c.TLS.CertFile, c.TLS.KeyFile)
	}
}

func TestDefaultsAndDisabledListeners(t *testing.T) {
	c, err := Parse("m.toml", []byte("hostname = \"mx.example.org\"\n[tls]\nself_signed = true\n[listen]\npop3 = \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Listen.POP3 != "" || c.Listen.IMAP != d.Listen.IMAP || c.Listen.ManageSieve != ":4190" || c.Log.Level != "info" || c.ShutdownTimeout != d.ShutdownTimeout {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestErrors(t *testing.T) {
	tls := "[tls]\nself_signed = true\n"
	cases := []struct {
		text, want string
	}{
		{"hostnme = \"x\"\n", "m.toml:1: hostnme: unknown key"},
		{tls + "[listen]\nimap = \":143\"\nsmpt = \":25\"\n", "m.toml:5: listen.smpt: unknown key"},
		{tls + "[listen]\nimap = 143\n", "m.toml:4: listen.imap: want a string, not a TOML integer"},
		{"shutdown_timeout = \"soon\"\n" + tls, "m.toml:1: shutdown_timeout: want a duration"},
		{"[auth]\nallow_insecure = \"yes\"\n", "m.toml:2: auth.allow_insecure: want a boolean"},
		{"[auth]\ndefault_domain = \"not a domain\"\n" + tls, "m.toml:2: auth.default_domain: \"not a domain\" is not a valid domain"},
		{"hostname = \"bad host!\"\n" + tls, "m.toml:1: hostname: \"bad host!\" is not a valid host name"},
		{tls + "[listen]\nimap = \"143\"\n", "m.toml:4: listen.imap: \"143\" is not host:port"},
		{"[tls]\ncert_file = \"a.pem\"\n", "m.toml: tls.key_file: cert_file and key_file go together"},
		{"[tls]\nself_signed = true\nacme_email = \"me@example.org\"\n", "tls: choose one"},
		{"[listen]\nsubmissions = \"\"\nimaps = \"\"\npop3s = \"\"\nhttps = \":443\"\n", "m.toml:5: listen.https: needs TLS"},
		{tls + "[log]\nlevel = \"loud\"\n", "m.toml:4: log.level: want debug, info, warn or error"},
		{tls + "[log]\nformat = \"xml\"\n", "log.format: want text or json"},
		{"hostname = \n", "m.toml:1: syntax error"},
		{"data_dir = \"\"\n" + tls, "m.toml:1: data_dir: must not be empty"},
		{tls + "[queue]\nrelay = \"smtp.example\"\n", "m.toml:4: queue.relay: want host:port"},
		{tls + "[queue]\nrelay_tls = \"ssl\"\n", "queue.relay_tls: want \"starttls\" or \"implicit\""},
		{tls + "[queue]\nrelay_username = \"me\"\n", "queue.relay_username: set both"},
		{tls + "[queue]\nretry_intervals = []\n", "queue.retry_intervals: give at least one"},
		{tls + "[queue]\nmax_age = \"five days\"\n", "queue.max_age: want a duration"},
		{tls + "[queue]\nlease_time = \"500ms\"\n", "queue.lease_time: must be between 1s and 1h"},
		{tls + "[dns]\nservers = [\"127.0.0.1\"]\n", "m.toml:4: dns.servers: want host:port"},
		{tls + "[listen]\nmanagesieve = \"4190\"\n", "m.toml:4: listen.managesieve: \"4190\" is not host:port"},
		{tls + "[managesieve]\nidle_timeout = \"10s\"\n", "m.toml:4: managesieve.idle_timeout: must be at least 1m"},
		{tls + "[managesieve]\nmax_connections_per_ip = 0\n", "managesieve.max_connections_per_ip: must be greater than zero"},
	}
	for _, tc := range cases {
		_, err := Parse("m.toml", []byte(tc.text))
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.text, tc.want)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v is not a *config.Error", tc.text, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.text, err, tc.want)
		}
	}
}

func TestQueueDurationsInDays(t *testing.T) {
	c, err := Parse("m.toml", []byte("[tls]\nself_signed = true\n[queue]\nmax_age = \"3d\"\nretry_intervals = [\"1m\", \"1d\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.MaxAge.Std() != 72*time.Hour || c.Queue.RetryIntervals[1].Std() != 24*time.Hour {
		t.Fatalf("days not parsed: %+v", c.Queue)
	}
}

func TestNoTLSNeededWhenTLSListenersOff(t *testing.T) {
	text := "[listen]\nsubmissions = \"\"\nimaps = \"\"\npop3s = \"\"\nhttps = \"\"\n"
	if _, err := Parse("m.toml", []byte(text)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Load missing: %v", err)
	}
}

func TestDevConfigIsValid(t *testing.T) {
	c := Dev("/tmp/x")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Listen.IMAPS, "127.0.0.1:") || c.Listen.ManageSieve != "127.0.0.1:2190" || !c.TLS.SelfSigned || c.Auth.AllowInsecure {
		t.Fatalf("dev config %+v", c)
	}
}

// TestEveryKeyDocumented keeps docs/configuration.md complete.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", k)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("[listen]\nimap = 1\n"))
	f.Add([]byte("a.b.c = [1, {x = 2}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", err)
		}
	})
}
