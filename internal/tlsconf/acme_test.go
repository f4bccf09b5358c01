package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"mailroom/internal/testrig/teststore"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

const acmeHost = "mail.example.test"

func newACMEManager(t *testing.T, files Files) *Manager {
	t.Helper()
	m, err := New(context.Background(), Config{ACMEEmail: "postmaster@example.test", Hostname: "Mail.Example.Test.", DataDir: t.TempDir(), Files: files}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cacheEntry is what autocert caches for a host: key, then chain.
func cacheEntry(t *testing.T, c testCert) []byte {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), c.certPEM...)
}

func TestACMEWiring(t *testing.T) {
	m := newACMEManager(t, teststore.Open(t))
	if !m.Enabled() || m.acme == nil {
		t.Fatal("ACME mode not enabled")
	}
	if m.acme.Email != "postmaster@example.test" {
		t.Errorf("Email = %q", m.acme.Email)
	}
	if _, ok := m.acme.Cache.(sharedCache); !ok {
		t.Errorf("Cache = %#v, want the shared files", m.acme.Cache)
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
	m := newACMEManager(t, teststore.Open(t))
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
// cache keeps it, in the shared files through one node, so handshakes
// with every node are served without any network access.
func TestACMEServesCachedCertificate(t *testing.T) {
	a, b := teststore.OpenNodes(t)
	m := newACMEManager(t, b)
	c := makeCert(t, time.Now().Add(80*24*time.Hour), acmeHost)
	if err := newACMEManager(t, a).acme.Cache.Put(context.Background(), acmeHost, cacheEntry(t, c)); err != nil {
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
	st := teststore.Open(t)
	m, err := New(context.Background(), Config{ACMEEmail: "postmaster@example.test", Hostname: acmeHost, Files: st,
		ExtraNames: func(_ context.Context, name string) bool { return name == policyHost }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]testCert{}
	for _, host := range []string{acmeHost, policyHost} {
		c := makeCert(t, time.Now().Add(80*24*time.Hour), host)
		if err := st.WriteFile(context.Background(), acmePrefix+host, cacheEntry(t, c)); err != nil {
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

// An http-01 token autocert put in its cache on one node is answered by
// another: the CA's request may reach any node behind the load balancer.
func TestACMEHTTPTokenAcrossNodes(t *testing.T) {
	a, b := teststore.OpenNodes(t)
	ma, mb := newACMEManager(t, a), newACMEManager(t, b)
	const token = "tok3n-Abc_123"
	if err := ma.acme.Cache.Put(context.Background(), token+"+http-01", []byte("tok3n-Abc_123.thumbprint")); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mb.HTTPHandler(&markerHandler{}).ServeHTTP(rec, httptest.NewRequest("GET", "http://"+acmeHost+"/.well-known/acme-challenge/"+token, nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "tok3n-Abc_123.thumbprint" {
		t.Fatalf("other node answered %d %q", rec.Code, rec.Body)
	}
	// Deleted through one node, gone on the other.
	if err := ma.acme.Cache.Delete(context.Background(), token+"+http-01"); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.acme.Cache.Get(context.Background(), token+"+http-01"); err != autocert.ErrCacheMiss {
		t.Fatalf("Get after Delete: %v, want ErrCacheMiss", err)
	}
}

// The account key is stored once: a second node's key does not replace
// the installation's account.
func TestACMEAccountKeyOnce(t *testing.T) {
	a, b := teststore.OpenNodes(t)
	ctx := context.Background()
	ca, cb := newACMEManager(t, a).acme.Cache, newACMEManager(t, b).acme.Cache
	if err := ca.Put(ctx, acmeAccountKey, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := cb.Put(ctx, acmeAccountKey, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, err := ca.Get(ctx, acmeAccountKey); err != nil || string(got) != "first" {
		t.Fatalf("account key %q, %v", got, err)
	}
}

// An installation upgrading from autocert.DirCache keeps its account key
// and certificates: imported once, the files left in place.
func TestACMEImportsDataDir(t *testing.T) {
	st := teststore.Open(t)
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "acme")
	os.MkdirAll(dir, 0o700)
	c := makeCert(t, time.Now().Add(80*24*time.Hour), acmeHost)
	os.WriteFile(filepath.Join(dir, acmeHost), cacheEntry(t, c), 0o600)
	os.WriteFile(filepath.Join(dir, acmeAccountKey), []byte("account key"), 0o600)
	os.WriteFile(filepath.Join(dir, ".tmp-half-written"), []byte("x"), 0o600)
	logger, logs := testLogger()
	cfg := Config{ACMEEmail: "postmaster@example.test", Hostname: acmeHost, DataDir: dataDir, Files: st}
	m, err := New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	got, err := handshake(t, serveTLS(t, m.TLSConfig()), &tls.Config{ServerName: acmeHost, RootCAs: pool(c.leaf)})
	if err != nil || !got.Equal(c.leaf) {
		t.Fatalf("imported certificate not served: %v", err)
	}
	names, err := st.ListFiles(context.Background(), acmePrefix)
	if err != nil || !slices.Equal(names, []string{acmePrefix + acmeAccountKey, acmePrefix + acmeHost}) {
		t.Fatalf("shared files %v, %v", names, err)
	}
	if !strings.Contains(logs.String(), "imported files from the data directory") {
		t.Errorf("import not logged:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, acmeHost)); err != nil {
		t.Errorf("original removed: %v", err)
	}
	// Once only: what autocert deletes later stays deleted.
	st.DeleteFile(context.Background(), acmePrefix+acmeHost)
	if _, err := New(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadFile(context.Background(), acmePrefix+acmeHost); err == nil {
		t.Error("imported a second time")
	}
}
