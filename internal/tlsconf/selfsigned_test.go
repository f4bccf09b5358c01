package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"mailroom/internal/testrig/teststore"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func selfSignedLeaf(t *testing.T, m *Manager) *tls.Certificate {
	t.Helper()
	cert, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestSelfSigned(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	cfg := Config{SelfSigned: true, Hostname: "mail.example.test", DataDir: t.TempDir(), Files: st}
	m, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedLeaf(t, m)
	leaf := cert.Leaf

	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if !slices.Contains(leaf.DNSNames, "mail.example.test") || !slices.Contains(leaf.DNSNames, "localhost") {
		t.Errorf("DNS names %v", leaf.DNSNames)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Contains(ips, "127.0.0.1") || !slices.Contains(ips, "::1") {
		t.Errorf("IP addresses %v", ips)
	}
	if v := time.Until(leaf.NotAfter); v < 360*24*time.Hour || v > 366*24*time.Hour {
		t.Errorf("valid for %v, want about a year", v)
	}
	// Certificate and key are in one shared file, nothing in the data
	// directory.
	stored, err := st.ReadFile(ctx, selfSignedName)
	if err != nil {
		t.Fatal(err)
	}
	if pair, err := parsePair(stored); err != nil || !pair.Leaf.Equal(leaf) {
		t.Fatalf("stored pair: %v", err)
	}
	if ents, _ := os.ReadDir(cfg.DataDir); len(ents) != 0 {
		t.Errorf("files in the data directory: %v", ents)
	}

	// Handshakes verify with the certificate as the only root.
	addr := serveTLS(t, m.TLSConfig())
	for _, name := range []string{"localhost", "mail.example.test"} {
		if _, err := handshake(t, addr, &tls.Config{ServerName: name, RootCAs: pool(leaf)}); err != nil {
			t.Errorf("handshake for %s: %v", name, err)
		}
	}
	// By IP address, no SNI: verified against the 127.0.0.1 SAN.
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: pool(leaf)})
	if err != nil {
		t.Errorf("handshake by IP: %v", err)
	} else {
		c.Close()
	}

	// The next start, with another data directory (another node), reuses
	// the same certificate.
	cfg.DataDir = t.TempDir()
	m2, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again := selfSignedLeaf(t, m2).Leaf; !again.Equal(leaf) {
		t.Fatal("second start generated a new certificate instead of reusing the stored one")
	}
}

