package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"mailroom/internal/acl"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// aclTests cover the access control lists of shared mailboxes (store.ACLs)
// and copies and moves between accounts.
var aclTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"ACLModify", testACLModify},
	{"ACLIdentifiers", testACLIdentifiers},
	{"ACLSharedWith", testACLSharedWith},
	{"ACLLifecycle", testACLLifecycle},
	{"ACLLimit", testACLLimit},
	{"CopyAcrossAccounts", testCopyAcrossAccounts},
	{"CopyKeep", testCopyKeep},
	{"SharedAccount", testSharedAccount},
}

// testSharedAccount: a shared mailbox (support@) is an account with the
// default mailboxes that nobody can log in as, and every read of
// accounts says it is shared.
func testSharedAccount(t *testing.T, st store.Store) {
	ctx := context.Background()
	kim := newAccount(t, st, "kim@example.test")
	support := must(st.CreateSharedAccount(ctx, "Support@Example.test"))
	if !support.Shared || support.Email != "support@example.test" || support.ID == 0 {
		t.Fatalf("created %+v", support)
	}
	if got := must(st.Account(ctx, "support@example.test")); !got.Shared || got.ID != support.ID {
		t.Fatalf("Account: %+v", got)
	}
	if got := must(st.Account(ctx, "kim@example.test")); got.Shared {
		t.Fatalf("a person's account is shared: %+v", got)
	}
	for _, a := range must(st.Accounts(ctx)) {
		if a.Shared != (a.ID == support.ID) {
			t.Fatalf("Accounts: %+v", a)
		}
	}
	if info := must(st.LookupAddress(ctx, "support@example.test")); info.Account == nil || !info.Account.Shared {
		t.Fatalf("LookupAddress: %+v", info)
	}
	if _, _, err := st.LookupCredentials(ctx, "support@example.test"); !errors.Is(err, auth.ErrUnknownAccount) {
		t.Fatalf("LookupCredentials of a shared mailbox: %v, want ErrUnknownAccount", err)
	}
	names := map[string]bool{}
	for _, mb := range must(st.MailboxList(ctx, support.ID)) {
		names[mb.Name] = true
	}
	for _, m := range store.DefaultMailboxes {
		if !names[m.Name] {
			t.Fatalf("shared mailbox lacks %s: %v", m.Name, names)
		}
	}
	wantErr(t, must2err(st.CreateSharedAccount(ctx, "kim@example.test")), store.ErrExists, "shared mailbox over an account")
	wantErr(t, must2err(st.CreateSharedAccount(ctx, "info@nowhere.test")), store.ErrUnknownDomain, "shared mailbox in an unknown domain")
	wantErr(t, must2err(st.CreateSharedAccount(ctx, "not an address")), store.ErrInvalid, "shared mailbox with a bad address")

	// SharedWith says whose folders are a shared mailbox's.
	inbox := mailbox(t, st, support, "INBOX")
	must(st.ModifyACL(ctx, inbox.ID, "kim@example.test", acl.Replace, acl.ReadWrite))
	owner := newAccount(t, st, "owner@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, acl.ReadOnly))
	shared := must(st.SharedWith(ctx, kim.ID, acl.IdentifiersOf("kim@example.test")))
	if len(shared) != 2 || shared[0].Owner != "owner@example.test" || shared[0].OwnerShared || shared[1].Owner != "support@example.test" || !shared[1].OwnerShared {
		t.Fatalf("SharedWith: %+v", shared)
	}
	ok(t, st.DeleteAccount(ctx, "support@example.test"))
}

func testACLModify(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	newAccount(t, st, "kim@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	if got := must(st.MailboxACL(ctx, team.ID)); len(got) != 0 {
		t.Fatalf("new mailbox's list: %v", got)
	}
	sub := st.Subscribe(owner.ID)
	defer sub.Close()

	// RFC 4314 3.1's example: lrswi, then +cda.
	lrswi, _ := acl.Parse("lrswi")
	if got := must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, lrswi)); got != lrswi {
		t.Fatalf("replace: %q", got)
	}
	cda, _ := acl.Parse("cda")
	if got := must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Add, cda)).String(); got != "lrswikxteacd" {
		t.Fatalf("+cda: %q", got)
	}
	if got := must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Remove, acl.Admin|acl.Write)).String(); got != "lrsikxtecd" {
		t.Fatalf("-aw: %q", got)
	}
	want := []acl.Entry{{Identifier: "kim@example.test", Rights: must(acl.Parse("lrsikxte"))}}
	if got := must(st.MailboxACL(ctx, team.ID)); !slices.Equal(got, want) {
		t.Fatalf("list %v, want %v", got, want)
	}
	waitEvent(t, sub, func(e store.Event) bool {
		return e.Kind == store.EventACLChanged && e.MailboxID == team.ID && e.AccountID == owner.ID
	})

	// Removing every right removes the entry (DELETEACL).
	if got := must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, 0)); got != 0 {
		t.Fatalf("delete: %q", got)
	}
	if got := must(st.MailboxACL(ctx, team.ID)); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
	// Deleting what is not there is no error; neither is removing rights
	// from an identifier without an entry.
	must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, 0))
	if got := must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Remove, acl.Read)); got != 0 {
		t.Fatalf("remove from nothing: %q", got)
	}
	if got := must(st.MailboxACL(ctx, team.ID)); len(got) != 0 {
		t.Fatalf("after removing from nothing: %v", got)
	}

	_, err := st.MailboxACL(ctx, 1<<40)
	wantErr(t, err, store.ErrNotFound, "list of a mailbox that does not exist")
	_, err = st.ModifyACL(ctx, 1<<40, "kim@example.test", acl.Replace, acl.Read)
	wantErr(t, err, store.ErrNotFound, "modify a mailbox that does not exist")
}

