package mailbox

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mailroom/internal/acl"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// TestLeave: a user removes the entry naming them from a folder shared
// with them, without the "a" right, and learns which group entries still
// give them access; with only a group's entry they cannot leave; nobody
// else's entry changes; an owner cannot leave their own folder.
func TestLeave(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, email := range []string{"kim@example.test", "lee@example.test"} {
		if _, err := f.st.CreateAccount(ctx, email, auth.Credentials{Argon2id: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	kimAcct, err := f.st.Account(ctx, "kim@example.test")
	if err != nil {
		t.Fatal(err)
	}
	ann := f.reg.User(f.inbox.AccountID, "ann@example.test")
	team, err := ann.CreateMailbox(ctx, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	for id, rights := range map[string]acl.Rights{"kim@example.test": acl.ReadOnly, "lee@example.test": acl.ReadWrite, "@example.test": acl.Lookup} {
		if _, err := ann.SetACL(ctx, team, id, acl.Replace, rights); err != nil {
			t.Fatal(err)
		}
	}
	kim := f.reg.User(kimAcct.ID, "Kim@example.test")
	shared, err := kim.Folder(ctx, OtherUsersPrefix+"ann@example.test/Team")
	if err != nil {
		t.Fatal(err)
	}
	if shared.Rights().Has(acl.Admin) {
		t.Fatal("kim has the a right: the test would not show Leave needs none")
	}
	// Grants names kim's entries only, never lee's.
	grants, err := kim.Grants(ctx, shared)
	want := []acl.Entry{{Identifier: "@example.test", Rights: acl.Lookup}, {Identifier: "kim@example.test", Rights: acl.ReadOnly}}
	if err != nil || !slices.Equal(grants, want) {
		t.Fatalf("Grants = %v, %v; want %v", grants, err, want)
	}
	if g, err := ann.Grants(ctx, team); err != nil || len(g) != 0 {
		t.Fatalf("Grants of the owner's own folder = %v, %v", g, err)
	}

	still, err := kim.Leave(ctx, shared)
	if err != nil || !slices.Equal(still, want[:1]) {
		t.Fatalf("Leave = %v, %v; want the domain's entry left", still, err)
	}
	entries, err := f.st.MailboxACL(ctx, team.ID())
	wantACL := []acl.Entry{{Identifier: "@example.test", Rights: acl.Lookup}, {Identifier: "lee@example.test", Rights: acl.ReadWrite}}
	if err != nil || !slices.Equal(entries, wantACL) {
		t.Fatalf("list after kim left: %v, %v; want %v", entries, err, wantACL)
	}
	// Still visible through the domain, but no longer kim's to leave.
	shared, err = kim.Folder(ctx, OtherUsersPrefix+"ann@example.test/Team")
	if err != nil || shared.Rights() != acl.Lookup {
		t.Fatalf("after leaving: %v rights %q", err, shared.Rights())
	}
	if still, err := kim.Leave(ctx, shared); !errors.Is(err, ErrNotNamed) || !slices.Equal(still, want[:1]) {
		t.Fatalf("Leave with only the domain's entry = %v, %v; want ErrNotNamed", still, err)
	}
	if entries, _ := f.st.MailboxACL(ctx, team.ID()); !slices.Equal(entries, wantACL) {
		t.Fatalf("a refused Leave changed the list: %v", entries)
	}
	if _, err := ann.Leave(ctx, team); !errors.Is(err, ErrOwnerRights) {
		t.Fatalf("the owner leaving: %v", err)
	}
	// Without the domain's entry the folder is gone from kim's view.
	if _, err := ann.SetACL(ctx, team, "@example.test", acl.Replace, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := kim.Folder(ctx, OtherUsersPrefix+"ann@example.test/Team"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after leaving and the domain's entry removed: %v", err)
	}
}
