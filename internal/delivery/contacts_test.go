package delivery_test

import (
	"context"
	"strings"
	"testing"
)

// suggested lists the addresses an account's contacts suggest for text.
func (r *rig) suggested(email, text string) string {
	r.t.Helper()
	ctx := context.Background()
	acct, err := r.st.Account(ctx, email)
	if err != nil {
		r.t.Fatal(err)
	}
	got, err := r.st.SuggestContacts(ctx, acct.ID, text, 50)
	if err != nil {
		r.t.Fatal(err)
	}
	var l []string
	for _, c := range got {
		l = append(l, c.Email)
	}
	return strings.Join(l, " ")
}

// TestContactsOnlyFromInbox: the author of a message is collected for
// each account whose copy went to INBOX, not for one whose Sieve script
// filed it elsewhere, nor for the account itself.
func TestContactsOnlyFromInbox(t *testing.T) {
	r := newRig(t, false)
	r.script("bob@example.test", `require ["fileinto"]; if header :contains "subject" "invoice" { fileinto "Archive"; }`)
	r.deliver("x@remote.example", message("Xena Smith <x@remote.example>", "ann@example.test, bob@example.test", "invoice 7", ""),
		"ann@example.test", "bob@example.test")
	if got := r.suggested("ann@example.test", "xena"); got != "x@remote.example" {
		t.Errorf("ann (INBOX): %q", got)
	}
	if got := r.suggested("bob@example.test", "x"); got != "" {
		t.Errorf("bob (filed into Archive): %q", got)
	}
	r.deliver("ann@example.test", message("Ann <ann@example.test>", "ann@example.test", "note to self", ""), "ann@example.test")
	if got := r.suggested("ann@example.test", "ann"); got != "" {
		t.Errorf("ann collected herself: %q", got)
	}
}
