package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestPasswdEndsWebSessions: `mailroom user passwd` logs the account's
// browsers out of the webmail (not other accounts').
func TestPasswdEndsWebSessions(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("secret-1\n", "user", "add", "ann@example.test", "--password-stdin")
	e.ok("secret-2\n", "user", "add", "bob@example.test", "--password-stdin")
	ctx := context.Background()
	annHash, bobHash := sha256.Sum256([]byte("ann's browser")), sha256.Sum256([]byte("bob's browser"))
	func() {
		st, err := openStore(ctx, e.config)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		now := time.Now()
		for email, h := range map[string][]byte{"ann@example.test": annHash[:], "bob@example.test": bobHash[:]} {
			acct, err := st.Account(ctx, email)
			if err == nil {
				err = st.CreateWebSession(ctx, store.WebSession{TokenHash: h, AccountID: acct.ID, Created: now, LastSeen: now})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}()

	if out := e.ok("new-secret\n", "user", "passwd", "ann@example.test", "--password-stdin"); !strings.Contains(out, "logged out") {
		t.Fatalf("user passwd said %q", out)
	}
	st, err := openStore(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.WebSession(ctx, annHash[:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ann's web session after user passwd: %v", err)
	}
	if _, err := st.WebSession(ctx, bobHash[:]); err != nil {
		t.Fatalf("bob's web session after ann's user passwd: %v", err)
	}
}