func testACLIdentifiers(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	for _, id := range []string{acl.Anyone, acl.Authenticated, "@example.test"} {
		must(st.ModifyACL(ctx, team.ID, id, acl.Replace, acl.Lookup))
	}
	got := must(st.MailboxACL(ctx, team.ID))
	if len(got) != 3 || got[0].Identifier != "@example.test" || got[1].Identifier != acl.Anyone || got[2].Identifier != acl.Authenticated {
		t.Fatalf("list %v", got)
	}
	for _, tc := range []struct {
		id   string
		want error
	}{
		{"nobody@example.test", store.ErrNotFound},           // no such account
		{"@elsewhere.test", store.ErrNotFound},               // no such domain
		{"owner@example.test", store.ErrInvalid},             // the owner always has every right
		{"Kim@Example.test", store.ErrInvalid},               // not canonical
		{"-kim@example.test", store.ErrInvalid},              // negative rights
		{"", store.ErrInvalid},                               // empty
		{"kim", store.ErrInvalid},                            // not an address
		{"kim@example.test\x00", store.ErrInvalid},           // control character
		{"ANYONE", store.ErrInvalid},                         // not canonical
		{"@", store.ErrInvalid},                              // no domain
		{"kim@example.test kim", store.ErrInvalid},           // space
		{"a\xffb@example.test", store.ErrInvalid},            // not UTF-8
		{"x@" + string(make([]byte, 300)), store.ErrInvalid}, // too long
	} {
		_, err := st.ModifyACL(ctx, team.ID, tc.id, acl.Replace, acl.Read)
		wantErr(t, err, tc.want, fmt.Sprintf("identifier %q", tc.id))
	}
	if got := must(st.MailboxACL(ctx, team.ID)); len(got) != 3 {
		t.Fatalf("refused identifiers changed the list: %v", got)
	}
}

func testACLSharedWith(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	kim := newAccount(t, st, "kim@example.test")
	lee := newAccount(t, st, "lee@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	bills := must(st.CreateMailbox(ctx, lee.ID, "Bills", ""))
	must(st.CreateMailbox(ctx, owner.ID, "Private", ""))
	must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, acl.ReadWrite))
	must(st.ModifyACL(ctx, team.ID, "@example.test", acl.Replace, acl.Lookup))
	must(st.ModifyACL(ctx, bills.ID, acl.Anyone, acl.Replace, acl.ReadOnly))
	must(st.ModifyACL(ctx, bills.ID, "owner@example.test", acl.Replace, acl.All))

	got := must(st.SharedWith(ctx, kim.ID, acl.IdentifiersOf(kim.Email)))
	if len(got) != 2 || got[0].Owner != "lee@example.test" || got[0].Name != "Bills" || got[1].Owner != "owner@example.test" || got[1].Name != "Team" {
		t.Fatalf("shared with kim: %+v", got)
	}
	if got[1].ID != team.ID || got[1].AccountID != owner.ID || got[1].UIDValidity != team.UIDValidity {
		t.Fatalf("shared mailbox record %+v, want %+v", got[1].Mailbox, team)
	}
	wantACL := []acl.Entry{{Identifier: "@example.test", Rights: acl.Lookup}, {Identifier: "kim@example.test", Rights: acl.ReadWrite}}
	if !slices.Equal(got[1].ACL, wantACL) {
		t.Fatalf("Team's list %v, want %v", got[1].ACL, wantACL)
	}
	// An owner's own mailboxes are never "shared with" them, even when a
	// group they are in is named.
	got = must(st.SharedWith(ctx, owner.ID, acl.IdentifiersOf(owner.Email)))
	if len(got) != 1 || got[0].ID != bills.ID {
		t.Fatalf("shared with owner: %+v", got)
	}
	if got := must(st.SharedWith(ctx, kim.ID, nil)); len(got) != 0 {
		t.Fatalf("no identifiers: %+v", got)
	}
	if got := must(st.MailboxByID(ctx, team.ID)); got.Name != "Team" || got.AccountID != owner.ID {
		t.Fatalf("MailboxByID: %+v", got)
	}
	_, err := st.MailboxByID(ctx, 1<<40)
	wantErr(t, err, store.ErrNotFound, "MailboxByID of nothing")
}

