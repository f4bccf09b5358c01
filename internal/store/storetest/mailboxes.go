package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"mailroom/internal/store"
)

// testMailboxTree: the hierarchy without messages. Parents are created,
// names checked, a rename takes children and subscriptions along and
// keeps identities, deletes refuse INBOX and parents, and neither a
// mailbox id nor a UIDVALIDITY is ever handed out twice.
func testMailboxTree(t *testing.T, st MailboxStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	other := newAccount(t, st, "other@example.test")

	c := must(st.CreateMailbox(ctx, acct.ID, "Work/Projects/2026", ""))
	if c.Name != "Work/Projects/2026" || c.AccountID != acct.ID || c.UIDNext != 1 || c.UIDValidity == 0 {
		t.Fatalf("created %+v", c)
	}
	for _, parent := range []string{"Work", "Work/Projects"} {
		if p := mailbox(t, st, acct, parent); p.SpecialUse != "" {
			t.Errorf("parent %s has special use %q", parent, p.SpecialUse)
		}
	}
	if got := mailbox(t, st, acct, "Work/Projects/2026"); got.ID != c.ID || got.UIDValidity != c.UIDValidity || got.HighestModSeq != c.HighestModSeq {
		t.Fatalf("read back %+v, created %+v", got, c)
	}
	_, err := st.Mailbox(ctx, other.ID, "Work")
	wantErr(t, err, store.ErrNotFound, "another account's mailbox")
	all := must(st.CreateMailbox(ctx, acct.ID, "All Mail", store.SpecialAll))
	if all.SpecialUse != store.SpecialAll || mailbox(t, st, acct, "All Mail").SpecialUse != store.SpecialAll {
		t.Fatalf("special use not kept: %+v", all)
	}
	_, err = st.CreateMailbox(ctx, acct.ID, "Bogus", `\Bogus`)
	wantErr(t, err, store.ErrInvalid, "unknown special use")
	_, err = st.CreateMailbox(ctx, acct.ID, "work/projects", "")
	if err != nil {
		t.Fatalf("names other than INBOX are case-sensitive: %v", err)
	}
	_, err = st.CreateMailbox(ctx, acct.ID, "Work", "")
	wantErr(t, err, store.ErrExists, "create existing")
	_, err = st.CreateMailbox(ctx, acct.ID, "inbox", "")
	wantErr(t, err, store.ErrExists, "create INBOX in another case")
	for _, bad := range []string{"", "a//b", "/a", "a/", "a*b", "100%", "tab\tname"} {
		_, err := st.CreateMailbox(ctx, acct.ID, bad, "")
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("create %q", bad))
	}

	status := must(st.MailboxStatus(ctx, c.ID))
	if status.ID != c.ID || status.Name != c.Name || status.Messages != 0 || status.Unseen != 0 || status.Deleted != 0 || status.Size != 0 {
		t.Fatalf("status of an empty mailbox: %+v", status)
	}
	_, err = st.MailboxStatus(ctx, 1<<40)
	wantErr(t, err, store.ErrNotFound, "status of an unknown mailbox")

	list := must(st.MailboxList(ctx, acct.ID))
	names := make([]string, len(list))
	for i, mb := range list {
		names[i] = mb.Name
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "Work/Projects") || slices.Contains(names, "Bogus") {
		t.Fatalf("mailbox list %q", names)
	}

	// A rename takes the children along, keeps ids and UIDVALIDITY, and
	// the subscriptions follow; missing parents of the new name appear.
	ok(t, st.SetSubscribed(ctx, acct.ID, "Work/Projects", true))
	ok(t, st.RenameMailbox(ctx, acct.ID, "Work", "Old/Work"))
	moved := mailbox(t, st, acct, "Old/Work/Projects/2026")
	if moved.ID != c.ID || moved.UIDValidity != c.UIDValidity {
		t.Fatalf("renamed child %+v lost its identity (was %+v)", moved, c)
	}
	mailbox(t, st, acct, "Old")
	if !mailbox(t, st, acct, "Old/Work/Projects").Subscribed {
		t.Error("the subscription did not follow the child's rename")
	}
	if subs := must(st.Subscriptions(ctx, acct.ID)); slices.Contains(subs, "Work/Projects") {
		t.Errorf("the old name is still subscribed: %q", subs)
	}
	for _, gone := range []string{"Work", "Work/Projects", "Work/Projects/2026"} {
		_, err = st.Mailbox(ctx, acct.ID, gone)
		wantErr(t, err, store.ErrNotFound, "old name "+gone+" after rename")
	}
	mailbox(t, st, acct, "work/projects") // a different name: untouched
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Old", "Old/x"), store.ErrInvalid, "rename into itself")
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Sent", "Drafts"), store.ErrExists, "rename onto existing")
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Sent", "inbox"), store.ErrProtected, "rename to INBOX")
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Nowhere", "Somewhere"), store.ErrNotFound, "rename unknown")

	// Names are UTF-8 (IMAP's modified UTF-7 is the protocol's business):
	// the children of a non-ASCII name are found by their whole prefix.
	must(st.CreateMailbox(ctx, acct.ID, "Café/Menü", ""))
	ok(t, st.RenameMailbox(ctx, acct.ID, "Café", "Bäckerei"))
	mailbox(t, st, acct, "Bäckerei/Menü")
	_, err = st.Mailbox(ctx, acct.ID, "Café/Menü")
	wantErr(t, err, store.ErrNotFound, "non-ASCII child's old name after rename")
	wantErr(t, st.DeleteMailbox(ctx, acct.ID, "Bäckerei"), store.ErrHasChildren, "delete a non-ASCII parent")

	wantErr(t, st.DeleteMailbox(ctx, acct.ID, "Old/Work"), store.ErrHasChildren, "delete with children")
	wantErr(t, st.DeleteMailbox(ctx, acct.ID, "inbox"), store.ErrProtected, "delete INBOX")
	wantErr(t, st.DeleteMailbox(ctx, acct.ID, "Nowhere"), store.ErrNotFound, "delete unknown")
	ok(t, st.DeleteMailbox(ctx, acct.ID, "Old/Work/Projects/2026"))
	_, err = st.Mailbox(ctx, acct.ID, "Old/Work/Projects/2026")
	wantErr(t, err, store.ErrNotFound, "deleted mailbox")
	again := must(st.CreateMailbox(ctx, acct.ID, "Old/Work/Projects/2026", ""))
	seen := map[uint32]string{}
	maxID := int64(0)
	for _, a := range []store.Account{acct, other} {
		for _, mb := range must(st.MailboxList(ctx, a.ID)) {
			if mb.ID != again.ID {
				maxID = max(maxID, mb.ID)
			}
			if prev, dup := seen[mb.UIDValidity]; dup && a.ID == acct.ID {
				t.Errorf("UIDVALIDITY %d of %s repeats %s's", mb.UIDValidity, mb.Name, prev)
			}
			seen[mb.UIDValidity] = mb.Name
		}
	}
	if again.UIDValidity == c.UIDValidity || again.ID == c.ID || again.ID <= maxID {
		t.Fatalf("recreated mailbox reuses UIDVALIDITY %d / id %d (old %d / %d, highest other id %d)",
			again.UIDValidity, again.ID, c.UIDValidity, c.ID, maxID)
	}
	if inbox := mailbox(t, st, acct, "iNbOx"); inbox.Name != "INBOX" {
		t.Fatalf("inbox name %q", inbox.Name)
	}

	// Renaming INBOX makes a new mailbox and leaves INBOX, and its
	// children, where they are (RFC 3501 6.3.5).
	inbox := mailbox(t, st, acct, "INBOX")
	must(st.CreateMailbox(ctx, acct.ID, "INBOX/Sub", ""))
	ok(t, st.RenameMailbox(ctx, acct.ID, "inbox", "Old Inbox"))
	if got := mailbox(t, st, acct, "INBOX"); got.ID != inbox.ID || got.UIDValidity != inbox.UIDValidity {
		t.Fatalf("INBOX after rename %+v, was %+v", got, inbox)
	}
	if old := mailbox(t, st, acct, "Old Inbox"); old.ID == inbox.ID || old.UIDValidity == inbox.UIDValidity {
		t.Fatalf("renamed INBOX %+v shares INBOX's identity %+v", old, inbox)
	}
	mailbox(t, st, acct, "INBOX/Sub")
	_, err = st.Mailbox(ctx, acct.ID, "Old Inbox/Sub")
	wantErr(t, err, store.ErrNotFound, "INBOX's child after renaming INBOX")
}
