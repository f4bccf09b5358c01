package tlsconf

import (
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type markerHandler struct{ called bool }

func (h *markerHandler) ServeHTTP(http.ResponseWriter, *http.Request) { h.called = true }

func TestDisabled(t *testing.T) {
	m, err := New(context.Background(), Config{Hostname: "mail.example.test", DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Enabled() || m.TLSConfig() != nil {
		t.Fatal("TLS enabled with no certificate source configured")
	}
	fb := &markerHandler{}
	if h := m.HTTPHandler(fb); h != http.Handler(fb) {
		t.Fatal("HTTPHandler did not return the fallback unchanged")
	}
}

func TestConflictingModes(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{CertFile: "a.crt", KeyFile: "a.key", SelfSigned: true, DataDir: dir},
		{SelfSigned: true, ACMEEmail: "admin@example.test", Hostname: "mail.example.test", DataDir: dir},
		{CertFile: "a.crt", KeyFile: "a.key", ACMEEmail: "admin@example.test", Hostname: "mail.example.test", DataDir: dir},
	} {
		_, err := New(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "more than one TLS mode") {
			t.Errorf("New(%+v) = %v, want conflict error", cfg, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{CertFile: "a.crt"}, "KeyFile"},
		{Config{KeyFile: "a.key"}, "CertFile"},
		{Config{ACMEEmail: "a@example.test", DataDir: dir}, "Hostname"},
		{Config{ACMEEmail: "a@example.test", Hostname: "localhost", DataDir: dir}, "fully qualified"},
		{Config{ACMEEmail: "a@example.test", Hostname: "192.0.2.1", DataDir: dir}, "IP address"},
		{Config{ACMEEmail: "a@example.test", Hostname: "mail.example.test"}, "Files"},
	} {
		_, err := New(context.Background(), tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error mentioning %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTLSConfigBasics(t *testing.T) {
	dir := t.TempDir()
	c := makeCert(t, time.Now().Add(90*24*time.Hour), "localhost")
	writeFile(t, filepath.Join(dir, "c.pem"), c.certPEM, time.Now())
	writeFile(t, filepath.Join(dir, "k.pem"), c.keyPEM, time.Now())
	m, err := New(context.Background(), Config{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := m.TLSConfig(), m.TLSConfig()
	if !m.Enabled() || a == nil || a.GetCertificate == nil || a.MinVersion != tls.VersionTLS12 {
		t.Fatalf("unexpected config %+v", a)
	}
	if a == b {
		t.Fatal("TLSConfig returned the same *tls.Config twice; callers may modify it")
	}
	// TLS 1.1 clients are refused.
	addr := serveTLS(t, a)
	if _, err := handshake(t, addr, &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}); err == nil {
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}