func testACLLifecycle(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	kim := newAccount(t, st, "kim@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	must(st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, acl.ReadWrite|acl.Create))

	// A child inherits its parent's list, also the levels created on the way.
	deep := must(st.CreateMailbox(ctx, owner.ID, "Team/2026/Q1", ""))
	mid := mailbox(t, st, owner, "Team/2026")
	for _, mb := range []store.Mailbox{deep, mid} {
		if got := must(st.MailboxACL(ctx, mb.ID)); len(got) != 1 || got[0].Rights != acl.ReadWrite|acl.Create {
			t.Fatalf("%s's list %v", mb.Name, got)
		}
	}
	// A list follows RENAME.
	ok(t, st.RenameMailbox(ctx, owner.ID, "Team", "Crew"))
	crew := mailbox(t, st, owner, "Crew")
	if got := must(st.MailboxACL(ctx, crew.ID)); len(got) != 1 {
		t.Fatalf("after rename: %v", got)
	}
	// DELETE takes the list along.
	ok(t, st.DeleteMailbox(ctx, owner.ID, "Crew/2026/Q1"))
	_, err := st.MailboxACL(ctx, deep.ID)
	wantErr(t, err, store.ErrNotFound, "list of a deleted mailbox")

	// Deleting kim's account removes what was shared with kim: a new
	// account with the address starts with nothing.
	ok(t, st.DeleteAccount(ctx, kim.Email))
	if got := must(st.MailboxACL(ctx, crew.ID)); len(got) != 0 {
		t.Fatalf("entry of a deleted account survived: %v", got)
	}
	kim2 := newAccount(t, st, "kim@example.test")
	if got := must(st.SharedWith(ctx, kim2.ID, acl.IdentifiersOf(kim2.Email))); len(got) != 0 {
		t.Fatalf("new account inherited shares: %+v", got)
	}
	// Deleting the owner's account takes the lists of its mailboxes.
	must(st.ModifyACL(ctx, crew.ID, "kim@example.test", acl.Replace, acl.Read))
	ok(t, st.DeleteAccount(ctx, owner.Email))
	if got := must(st.SharedWith(ctx, kim2.ID, acl.IdentifiersOf(kim2.Email))); len(got) != 0 {
		t.Fatalf("mailboxes of a deleted owner still shared: %+v", got)
	}
}

func testACLLimit(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	for i := range store.MaxACLEntries {
		if _, err := st.CreateDomain(ctx, fmt.Sprintf("d%d.test", i)); err != nil {
			t.Fatal(err)
		}
		must(st.ModifyACL(ctx, team.ID, fmt.Sprintf("@d%d.test", i), acl.Replace, acl.Lookup))
	}
	must(st.CreateDomain(ctx, "one-more.test"))
	_, err := st.ModifyACL(ctx, team.ID, "@one-more.test", acl.Replace, acl.Lookup)
	wantErr(t, err, store.ErrInvalid, "an entry beyond the limit")
	// Changing an existing entry still works at the limit.
	if got := must(st.ModifyACL(ctx, team.ID, "@d0.test", acl.Add, acl.Read)); got != acl.Lookup|acl.Read {
		t.Fatalf("change at the limit: %q", got)
	}
	if got := must(st.MailboxACL(ctx, team.ID)); len(got) != store.MaxACLEntries {
		t.Fatalf("%d entries", len(got))
	}
}

func testCopyAcrossAccounts(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	kim := newAccount(t, st, "kim@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	inbox := mailbox(t, st, kim, "INBOX")
	d := deliver(t, st, Message("shared", "body shared"), store.Target{MailboxID: inbox.ID, Flags: store.FlagFlagged, Keywords: []string{"$label1"}})
	deliver(t, st, Message("shared-reply", "body reply"), store.Target{MailboxID: team.ID})

	c := must(st.Copy(ctx, inbox.ID, []uint32{d[0].UID}, team.ID, store.KeepAll))
	if len(c.DestUIDs) != 1 || c.UIDValidity != team.UIDValidity {
		t.Fatalf("copy %+v", c)
	}
	list := must(st.MessageList(ctx, team.ID))
	if len(list) != 2 {
		t.Fatalf("Team has %d messages", len(list))
	}
	cp := list[1]
	if cp.UID != c.DestUIDs[0] || cp.Flags != store.FlagFlagged || !slices.Equal(cp.Keywords, []string{"$label1"}) {
		t.Fatalf("copy in Team: %+v", cp)
	}
	if cp.ID == d[0].ID {
		t.Fatal("a copy kept the source's ID")
	}
	// Its ID and conversation are the owner's: not those of any other
	// message of the owner, but its body is the same.
	for _, m := range list[:1] {
		if m.ID == cp.ID {
			t.Fatalf("copy's ID %d is taken in the owner's account", cp.ID)
		}
	}
	if string(readBody(t, st, team.ID, cp.UID)) != string(Message("shared", "body shared")) {
		t.Fatal("copy's body differs")
	}
	// A move across accounts removes the source and gives a new ID there.
	mv := must(st.Move(ctx, team.ID, []uint32{list[0].UID}, inbox.ID, store.KeepAll))
	if len(mv.DestUIDs) != 1 || len(must(st.MessageList(ctx, team.ID))) != 1 {
		t.Fatalf("move %+v", mv)
	}
	inboxList := must(st.MessageList(ctx, inbox.ID))
	if len(inboxList) != 2 || inboxList[0].ID == inboxList[1].ID {
		t.Fatalf("kim's INBOX after the move %+v", inboxList)
	}
	// The bodies outlive the originals.
	must(st.Expunge(ctx, inbox.ID, []uint32{d[0].UID}))
	if string(readBody(t, st, team.ID, cp.UID)) != string(Message("shared", "body shared")) {
		t.Fatal("copy lost its body when the original was expunged")
	}
}

func testCopyKeep(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	archive := mailbox(t, st, acct, "Archive")
	all := store.FlagSeen | store.FlagAnswered | store.FlagDeleted | store.FlagDraft
	d := deliver(t, st, Message("k1", "b"), store.Target{MailboxID: inbox.ID, Flags: all, Keywords: []string{"$Forwarded"}})
	deliver(t, st, Message("k2", "b"), store.Target{MailboxID: inbox.ID, Flags: all, Keywords: []string{"$Forwarded"}})
	// RFC 4314 4's example: rights "rwis" keep every flag but \Deleted;
	// rights "rsti" keep \Seen and \Deleted and no keyword.
	c := must(st.Copy(ctx, inbox.ID, []uint32{d[0].UID}, archive.ID, store.Keep{Flags: all &^ store.FlagDeleted, Keywords: true}))
	m := must(st.Move(ctx, inbox.ID, []uint32{d[0].UID + 1}, archive.ID, store.Keep{Flags: store.FlagSeen | store.FlagDeleted}))
	list := must(st.MessageList(ctx, archive.ID))
	byUID := map[uint32]store.MessageMeta{}
	for _, x := range list {
		byUID[x.UID] = x
	}
	if x := byUID[c.DestUIDs[0]]; x.Flags != all&^store.FlagDeleted || !slices.Equal(x.Keywords, []string{"$Forwarded"}) {
		t.Fatalf("copy kept %v %v", x.Flags.Names(), x.Keywords)
	}
	if x := byUID[m.DestUIDs[0]]; x.Flags != store.FlagSeen|store.FlagDeleted || len(x.Keywords) != 0 {
		t.Fatalf("move kept %v %v", x.Flags.Names(), x.Keywords)
	}
}

// waitEvent waits for an event of the subscription that ok accepts.
func waitEvent(t *testing.T, sub *store.Subscription, ok func(store.Event) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-sub.Ready():
			for _, e := range sub.Take().Events {
				if ok(e) {
					return
				}
			}
		case <-deadline:
			t.Fatal("no such event")
		}
	}
}
