package server

import (
	"context"
	"testing"

	"mailroom/internal/store/sqlitestore"
)

// TestMTASTSHosts: with an HTTPS listener, ACME may get certificates for
// mta-sts.<domain> of hosted domains only; without one, for nothing more
// than the hostname.
func TestMTASTSHosts(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	if mtaSTSHosts(cfg, st) != nil {
		t.Error("extra ACME names without an HTTPS listener")
	}
	cfg.Listen.HTTPS = "127.0.0.1:0"
	allowed := mtaSTSHosts(cfg, st)
	for name, want := range map[string]bool{
		"mta-sts.example.test": true,
		"mta-sts.other.test":   false,
		"example.test":         false,
		"mta-sts.":             false,
		"www.example.test":     false,
	} {
		if got := allowed(ctx, name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}
