package smtp

import (
	"strings"
	"testing"
)

// TestPostmasterWithoutAdmin: on an installation made as the README's
// production quickstart says (a domain, one account, no admin, no
// [smtp] postmaster), postmaster@ every local domain is accepted and
// reaches the first account created, the operator's; it used to be
// refused with 451 forever (RFC 5321 4.5.1 requires postmaster to work).
func TestPostmasterWithoutAdmin(t *testing.T) {
	r := newRig(t, nil)
	r.Account("you@example.test")
	r.Account("later@example.test")
	c := r.dial(r.Addr("smtp"))
	for _, rcpt := range []string{"postmaster@example.test", "Postmaster@other.test"} {
		if err := send(c, "x@remote.example", []string{rcpt}, msg("to "+rcpt)); err != nil {
			t.Fatalf("RCPT TO:<%s>: %v", rcpt, err)
		}
	}
	got := r.Bodies("you@example.test", "INBOX")
	if len(got) != 2 || !strings.Contains(got[0], "to postmaster@example.test") {
		t.Fatalf("the first account got %d postmaster messages, want 2", len(got))
	}
	if n := len(r.Bodies("later@example.test", "INBOX")); n != 0 {
		t.Fatalf("a later account got %d postmaster messages", n)
	}
}
