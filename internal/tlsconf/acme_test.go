package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

const acmeHost = "mail.example.test"

func newACMEManager(t *testing.T) (*Manager, string) {
	t.Helper()
	dataDir := t.TempDir()
	m, err := New(Config{ACMEEmail: "postmaster@example.test", Hostname: "Mail.Example.Test.", DataDir: dataDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, dataDir
}

func TestACMEWiring(t *testing.T) {
	m, dataDir := newACMEManager(t)
	if !m.Enabled() || m.acme == nil {
		t.Fatal("ACME mode not enabled")
	}
	if m.acme.Email != "postmaster@example.test" {
		t.Errorf("Email = %q", m.acme.Email)
	}
	if dc, ok := m.acme.Cache.(autocert.DirCache); !ok || string(dc) != filepath.Join(dataDir, "acme") {
		t.Errorf("Cache = %#v, want DirCache(%s)", m.acme.Cache, filepath.Join(dataDir, "acme"))
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "acme")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v, %v", fi, err)
	}
	if m.acme.Prompt == nil || !m.acme.Prompt("https://example.test/tos") {
		t.Error("terms of service not accepted")
	}
	ctx := context.Background()
	if err := m.acme.HostPolicy(ctx, acmeHost); err != nil {
		t.Errorf("HostPolicy(%s): %v", acmeHost, err)
	}
	for _, h := range []string{"evil.example.test", "example.test", "localhost"} {
		if err := m.acme.HostPolicy(ctx, h); err == nil {
			t.Errorf("HostPolicy(%s) allowed", h)
		}
	}

	cfg := m.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil || cfg.GetConfigForClient == nil {
		t.Fatalf("unexpected config %+v", cfg)
	}
	// A tls-alpn-01 validation hello gets a config negotiating acme-tls/1.
	ch, err := cfg.GetConfigForClient(&tls.ClientHelloInfo{ServerName: acmeHost, SupportedProtos: []string{"acme-tls/1"}})
	if err != nil || ch == nil || !slices.Equal(ch.NextProtos, []string{"acme-tls/1"}) || ch.GetCertificate == nil || ch.MinVersion != tls.VersionTLS12 {
		t.Fatalf("challenge config = %+v, %v", ch, err)
	}
	// Anything else uses the listener's config unchanged.
	if ch, err := cfg.GetConfigForClient(&tls.ClientHelloInfo{ServerName: acmeHost, SupportedProtos: []string{"imap"}}); ch != nil || err != nil {
		t.Fatalf("ordinary hello got config %+v, %v", ch, err)
	}
}

func TestACMEHTTPHandler(t *testing.T) {
	m, _ := newACMEManager(t)
	fb := &markerHandler{}
	h := m.HTTPHandler(fb)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://"+acmeHost+"/.well-known/acme-challenge/unknown-token", nil))
	if fb.called || rec.Code != http.StatusNotFound {
		t.Fatalf("challenge path: fallback called %v, status %d", fb.called, rec.Code)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://"+acmeHost+"/", nil))
	if !fb.called {
		t.Fatal("fallback not called for an ordinary request")
	}
}

// TestACMEServesCachedCertificate puts a certificate where autocert's
// DirCache keeps it, so handshakes are served without any network access.
func TestACMEServesCachedCertificate(t *testing.T) {
	m, dataDir := newACMEManager(t)
	c := makeCert(t, time.Now().Add(80*24*time.Hour), acmeHost)
	keyDER, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	entry := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), c.certPEM...)
	if err := os.WriteFile(filepath.Join(dataDir, "acme", acmeHost), entry, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.TLSConfig())

	for name, cfg := range map[string]*tls.Config{
		"SNI":  {ServerName: acmeHost, RootCAs: pool(c.leaf)},
		"ALPN": {ServerName: acmeHost, RootCAs: pool(c.leaf), NextProtos: []string{"imap"}},
		// No SNI (client connects by IP address): still the host's cert.
		"no SNI": {InsecureSkipVerify: true},
		// Some other name: the one certificate there is.
		"other SNI": {ServerName: "other.example.test", InsecureSkipVerify: true},
	} {
		got, err := handshake(t, addr, cfg)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(c.leaf) {
			t.Errorf("%s: served %v, want the cached certificate", name, got.Subject)
		}
	}
}

// TestACMEExtraNames: a name the configuration allows besides the hostname
// (mta-sts.<hosted domain>) gets its own certificate when a client asks
// for it by SNI; other names get the hostname's, and the host policy lets
// the CA be asked only for allowed names.
func TestACMEExtraNames(t *testing.T) {
	const policyHost = "mta-sts.example.test"
	dataDir := t.TempDir()
	m, err := New(Config{ACMEEmail: "postmaster@example.test", Hostname: acmeHost, DataDir: dataDir,
		ExtraNames: func(_ context.Context, name string) bool { return name == policyHost }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]testCert{}
	for _, host := range []string{acmeHost, policyHost} {
		c := makeCert(t, time.Now().Add(80*24*time.Hour), host)
		keyDER, err := x509.MarshalECPrivateKey(c.key)
		if err != nil {
			t.Fatal(err)
		}
		entry := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), c.certPEM...)
		if err := os.WriteFile(filepath.Join(dataDir, "acme", host), entry, 0o600); err != nil {
			t.Fatal(err)
		}
		certs[host] = c
	}
	addr := serveTLS(t, m.TLSConfig())
	for sni, want := range map[string]string{policyHost: policyHost, "MTA-STS.Example.Test": policyHost,
		acmeHost: acmeHost, "mta-sts.other.test": acmeHost, "": acmeHost} {
		got, err := handshake(t, addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Errorf("SNI %q: %v", sni, err)
			continue
		}
		if !got.Equal(certs[want].leaf) {
			t.Errorf("SNI %q: served %v, want the certificate of %s", sni, got.DNSNames, want)
		}
	}
	ctx := context.Background()
	if err := m.acme.HostPolicy(ctx, policyHost); err != nil {
		t.Errorf("HostPolicy(%s): %v", policyHost, err)
	}
	if err := m.acme.HostPolicy(ctx, "mta-sts.other.test"); err == nil {
		t.Error("HostPolicy allowed a name the configuration does not")
	}
}
