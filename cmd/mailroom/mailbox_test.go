package main

import (
	"context"
	"testing"
)

func TestMailboxSeenCommand(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("secret-1\n", "user", "add", "ann@example.test", "--password-stdin")
	ctx := context.Background()
	st, err := openStore(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.Account(ctx, "ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateMailbox(ctx, acct.ID, "Team/Sub", ""); err != nil {
		t.Fatal(err)
	}
	st.Close()
	mode := func() bool {
		t.Helper()
		st, err := openStore(ctx, e.config)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		mb, err := st.Mailbox(ctx, acct.ID, "Team/Sub")
		if err != nil {
			t.Fatal(err)
		}
		return mb.SharedSeen
	}

	const perUser = "ann@example.test/Team/Sub: per-user: every user but the owner has their own \\Seen\n"
	const shared = "ann@example.test/Team/Sub: shared: every user sees and sets the owner's \\Seen\n"
	if out := e.ok("", "mailbox", "seen", "ann@example.test/Team/Sub"); out != perUser {
		t.Fatalf("mailbox seen: %q", out)
	}
	if out := e.ok("", "mailbox", "seen", "Ann@Example.test/Team/Sub", "shared"); out != shared || !mode() {
		t.Fatalf("mailbox seen shared: %q", out)
	}
	if out := e.ok("", "mailbox", "seen", "ann@example.test/Team/Sub"); out != shared {
		t.Fatalf("mailbox seen after the switch: %q", out)
	}
	if out := e.ok("", "mailbox", "seen", "ann@example.test/Team/Sub", "per-user"); out != perUser || mode() {
		t.Fatalf("mailbox seen per-user: %q", out)
	}
	if out := e.ok("", "mailbox", "seen", "ann@example.test/inbox"); out != "ann@example.test/INBOX: per-user: every user but the owner has their own \\Seen\n" {
		t.Fatalf("mailbox seen of INBOX: %q", out)
	}
	e.fails(`unknown mode "both"`, "mailbox", "seen", "ann@example.test/Team/Sub", "both")
	e.fails(`is not EMAIL/MAILBOX`, "mailbox", "seen", "ann@example.test")
	e.fails(`is not EMAIL/MAILBOX`, "mailbox", "seen", "ann@example.test/")
	e.fails(`usage: mailroom mailbox seen`, "mailbox", "seen")
	e.fails(`not found`, "mailbox", "seen", "ann@example.test/Nope", "shared")
	e.fails(`not found`, "mailbox", "seen", "ghost@example.test/INBOX")
}
