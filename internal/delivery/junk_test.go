package delivery

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// A quarantined message goes to the account's Junk mailbox: the one marked
// \Junk even when renamed, or a new "Junk" when the user deleted it.
func TestQuarantineGoesToJunk(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	deliver := func(rcpt string, quarantine ...string) {
		t.Helper()
		m, err := st.Stage(ctx, strings.NewReader("Subject: q\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		env := Envelope{From: "x@remote.example", Quarantine: quarantine,
			Recipients: []Recipient{{Address: rcpt, Resolved: mustResolve(t, a, rcpt)}}}
		if err := a.Deliver(ctx, m, env); err != nil {
			t.Fatal(err)
		}
		m.Discard()
	}

	deliver("ann@example.test", "dmarc=fail (p=quarantine)")
	deliver("ann@example.test")
	if n, j := len(inbox(t, st, "ann@example.test")), len(messages(t, st, "ann@example.test", "Junk")); n != 1 || j != 1 {
		t.Fatalf("INBOX %d, Junk %d; want 1 and 1", n, j)
	}

	bob, _ := st.Account(ctx, "bob@example.test")
	if err := st.RenameMailbox(ctx, bob.ID, "Junk", "Spam"); err != nil {
		t.Fatal(err)
	}
	deliver("bob@example.test", "blocklist")
	if j := len(messages(t, st, "bob@example.test", "Spam")); j != 1 {
		t.Fatalf("renamed \\Junk mailbox has %d messages, want 1", j)
	}

	cat, _ := st.Account(ctx, "cat@other.test")
	if err := st.DeleteMailbox(ctx, cat.ID, "Junk"); err != nil {
		t.Fatal(err)
	}
	deliver("cat@other.test", "blocklist")
	if j := len(messages(t, st, "cat@other.test", "Junk")); j != 1 {
		t.Fatalf("recreated Junk has %d messages, want 1", j)
	}
	if mb, _ := st.Mailbox(ctx, cat.ID, "Junk"); mb.SpecialUse != store.SpecialJunk {
		t.Errorf("recreated Junk has special use %q", mb.SpecialUse)
	}
	if n := len(inbox(t, st, "cat@other.test")); n != 0 {
		t.Errorf("INBOX got %d quarantined messages", n)
	}
}
