package dkim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var july2026 = time.Date(2026, time.July, 15, 12, 0, 0, 0, time.UTC)

func TestGenerateLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dkim") // Generate must create it
	gen, err := Generate(dir, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	if gen.Domain != "example.org" || gen.Ed25519Selector != "mr202607e" || gen.RSASelector != "mr202607r" {
		t.Errorf("Generate = domain %q, selectors %q %q; want example.org, mr202607e, mr202607r",
			gen.Domain, gen.Ed25519Selector, gen.RSASelector)
	}
	if n := gen.RSA.N.BitLen(); n != 2048 {
		t.Errorf("RSA key has %d bits, want 2048", n)
	}

	got, err := Load(dir, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got.Domain != gen.Domain || got.Ed25519Selector != gen.Ed25519Selector || got.RSASelector != gen.RSASelector {
		t.Errorf("Load = %q %q %q, want %q %q %q", got.Domain, got.Ed25519Selector, got.RSASelector,
			gen.Domain, gen.Ed25519Selector, gen.RSASelector)
	}
	if !got.Ed25519.Equal(gen.Ed25519) {
		t.Error("loaded Ed25519 key differs from the generated one")
	}
	if !got.RSA.Equal(gen.RSA) {
		t.Error("loaded RSA key differs from the generated one")
	}

	for path, want := range map[string]fs.FileMode{
		dir:                               fs.ModeDir | 0o700,
		filepath.Join(dir, "example.org"): fs.ModeDir | 0o700,
		filepath.Join(dir, "example.org", "mr202607e.ed25519.pem"): 0o600,
		filepath.Join(dir, "example.org", "mr202607r.rsa.pem"):     0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Join(dir, "example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("domain directory holds %q, want just the two keys", names)
	}
}

func TestGenerateIdempotent(t *testing.T) {
	dir := t.TempDir()
	first, err := Generate(dir, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(dir, "example.org", july2026.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if again.Ed25519Selector != first.Ed25519Selector || again.RSASelector != first.RSASelector ||
		!again.Ed25519.Equal(first.Ed25519) || !again.RSA.Equal(first.RSA) {
		t.Error("second Generate made new keys instead of returning the existing ones")
	}
}

// A Generate interrupted between the two keys is completed by the next.
func TestGenerateCompletesMissingKey(t *testing.T) {
	dir := t.TempDir()
	first, err := Generate(dir, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "example.org", "mr202607r.rsa.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "example.org"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load with the RSA key missing: %v, want ErrNoKeys", err)
	}
	again, err := Generate(dir, "example.org", july2026.AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if again.Ed25519Selector != "mr202607e" || !again.Ed25519.Equal(first.Ed25519) {
		t.Error("Generate replaced the existing Ed25519 key")
	}
	if again.RSASelector != "mr202609r" || again.RSA.Equal(first.RSA) {
		t.Errorf("Generate made RSA selector %q, want a new key under mr202609r", again.RSASelector)
	}
}

// After a rotation Load picks the newest selector of each kind.
func TestLoadNewestSelector(t *testing.T) {
	dir := t.TempDir()
	old, err := Generate(dir, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	ddir := filepath.Join(dir, "example.org")
	link := func(from, to string) {
		t.Helper()
		if err := os.Link(filepath.Join(ddir, from), filepath.Join(ddir, to)); err != nil {
			t.Fatal(err)
		}
	}
	link("mr202607e.ed25519.pem", "mr202701e.ed25519.pem")
	link("mr202607r.rsa.pem", "mr202612r.rsa.pem")
	got, err := Load(dir, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got.Ed25519Selector != "mr202701e" || got.RSASelector != "mr202612r" {
		t.Errorf("Load picked %q and %q, want mr202701e and mr202612r", got.Ed25519Selector, got.RSASelector)
	}
	if !got.RSA.Equal(old.RSA) {
		t.Error("loaded RSA key differs from the file's")
	}
}

func TestLoadNoKeys(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, "example.org"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load without a domain directory: %v, want ErrNoKeys", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "example.org"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "example.org"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load from an empty domain directory: %v, want ErrNoKeys", err)
	}
}

func TestLoadWrongKeyType(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, "example.org", july2026); err != nil {
		t.Fatal(err)
	}
	ddir := filepath.Join(dir, "example.org")
	// An RSA key filed as Ed25519, and newer, so Load picks it.
	if err := os.Link(filepath.Join(ddir, "mr202607r.rsa.pem"), filepath.Join(ddir, "mr202608e.ed25519.pem")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, "example.org")
	if err == nil || errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), "mr202608e.ed25519.pem") {
		t.Errorf("Load with an RSA key in an .ed25519.pem file: %v, want an error naming the file", err)
	}
}

func TestInvalidDomain(t *testing.T) {
	for _, domain := range []string{
		"",
		"..",
		"../etc",
		"example.org/..",
		"a/b",
		"a..b",
		".example.org",
		"example.org.",
		"Example.org",
		"exa mple.org",
		"ex_ample.org",
		"-example.org",
		"example-.org",
		"bücher.example",
		strings.Repeat("a", 64) + ".org",
		strings.Repeat("abcdefg.", 32) + "org",
	} {
		dir := t.TempDir()
		if _, err := Generate(dir, domain, july2026); err == nil {
			t.Errorf("Generate(%q) succeeded, want an error", domain)
		}
		if _, err := Load(dir, domain); err == nil || errors.Is(err, ErrNoKeys) {
			t.Errorf("Load(%q) = %v, want an invalid-domain error", domain, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("Generate(%q) created files", domain)
		}
	}
	for _, domain := range []string{"example.org", "xn--bcher-kva.example", "a-b.c0.example", "localhost"} {
		if err := checkDomain(domain); err != nil {
			t.Errorf("checkDomain(%q) = %v, want nil", domain, err)
		}
	}
}
