package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"slices"
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
	dataDir := t.TempDir()
	cfg := Config{SelfSigned: true, Hostname: "mail.example.test", DataDir: dataDir}
	m, err := New(cfg, nil)
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

	tlsDir := filepath.Join(dataDir, "tls")
	for path, want := range map[string]os.FileMode{
		tlsDir:                                  0o700 | os.ModeDir,
		filepath.Join(tlsDir, "selfsigned.key"): 0o600,
		filepath.Join(tlsDir, "selfsigned.crt"): 0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(tlsDir, ".*tmp*")); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
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

	// The next start reuses the same certificate.
	m2, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again := selfSignedLeaf(t, m2).Leaf; !again.Equal(leaf) {
		t.Fatal("second start generated a new certificate instead of reusing the stored one")
	}
}

func TestSelfSignedRegenerates(t *testing.T) {
	dataDir := t.TempDir()
	cfg := Config{SelfSigned: true, Hostname: "mail.example.test", DataDir: dataDir}
	certFile := filepath.Join(dataDir, "tls", "selfsigned.crt")
	keyFile := filepath.Join(dataDir, "tls", "selfsigned.key")

	first := func() *tls.Certificate {
		m, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return selfSignedLeaf(t, m)
	}
	prev := first().Leaf
	for _, tc := range []struct {
		name  string
		spoil func()
	}{
		{name: "key missing", spoil: func() { os.Remove(keyFile) }},
		{name: "cert missing", spoil: func() { os.Remove(certFile) }},
		{name: "cert garbage", spoil: func() { os.WriteFile(certFile, []byte("garbage"), 0o644) }},
		{name: "hostname changed", spoil: func() { cfg.Hostname = "imap.example.test" }},
		{name: "expiring", spoil: func() {
			// Made 340 days ago: 25 days left, under the 30-day margin.
			if _, err := newManager(cfg, nil, func() time.Time { return time.Now().Add(-340 * 24 * time.Hour) }); err != nil {
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
	m, err := newManager(Config{SelfSigned: true, DataDir: t.TempDir()}, nil, clk.now)
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
}
