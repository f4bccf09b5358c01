package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	year := time.Now().Add(365 * 24 * time.Hour)
	a := makeCert(t, year, "localhost")
	b := makeCert(t, year, "localhost")
	c := makeCert(t, year, "localhost")
	mtime := time.Now().Add(-time.Hour)
	writeFile(t, certFile, a.certPEM, mtime)
	writeFile(t, keyFile, a.keyPEM, mtime)

	clk := newFakeClock()
	logger, logs := testLogger()
	m, err := newManager(context.Background(), Config{CertFile: certFile, KeyFile: keyFile, Hostname: "localhost"}, logger, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.TLSConfig())
	client := &tls.Config{ServerName: "localhost", RootCAs: pool(a.leaf, b.leaf, c.leaf)}
	expect := func(step string, want testCert) {
		t.Helper()
		got, err := handshake(t, addr, client)
		if err != nil {
			t.Fatalf("%s: handshake: %v", step, err)
		}
		if !got.Equal(want.leaf) {
			t.Fatalf("%s: served serial %v, want %v", step, got.SerialNumber, want.leaf.SerialNumber)
		}
	}
	next := func() time.Time { mtime = mtime.Add(time.Minute); return mtime }

	expect("initial", a)

	// New pair on disk: not picked up within the same second...
	tm := next()
	writeFile(t, certFile, b.certPEM, tm)
	writeFile(t, keyFile, b.keyPEM, tm)
	expect("same second", a)
	// ...but after it.
	clk.advance(time.Second)
	expect("after rewrite", b)

	// A broken certificate keeps the last good one and logs an error.
	writeFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"), next())
	clk.advance(time.Second)
	expect("garbage cert", b)
	if !strings.Contains(logs.String(), "still serving the previous certificate") {
		t.Fatalf("broken pair not logged:\n%s", logs)
	}

	// A certificate with the wrong key: same.
	writeFile(t, certFile, c.certPEM, next())
	clk.advance(time.Second)
	expect("mismatched key", b)

	// The key arrives: the new pair is served.
	writeFile(t, keyFile, c.keyPEM, next())
	clk.advance(time.Second)
	expect("fixed", c)

	// A vanished key file keeps serving too.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	expect("key removed", c)
	if n := strings.Count(logs.String(), "still serving the previous certificate"); n != 3 {
		t.Fatalf("logged %d load failures, want 3 (one per broken state):\n%s", n, logs)
	}
	// Nothing changes: no further stat-triggered log lines.
	clk.advance(time.Second)
	expect("key still missing", c)
	if n := strings.Count(logs.String(), "still serving the previous certificate"); n != 3 {
		t.Fatalf("a persistent failure was logged again (%d)", n)
	}
}

func TestFilesErrors(t *testing.T) {
	dir := t.TempDir()
	year := time.Now().Add(365 * 24 * time.Hour)
	a, b := makeCert(t, year, "localhost"), makeCert(t, year, "localhost")
	path := func(n string) string { return filepath.Join(dir, n) }
	writeFile(t, path("a.crt"), a.certPEM, time.Now())
	writeFile(t, path("a.key"), a.keyPEM, time.Now())
	writeFile(t, path("b.key"), b.keyPEM, time.Now())
	writeFile(t, path("junk"), []byte("not pem"), time.Now())

	for _, tc := range []struct {
		cert, key string
		want      []string
		notExist  bool
	}{
		{path("missing.crt"), path("a.key"), []string{"certificate file", "missing.crt"}, true},
		{path("a.crt"), path("missing.key"), []string{"key file", "missing.key"}, true},
		{path("a.crt"), path("b.key"), []string{"a.crt", "b.key", "private key does not match public key"}, false},
		{path("junk"), path("a.key"), []string{"junk"}, false},
		{path("a.crt"), path("junk"), []string{"junk"}, false},
	} {
		_, err := New(context.Background(), Config{CertFile: tc.cert, KeyFile: tc.key}, nil)
		if err == nil {
			t.Errorf("New(%s, %s): no error", tc.cert, tc.key)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New(%s, %s) = %q, want it to mention %q", tc.cert, tc.key, err, w)
			}
		}
		if tc.notExist && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("New(%s, %s) = %v, want os.ErrNotExist", tc.cert, tc.key, err)
		}
	}

	if err := os.Chmod(path("a.key"), 0); err == nil && os.Geteuid() != 0 {
		if _, err := New(context.Background(), Config{CertFile: path("a.crt"), KeyFile: path("a.key")}, nil); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("unreadable key: %v", err)
		}
	}
}

func TestFilesWarnsAboutHostnameAndExpiry(t *testing.T) {
	dir := t.TempDir()
	c := makeCert(t, time.Now().Add(5*24*time.Hour), "other.example.test")
	writeFile(t, filepath.Join(dir, "c"), c.certPEM, time.Now())
	writeFile(t, filepath.Join(dir, "k"), c.keyPEM, time.Now())
	logger, logs := testLogger()
	if _, err := New(context.Background(), Config{CertFile: filepath.Join(dir, "c"), KeyFile: filepath.Join(dir, "k"), Hostname: "mail.example.test"}, logger); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"expires soon", "does not cover the configured hostname"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
}