// Nodes starting at the same time on one store agree on one certificate:
// every node presents it over TLS.
func TestSelfSignedNodesAgree(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	const n = 6
	managers := make([]*Manager, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			st := a
			if i%2 == 1 {
				st = b
			}
			var err error
			managers[i], err = New(ctx, Config{SelfSigned: true, Hostname: "mail.example.test", DataDir: t.TempDir(), Files: st}, nil)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var first *x509.Certificate
	for i, m := range managers {
		leaf, err := handshake(t, serveTLS(t, m.TLSConfig()), &tls.Config{ServerName: "mail.example.test", InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = leaf
		} else if !leaf.Equal(first) {
			t.Fatalf("node %d presents serial %v, node 0 serial %v", i, leaf.SerialNumber, first.SerialNumber)
		}
	}
}

// An installation upgrading from files in the data directory keeps its
// certificate (clients trust it): imported once, the files left in place.
func TestSelfSignedImportsDataDir(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	dataDir := t.TempDir()
	// The names a pre-store version put in: add the addresses.
	certPEM, keyPEM, err := generateSelfSigned([]string{"mail.example.test", "localhost", "127.0.0.1", "::1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dataDir, "tls"), 0o700)
	os.WriteFile(filepath.Join(dataDir, "tls", "selfsigned.crt"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dataDir, "tls", "selfsigned.key"), keyPEM, 0o600)
	old, err := parsePair(append(certPEM, keyPEM...))
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := testLogger()
	cfg := Config{SelfSigned: true, Hostname: "mail.example.test", DataDir: dataDir, Files: st}
	m, err := New(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if !selfSignedLeaf(t, m).Leaf.Equal(old.Leaf) {
		t.Fatal("the certificate of the data directory was not kept")
	}
	if !strings.Contains(logs.String(), "imported the self-signed certificate") {
		t.Errorf("import not logged:\n%s", logs)
	}
	for _, f := range []string{"selfsigned.crt", "selfsigned.key"} {
		if _, err := os.Stat(filepath.Join(dataDir, "tls", f)); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
	// Once: a certificate the store replaced later does not come back
	// from the old files, and the import is not logged again.
	if err := st.DeleteFile(ctx, selfSignedName); err != nil {
		t.Fatal(err)
	}
	logger2, logs2 := testLogger()
	m2, err := New(ctx, cfg, logger2)
	if err != nil {
		t.Fatal(err)
	}
	if selfSignedLeaf(t, m2).Leaf.Equal(old.Leaf) {
		t.Error("imported the data directory's certificate a second time")
	}
	if strings.Contains(logs2.String(), "imported") {
		t.Errorf("import logged again:\n%s", logs2)
	}
}

func TestSelfSignedRegenerates(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	cfg := Config{SelfSigned: true, Hostname: "mail.example.test", Files: st}

	first := func() *tls.Certificate {
		m, err := New(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return selfSignedLeaf(t, m)
	}
	prev := first().Leaf
	stored, err := st.ReadFile(ctx, selfSignedName)
	if err != nil {
		t.Fatal(err)
	}
	certOnly, _, _ := strings.Cut(string(stored), "-----BEGIN PRIVATE KEY")
	for _, tc := range []struct {
		name  string
		spoil func()
	}{
		{name: "key missing", spoil: func() { st.WriteFile(ctx, selfSignedName, []byte(certOnly)) }},
		{name: "garbage", spoil: func() { st.WriteFile(ctx, selfSignedName, []byte("garbage")) }},
		{name: "hostname changed", spoil: func() { cfg.Hostname = "imap.example.test" }},
		{name: "expiring", spoil: func() {
			// Made 340 days ago: 25 days left, under the 30-day margin.
			st.DeleteFile(ctx, selfSignedName)
			if _, err := newManager(ctx, cfg, nil, func() time.Time { return time.Now().Add(-340 * 24 * time.Hour) }); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		tc.spoil()
		got := first().Leaf
		if got.Equal(prev) {
			t.Errorf("%s: certificate not regenerated", tc.name)
		}
		if err := got.VerifyHostname(cfg.Hostname); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if time.Until(got.NotAfter) < 300*24*time.Hour {
			t.Errorf("%s: regenerated certificate expires %v", tc.name, got.NotAfter)
		}
		prev = got
	}
}

func TestSelfSignedRenewsWhileRunning(t *testing.T) {
	clk := newFakeClock()
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	m, err := newManager(ctx, Config{SelfSigned: true, Files: a}, nil, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newManager(ctx, Config{SelfSigned: true, Files: b}, nil, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	old := selfSignedLeaf(t, m).Leaf
	clk.advance(300 * 24 * time.Hour)
	if !selfSignedLeaf(t, m).Leaf.Equal(old) {
		t.Fatal("renewed with 65 days left")
	}
	clk.advance(40 * 24 * time.Hour)
	renewed := selfSignedLeaf(t, m).Leaf
	if renewed.Equal(old) {
		t.Fatal("not renewed with 25 days left")
	}
	if renewed.NotAfter.Before(clk.now().Add(360 * 24 * time.Hour)) {
		t.Fatalf("renewed certificate expires %v", renewed.NotAfter)
	}
	// The other node, checking in turn, takes the renewed certificate
	// rather than making its own.
	if got := selfSignedLeaf(t, other).Leaf; !got.Equal(renewed) {
		t.Fatal("the other node renewed on its own instead of taking the stored certificate")
	}
}
