package main

import (
	"strings"
	"testing"
)

// An admin makes a shared mailbox with members, changes who may use it,
// and gets clear errors for what cannot be.
func TestSharedMailboxCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("secret-1\n", "user", "add", "kim@example.test", "--password-stdin")
	e.ok("secret-2\n", "user", "add", "lee@example.test", "--password-stdin")

	out := e.ok("", "mailbox", "create", "--shared", "Support@example.test", "--member", "kim@example.test", "--member", "lee@example.test=read")
	if !strings.Contains(out, "created shared mailbox support@example.test") || !strings.Contains(out, "kim@example.test may use it: lrswipte") ||
		!strings.Contains(out, "lee@example.test may use it: lrs") {
		t.Fatalf("mailbox create --shared:\n%s", out)
	}
	if out := e.ok("", "user", "list"); !strings.Contains(out, "support@example.test (shared mailbox)\n") || !strings.Contains(out, "kim@example.test\n") {
		t.Fatalf("user list:\n%s", out)
	}
	out = e.ok("", "acl", "show", "support@example.test")
	for _, want := range []string{"support@example.test (shared mailbox)", "INBOX", "Sent", "kim@example.test", "lrswipted", "lee@example.test"} {
		if !strings.Contains(out, want) {
			t.Fatalf("acl show lacks %q:\n%s", want, out)
		}
	}
	// One mailbox, then every one; + and - as SETACL has them.
	out = e.ok("", "acl", "set", "support@example.test", "INBOX", "lee@example.test", "+i")
	if !strings.Contains(out, "INBOX") || !strings.Contains(out, "lee@example.test                 lrsi") {
		t.Fatalf("acl set +i:\n%s", out)
	}
	e.ok("", "acl", "set", "support@example.test", "*", "@example.test", "read")
	e.ok("", "acl", "del", "support@example.test", "*", "lee@example.test")
	out = e.ok("", "acl", "show", "support@example.test", "Trash")
	if strings.Contains(out, "lee@example.test") || !strings.Contains(out, "@example.test") || !strings.Contains(out, "kim@example.test") {
		t.Fatalf("after acl set * and del *:\n%s", out)
	}
	// --send-as lets the members send as the shared address.
	out = e.ok("", "mailbox", "create", "--shared", "info@example.test", "--member", "kim@example.test", "--send-as")
	if !strings.Contains(out, "kim@example.test may send as info@example.test") {
		t.Fatalf("mailbox create --send-as:\n%s", out)
	}
	if out := e.ok("", "delegate", "list", "info@example.test"); !strings.Contains(out, "kim@example.test") || !strings.Contains(out, "send-as") {
		t.Fatalf("delegate list after --send-as:\n%s", out)
	}

	// A person's account can share too.
	e.ok("", "acl", "set", "kim@example.test", "Archive", "lee@example.test", "full")
	if out := e.ok("", "acl", "show", "kim@example.test", "Archive"); !strings.Contains(out, "kim@example.test (account)") || !strings.Contains(out, "lrswipkxteacd") {
		t.Fatalf("acl show of a person's folder:\n%s", out)
	}

	e.fails(`is a shared mailbox: nobody logs in as it`, "user", "passwd", "support@example.test", "--password-stdin")
	e.fails(`is a shared mailbox: nobody logs in as it`, "user", "app-password", "add", "support@example.test", "phone")
	e.fails(`already an account`, "mailbox", "create", "--shared", "kim@example.test")
	e.fails(`unknown domain`, "mailbox", "create", "--shared", "info@nowhere.test")
	e.fails(`usage: mailroom mailbox create`, "mailbox", "create", "office@example.test")
	e.fails(`unknown right`, "mailbox", "create", "--shared", "office@example.test", "--member", "kim@example.test=lrQ")
	e.fails(`without \+ or -`, "mailbox", "create", "--shared", "office@example.test", "--member", "kim@example.test=-w")
	e.fails(`without \+ or -`, "mailbox", "create", "--shared", "office@example.test", "--member", "kim@example.test=-")
	e.fails(`unknown right`, "acl", "set", "support@example.test", "INBOX", "kim@example.test", "lrz")
	e.fails(`not found`, "acl", "set", "support@example.test", "INBOX", "ghost@example.test", "read")
	e.fails(`not found`, "acl", "set", "support@example.test", "Nope", "kim@example.test", "read")
	e.fails(`identifier`, "acl", "set", "support@example.test", "INBOX", "kim@", "read")
	e.fails(`usage: mailroom acl`, "acl", "show")
	e.fails(`usage: mailroom acl`, "acl", "frob")
}
