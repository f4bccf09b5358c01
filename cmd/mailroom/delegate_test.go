package main

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

func TestDelegateCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("", "domain", "add", "other.test")
	for _, u := range []string{"sales@example.test", "kim@example.test", "lee@other.test"} {
		e.ok("secret\n", "user", "add", u, "--password-stdin")
	}

	if out := e.ok("", "delegate", "grant", "sales@example.test", "Kim@Example.test", "--mode", "send-as"); out != "kim@example.test may send as sales@example.test (send-as)\n" {
		t.Fatalf("grant: %q", out)
	}
	e.ok("", "delegate", "grant", "--mode", "on-behalf", "sales@example.test", "@other.test")
	e.fails(`account nobody@example\.test: not found`, "delegate", "grant", "sales@example.test", "nobody@example.test", "--mode", "send-as")
	e.fails(`domain nowhere\.test: not found`, "delegate", "grant", "sales@example.test", "@nowhere.test", "--mode", "send-as")
	e.fails(`may always send as itself`, "delegate", "grant", "sales@example.test", "sales@example.test", "--mode", "send-as")
	e.fails(`account ghost@example\.test: not found`, "delegate", "grant", "ghost@example.test", "kim@example.test", "--mode", "send-as")

	// What the store holds, and what list shows.
	ctx := context.Background()
	st, err := openStore(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	kim, err := st.Account(ctx, "kim@example.test")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.DelegatedTo(ctx, kim.ID, kim.Email)
	st.Close()
	if err != nil || len(got) != 1 || got[0].Owner != "sales@example.test" || got[0].Mode != store.SendAs {
		t.Fatalf("kim may send as %+v, %v", got, err)
	}
	out := e.ok("", "delegate", "list", "sales@example.test")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "GRANTEE") || strings.Join(strings.Fields(lines[1]), " ") != "@other.test on-behalf" ||
		strings.Join(strings.Fields(lines[2]), " ") != "kim@example.test send-as" || lines[3] != "sent copies: delegate (the delegate's Sent only)" {
		t.Fatalf("delegate list sales:\n%s", out)
	}
	if out := e.ok("", "delegate", "list", "lee@other.test"); !strings.Contains(out, "lee@other.test may send as: sales@example.test (on-behalf)\n") {
		t.Fatalf("delegate list lee:\n%s", out)
	}

	e.ok("", "delegate", "sent-copy", "sales@example.test", "both")
	if out := e.ok("", "user", "get", "sales@example.test"); !strings.Contains(out, "delegation.sent_copy=both\n") {
		t.Fatalf("sent-copy not stored:\n%s", out)
	}
	e.fails(`delegation\.sent_copy wants one of delegate, both`, "delegate", "sent-copy", "sales@example.test", "owner")

	if out := e.ok("", "delegate", "revoke", "sales@example.test", "kim@example.test"); out != "kim@example.test may no longer send as sales@example.test\n" {
		t.Fatalf("revoke: %q", out)
	}
	e.fails(`not found`, "delegate", "revoke", "sales@example.test", "kim@example.test")
	if out := e.ok("", "delegate", "list", "sales@example.test"); strings.Contains(out, "kim@") || !strings.Contains(out, "sent copies: both") {
		t.Fatalf("after the revocation:\n%s", out)
	}

	for _, args := range [][]string{
		{"delegate"}, {"delegate", "zap"}, {"delegate", "grant", "sales@example.test", "kim@example.test"},
		{"delegate", "grant", "sales@example.test", "kim@example.test", "--mode", "all"},
		{"delegate", "grant", "sales@example.test", "anyone", "--mode", "send-as"},
		{"delegate", "revoke", "sales@example.test"}, {"delegate", "list"}, {"delegate", "sent-copy", "sales@example.test"},
	} {
		if code, _, errs := e.run("", args...); code != 2 || !strings.HasPrefix(errs, "mailroom: ") {
			t.Errorf("mailroom %v: exit %d, stderr %q; want 2 and a message", args, code, errs)
		}
	}
}
