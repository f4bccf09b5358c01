package dkim

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/testrig/logbuf"
	"mailroom/internal/testrig/teststore"
)

var july2026 = time.Date(2026, time.July, 15, 12, 0, 0, 0, time.UTC)

func TestGenerateLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	gen, err := Generate(ctx, st, "example.org", july2026)
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

	got, err := Load(ctx, st, "example.org")
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
	names, err := st.ListFiles(ctx, FilePrefix)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dkim/example.org/mr202607e.ed25519.pem", "dkim/example.org/mr202607r.rsa.pem"}; !slices.Equal(names, want) {
		t.Errorf("shared files %q, want %q", names, want)
	}
}

func TestGenerateIdempotent(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	first, err := Generate(ctx, st, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(ctx, st, "example.org", july2026.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if again.Ed25519Selector != first.Ed25519Selector || again.RSASelector != first.RSASelector ||
		!again.Ed25519.Equal(first.Ed25519) || !again.RSA.Equal(first.RSA) {
		t.Error("second Generate made new keys instead of returning the existing ones")
	}
}

// Several nodes generating the keys of one domain at once agree on them:
// each key is stored once, and the losers take the winner's.
func TestGenerateConcurrentNodes(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	const n = 4
	got := make([]*Keys, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			st := a
			if i%2 == 1 {
				st = b
			}
			var err error
			got[i], err = Generate(ctx, st, "example.org", july2026)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range got[1:] {
		if !k.Ed25519.Equal(got[0].Ed25519) || !k.RSA.Equal(got[0].RSA) {
			t.Fatalf("Generate %d returned other keys than Generate 0", i+1)
		}
	}
	if k, err := Load(ctx, b, "example.org"); err != nil || !k.RSA.Equal(got[0].RSA) {
		t.Fatalf("Load on the other node: %v", err)
	}
}

// A Generate interrupted between the two keys is completed by the next.
func TestGenerateCompletesMissingKey(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	first, err := Generate(ctx, st, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteFile(ctx, "dkim/example.org/mr202607r.rsa.pem"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, st, "example.org"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load with the RSA key missing: %v, want ErrNoKeys", err)
	}
	again, err := Generate(ctx, st, "example.org", july2026.AddDate(0, 2, 0))
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

// copyFile stores the shared file from under the name to.
func copyFile(t *testing.T, st Files, from, to string) {
	t.Helper()
	ctx := context.Background()
	data, err := st.ReadFile(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateFile(ctx, to, func([]byte, bool) ([]byte, bool, error) { return data, true, nil }); err != nil {
		t.Fatal(err)
	}
}

// After a rotation Load picks the newest selector of each kind.
func TestLoadNewestSelector(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	old, err := Generate(ctx, st, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, st, "dkim/example.org/mr202607e.ed25519.pem", "dkim/example.org/mr202701e.ed25519.pem")
	copyFile(t, st, "dkim/example.org/mr202607r.rsa.pem", "dkim/example.org/mr202612r.rsa.pem")
	// Another domain's keys, whose name starts alike, are not these.
	copyFile(t, st, "dkim/example.org/mr202607r.rsa.pem", "dkim/example.org.uk/mr209912r.rsa.pem")
	got, err := Load(ctx, st, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got.Ed25519Selector != "mr202701e" || got.RSASelector != "mr202612r" {
		t.Errorf("Load picked %q and %q, want mr202701e and mr202612r", got.Ed25519Selector, got.RSASelector)
	}
	if !got.RSA.Equal(old.RSA) {
		t.Error("loaded RSA key differs from the stored one")
	}
}

func TestLoadNoKeys(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	if _, err := Load(ctx, st, "example.org"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load without keys: %v, want ErrNoKeys", err)
	}
	if _, err := Generate(ctx, st, "example.org.uk", july2026); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, st, "example.org"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Load with only example.org.uk's keys: %v, want ErrNoKeys", err)
	}
}

func TestLoadWrongKeyType(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	if _, err := Generate(ctx, st, "example.org", july2026); err != nil {
		t.Fatal(err)
	}
	// An RSA key filed as Ed25519, and newer, so Load picks it.
	copyFile(t, st, "dkim/example.org/mr202607r.rsa.pem", "dkim/example.org/mr202608e.ed25519.pem")
	_, err := Load(ctx, st, "example.org")
	if err == nil || errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), "mr202608e.ed25519.pem") {
		t.Errorf("Load with an RSA key in an .ed25519.pem file: %v, want an error naming the file", err)
	}
}

func TestInvalidDomain(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
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
		if _, err := Generate(ctx, st, domain, july2026); err == nil {
			t.Errorf("Generate(%q) succeeded, want an error", domain)
		}
		if _, err := Load(ctx, st, domain); err == nil || errors.Is(err, ErrNoKeys) {
			t.Errorf("Load(%q) = %v, want an invalid-domain error", domain, err)
		}
	}
	if names, _ := st.ListFiles(ctx, ""); len(names) != 0 {
		t.Errorf("Generate of invalid domains stored %q", names)
	}
	for _, domain := range []string{"example.org", "xn--bcher-kva.example", "a-b.c0.example", "localhost"} {
		if err := checkDomain(domain); err != nil {
			t.Errorf("checkDomain(%q) = %v, want nil", domain, err)
		}
	}
}

// writeOldKey writes a key where versions before the store kept it.
func writeOldKey(t *testing.T, dir, domain, file string, key any) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, domain), 0o700)
	if err := os.WriteFile(filepath.Join(dir, domain, file), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An installation upgrading keeps the keys its DNS publishes: the data
// directory's dkim/ is imported once and left in place.
func TestImportDir(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	// Keys made the way older versions made them, in a directory.
	mem := teststore.Open(t)
	old, err := Generate(ctx, mem, "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeOldKey(t, dir, "example.org", "mr202607e.ed25519.pem", old.Ed25519)
	writeOldKey(t, dir, "example.org", "mr202607r.rsa.pem", old.RSA)
	writeOldKey(t, dir, "example.org", ".mr202608r.rsa.pem.tmp123", old.RSA) // an interrupted write
	writeOldKey(t, dir, "Not_A_Domain", "mr202607r.rsa.pem", old.RSA)

	buf := &logbuf.Buffer{}
	n, err := ImportDir(ctx, st, dir, slog.New(slog.NewTextHandler(buf, nil)))
	if err != nil || n != 2 {
		t.Fatalf("ImportDir = %d, %v; want 2 keys", n, err)
	}
	if !strings.Contains(buf.String(), "imported keys") {
		t.Errorf("import not logged: %s", buf)
	}
	got, err := Load(ctx, st, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got.Ed25519Selector != "mr202607e" || !got.Ed25519.Equal(old.Ed25519) || !got.RSA.Equal(old.RSA) {
		t.Fatal("imported keys differ from the data directory's")
	}
	if _, err := os.Stat(filepath.Join(dir, "example.org", "mr202607r.rsa.pem")); err != nil {
		t.Errorf("original removed: %v", err)
	}
	// Once: a key deleted later stays deleted, and nothing is logged.
	st.DeleteFile(ctx, "dkim/example.org/mr202607r.rsa.pem")
	buf = &logbuf.Buffer{}
	if n, err := ImportDir(ctx, st, dir, slog.New(slog.NewTextHandler(buf, nil))); err != nil || n != 0 || buf.String() != "" {
		t.Fatalf("second ImportDir = %d, %v, logged %q", n, err, buf)
	}
	// A data directory without dkim/ imports nothing, without error.
	if n, err := ImportDir(ctx, teststore.Open(t), filepath.Join(dir, "missing"), nil); err != nil || n != 0 {
		t.Fatalf("ImportDir of a missing directory = %d, %v", n, err)
	}
}
