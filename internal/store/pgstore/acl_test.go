package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/acl"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

// Changes of one list on both nodes at once: none is lost, and the list
// never grows past MaxACLEntries, however many entries are added at once.
func TestConcurrentNodesACL(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	newTestAccount(t, a, "kim@example.test")
	team, err := a.CreateMailbox(ctx, acct.ID, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	// Each adds one right to the same entry: the entry ends with all.
	rights := []acl.Rights{acl.Lookup, acl.Read, acl.Seen, acl.Write, acl.Insert, acl.Post, acl.Create, acl.DeleteMailbox}
	errs := race(len(rights), a, b, func(st *Store, i int) error {
		_, err := st.ModifyACL(ctx, team.ID, "kim@example.test", acl.Add, rights[i])
		return err
	})
	var want acl.Rights
	for i, err := range errs {
		if err != nil {
			t.Fatalf("add %q: %v", rights[i], err)
		}
		want |= rights[i]
	}
	if got, err := b.MailboxACL(ctx, team.ID); err != nil || len(got) != 1 || got[0].Rights != want {
		t.Fatalf("list %v, %v; want kim with %q", got, err, want)
	}

	// The list filled up to three short of the bound behind the store's
	// back (the store checks identifiers; the bound is what is tested),
	// then eight new entries at once: three get in.
	mustExec(t, a, `INSERT INTO mailbox_acl (mailbox_id, identifier, rights)
		SELECT $1, '@filler' || i || '.test', 1 FROM generate_series(1, $2::int) i`, team.ID, store.MaxACLEntries-4)
	for i := range 8 {
		if _, err := a.CreateDomain(ctx, fmt.Sprintf("new%d.test", i)); err != nil {
			t.Fatal(err)
		}
	}
	errs = race(8, a, b, func(st *Store, i int) error {
		_, err := st.ModifyACL(ctx, team.ID, fmt.Sprintf("@new%d.test", i), acl.Replace, acl.Lookup)
		return err
	})
	added := 0
	for _, err := range errs {
		switch {
		case err == nil:
			added++
		case !errors.Is(err, store.ErrInvalid):
			t.Fatalf("add an entry: %v", err)
		}
	}
	if n := count(t, a, "SELECT count(*) FROM mailbox_acl WHERE mailbox_id = $1", team.ID); added != 3 || n != store.MaxACLEntries {
		t.Errorf("%d entries added, %d in the list; want 3 and %d", added, n, store.MaxACLEntries)
	}
}

// An entry added on one node while the other deletes the account it
// names: either the entry came first and went with the account, or the
// account went first and the entry was refused. Never an entry naming an
// account that is gone, for a new account of that address to inherit.
func TestConcurrentNodesACLDeleteAccount(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	team, err := a.CreateMailbox(ctx, acct.ID, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		email := fmt.Sprintf("kim%d@example.test", round)
		newTestAccount(t, a, email)
		errs := race(2, a, b, func(st *Store, i int) error {
			if i == 0 {
				_, err := st.ModifyACL(ctx, team.ID, email, acl.Replace, acl.ReadOnly)
				return err
			}
			return st.DeleteAccount(ctx, email)
		})
		if errs[1] != nil {
			t.Fatalf("round %d: delete account: %v", round, errs[1])
		}
		if errs[0] != nil && !errors.Is(errs[0], store.ErrNotFound) {
			t.Fatalf("round %d: modify: %v", round, errs[0])
		}
		if n := count(t, a, "SELECT count(*) FROM mailbox_acl WHERE identifier = $1", email); n != 0 {
			t.Fatalf("round %d: an entry for the deleted %s survived", round, email)
		}
	}
}

// A change of a list made on node B reaches node A's subscribers of the
// owner as EventACLChanged of the mailbox (without its name), and those
// that follow others' lists (Subscription.Follow) too.
func TestFeedACLAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	newTestAccount(t, a, "kim@example.test")
	team, err := a.CreateMailbox(ctx, acct.ID, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	onA, onB := watch(t, a, acct.ID), watch(t, b, acct.ID)
	kim, err := a.Account(ctx, "kim@example.test")
	if err != nil {
		t.Fatal(err)
	}
	follower := watch(t, a, kim.ID)
	follower.sub.Follow(nil)
	if _, err := b.ModifyACL(ctx, team.ID, "kim@example.test", acl.Replace, acl.ReadOnly); err != nil {
		t.Fatal(err)
	}
	onB.until("EventACLChanged on B", func(e store.Event) bool {
		return e.Kind == store.EventACLChanged && e.AccountID == acct.ID && e.MailboxID == team.ID && e.Name == "Team"
	})
	fromB := func(e store.Event) bool {
		return e.Kind == store.EventACLChanged && e.AccountID == acct.ID && e.MailboxID == team.ID
	}
	onA.until("EventACLChanged on A", fromB)
	follower.until("EventACLChanged for kim's follower on A", fromB)
}

// A message copied into another account's mailbox joins the conversation
// its references name there, as a delivery of it would; a copy of a
// message with nothing to thread by starts its own, under its new ID.
func TestCopyAcrossAccountsThread(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	owner := newTestAccount(t, st, "owner@example.test")
	kim := newTestAccount(t, st, "kim@example.test")
	team, err := st.CreateMailbox(ctx, owner.ID, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	kimInbox := mustMailbox(t, st, kim.ID, "INBOX")
	deliver := func(mb int64, msg string) store.Delivered {
		t.Helper()
		m, err := st.Stage(ctx, strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: mb}})
		if err != nil {
			t.Fatal(err)
		}
		return d[0]
	}
	orig := deliver(team.ID, "Message-ID: <m@x>\r\nSubject: Plan\r\n\r\nx\r\n")
	reply := deliver(kimInbox.ID, "Message-ID: <n@x>\r\nIn-Reply-To: <m@x>\r\nReferences: <m@x>\r\nSubject: Re: Plan\r\n\r\ny\r\n")
	lone := deliver(kimInbox.ID, "Subject: nothing\r\n\r\nz\r\n")
	c, err := st.Copy(ctx, kimInbox.ID, []uint32{reply.UID, lone.UID}, team.ID, store.KeepAll)
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.MessageList(ctx, team.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[1].UID != c.DestUIDs[0] || list[2].UID != c.DestUIDs[1] {
		t.Fatalf("Team %+v after copy %+v", list, c)
	}
	if list[1].ThreadID != orig.ID {
		t.Errorf("copied reply in thread %d, want the original's %d", list[1].ThreadID, orig.ID)
	}
	if list[2].ThreadID != list[2].ID || list[2].ID == lone.ID {
		t.Errorf("copied lone message %+v: want a new ID of its own thread", list[2])
	}
	// A reply to the copy, delivered to the owner, joins them.
	re := deliver(team.ID, "Message-ID: <o@x>\r\nReferences: <m@x> <n@x>\r\nSubject: Re: Plan\r\n\r\nw\r\n")
	if list, err = st.MessageList(ctx, team.ID); err != nil || list[3].UID != re.UID || list[3].ThreadID != orig.ID {
		t.Errorf("reply delivered after the copy: %+v, %v; want thread %d", list, err, orig.ID)
	}
}
