package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
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
		`managesieve = ""`, `managesieve = ":14190"`,
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
		"_sieve._tcp.example.test.", "0 1 14190 mail.example.test.",
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

// An installation upgraded from DKIM key files in the data directory keeps
// publishing its keys: `domain dns` run before any serve imports them into
// the store rather than generating new ones, and leaves the files.
func TestDomainDNSImportsOldKeys(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	// Replace what add stored by the keys of an "older version": files
	// under data/dkim, and a store that never saw them.
	ed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ddir := filepath.Join(e.dir, "data", "dkim", "example.test")
	os.MkdirAll(ddir, 0o700)
	for name, key := range map[string]any{"mr202001e.ed25519.pem": ed, "mr202001r.rsa.pem": rsaKey} {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ddir, name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := openStore(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"import/dkim", "dkim/example.test/"} {
		names, _ := st.ListFiles(ctx, name)
		for _, n := range names {
			st.DeleteFile(ctx, n)
		}
	}
	st.Close()

	code, out, errs := e.run("", "domain", "dns", "example.test")
	if code != 0 {
		t.Fatalf("domain dns: %s", errs)
	}
	if !strings.Contains(errs, "imported 2 DKIM keys") || strings.Contains(errs, "generated") {
		t.Errorf("stderr %q, want the import reported and no keys generated", errs)
	}
	want := "mr202001e._domainkey.example.test."
	if !strings.Contains(out, want) || !strings.Contains(out, base64.StdEncoding.EncodeToString(ed.Public().(ed25519.PublicKey))) {
		t.Errorf("domain dns does not show the imported Ed25519 key:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(ddir, "mr202001r.rsa.pem")); err != nil {
		t.Errorf("key file removed: %v", err)
	}
	// Once only: the second run imports nothing.
	if _, _, errs := e.run("", "domain", "dns", "example.test"); strings.Contains(errs, "imported") {
		t.Errorf("imported again: %q", errs)
	}
}
