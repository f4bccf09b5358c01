package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestUserFetchList: the operator sees an account's sources, their
// status and last error, never the remote password.
func TestUserFetchList(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("main-secret\n", "user", "add", "demo@example.test", "--password-stdin")
	ctx := context.Background()
	st, err := openStore(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.Account(ctx, "demo@example.test")
	if err != nil {
		t.Fatal(err)
	}
	src, err := st.AddFetchSource(ctx, store.FetchSource{AccountID: acct.ID, Protocol: store.FetchPOP3, Host: "pop.example.net",
		Security: store.FetchTLS, Username: "demo", Password: "remote-secret", Delete: true, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetFetchStatus(ctx, src.ID, store.FetchStatus{LastAttempt: time.Now(), LastError: `login failed: the server said "no"`, Failures: 3}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out := e.ok("", "user", "fetch", "list", "demo@example.test")
	for _, want := range []string{"pop3://demo@pop.example.net:995 (tls)", "[delete]", "failures in a row 3", `last error: login failed: the server said "no"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "remote-secret") {
		t.Errorf("the password is shown:\n%s", out)
	}
	e.fails(`ghost@example\.test: not found`, "user", "fetch", "list", "ghost@example.test")
}
