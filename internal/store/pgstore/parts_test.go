package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"

	"mailroom/internal/store/pgstore/pgtest"
)

// newTestAccount creates example.test (if needed) and an account.
func newTestAccount(t *testing.T, st *Store, email string) store.Account {
	t.Helper()
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	a, err := st.CreateAccount(ctx, email, testCred)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustExec(t *testing.T, st *Store, sql string, args ...any) {
	t.Helper()
	if _, err := st.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func mustMailbox(t *testing.T, st *Store, accountID int64, name string) store.Mailbox {
	t.Helper()
	mb, err := st.Mailbox(context.Background(), accountID, name)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

// Message rows are written here by SQL, to set up exact states (UIDs with
// gaps, an expunge history): content 1 (a blob, one reference) and 2
// (inline, two references).
func insertMessages(t *testing.T, st *Store, inbox, other store.Mailbox) {
	t.Helper()
	mustExec(t, st, `INSERT INTO blobs (id, size, chunk_size, complete, created) VALUES (1, 4, 256, true, 0)`)
	mustExec(t, st, `INSERT INTO blob_chunks (blob_id, seq, data) VALUES (1, 0, 'body')`)
	mustExec(t, st, `INSERT INTO contents (id, blob, body, size, structure, refs) VALUES (1, 'pg:1', NULL, 100, '', 1), (2, '', 'hi', 20, '', 2)`)
	const msg = `INSERT INTO messages (mailbox_id, uid, msgid, content_id, modseq, flags, keywords, internal_date, size, prefix)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1700000000, $8, $9)`
	// INBOX: UIDs 3 and 7 (1, 2, 4–6 expunged before), highest modseq 9.
	mustExec(t, st, msg, inbox.ID, 7, 11, 2, 8, int64(store.FlagSeen|store.FlagDeleted), "$Junk work", 22, []byte("Delivered-To: x\r\n"))
	mustExec(t, st, msg, inbox.ID, 3, 10, 1, 5, int64(store.FlagFlagged), "", 100, nil)
	mustExec(t, st, `INSERT INTO expunged (mailbox_id, uid, modseq) VALUES ($1, 1, 2), ($1, 2, 3), ($1, 3, 9)`, inbox.ID)
	mustExec(t, st, `UPDATE mailboxes SET uidnext = 8, highestmodseq = 9 WHERE id = $1`, inbox.ID)
	mustExec(t, st, msg, other.ID, 1, 12, 2, 2, 0, "", 20, nil)
	mustExec(t, st, `UPDATE mailboxes SET uidnext = 2, highestmodseq = 2 WHERE id = $1`, other.ID)
	// The account's counter is at least every modseq of its mailboxes.
	mustExec(t, st, `UPDATE accounts SET modseq = greatest(modseq, 9) WHERE id = $1`, inbox.AccountID)
}

// STATUS counts what the message rows hold.
func TestMailboxStatusCounts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "demo@example.test")
	inbox, sent := mustMailbox(t, st, a.ID, "INBOX"), mustMailbox(t, st, a.ID, "Sent")
	insertMessages(t, st, inbox, sent)
	got, err := st.MailboxStatus(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.MailboxStatus{Mailbox: inbox, Messages: 2, Unseen: 1, Deleted: 1, Size: 122}
	want.UIDNext, want.HighestModSeq = 8, 9
	if got != want {
		t.Errorf("status %+v, want %+v", got, want)
	}
}

// Renaming INBOX moves its messages to a new mailbox, as SQLite's
// message-by-message move does: UIDs from 1 in the old order, one modseq
// each, IDs, flags, keywords and prefixes kept; INBOX records them
// expunged under one new modseq, taken before theirs, and the bodies keep
// their references. Modseqs come from the account's counter: "Old" and
// "Old/Inbox" take the next two, INBOX's removal the third.
func TestRenameInboxMovesMessages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "demo@example.test")
	inbox, sent := mustMailbox(t, st, a.ID, "INBOX"), mustMailbox(t, st, a.ID, "Sent")
	insertMessages(t, st, inbox, sent)
	before, err := st.AccountState(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	removal := before.ModSeq + 3
	if err := st.RenameMailbox(ctx, a.ID, "INBOX", "Old/Inbox"); err != nil {
		t.Fatal(err)
	}
	old := mustMailbox(t, st, a.ID, "Old/Inbox")
	if old.UIDNext != 3 || old.HighestModSeq != removal+2 {
		t.Errorf("new mailbox UIDNEXT %d HIGHESTMODSEQ %d, want 3 and %d", old.UIDNext, old.HighestModSeq, removal+2)
	}
	rows, _ := st.pool.Query(ctx, `SELECT format('%s %s %s %s %s %s %s', uid, msgid, content_id, modseq, flags, keywords, encode(coalesce(prefix, ''), 'escape'))
		FROM messages WHERE mailbox_id = $1 ORDER BY uid`, old.ID)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("1 10 1 %d 4  ", removal+1), fmt.Sprintf("2 11 2 %d 9 $Junk work Delivered-To: x\r\n", removal+2)}
	if !slices.Equal(got, want) {
		t.Errorf("moved messages %q, want %q", got, want)
	}
	in := mustMailbox(t, st, a.ID, "INBOX")
	if in.ID != inbox.ID || in.UIDNext != 8 || in.HighestModSeq != removal {
		t.Errorf("INBOX after rename %+v, want id %d UIDNEXT 8 HIGHESTMODSEQ %d", in, inbox.ID, removal)
	}
	rows, _ = st.pool.Query(ctx, `SELECT format('%s:%s', uid, modseq) FROM expunged WHERE mailbox_id = $1 ORDER BY uid`, inbox.ID)
	if got, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1:2", "2:3", fmt.Sprintf("3:%d", removal), fmt.Sprintf("7:%d", removal)}; !slices.Equal(got, want) {
		t.Errorf("INBOX expunge history %q, want %q", got, want)
	}
	var n, refs int
	if err := st.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = $1), (SELECT sum(refs) FROM contents)", inbox.ID).Scan(&n, &refs); err != nil {
		t.Fatal(err)
	}
	if n != 0 || refs != 3 {
		t.Errorf("INBOX keeps %d messages, bodies have %d references; want 0 and 3", n, refs)
	}
	// The other nodes learn that both mailboxes changed, up to what modseq.
	rows, _ = st.pool.Query(ctx, `SELECT format('%s:%s:%s', mailbox_id, modseq, kind) FROM changelog WHERE id > (SELECT max(id) FROM changelog WHERE kind = $1 AND mailbox_id = $2) ORDER BY id`,
		changeMailboxes, old.ID)
	if got, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("%d:%d:%d", old.ID, removal+2, changeMessages), fmt.Sprintf("%d:%d:%d", inbox.ID, removal, changeMessages)}; !slices.Equal(got, want) {
		t.Errorf("change log after the mailbox's creation %q, want %q", got, want)
	}
}

// Deleting a mailbox with messages deletes them and its expunge history
// and releases their bodies: the one it alone used goes (its blob rows
// with it, in the same transaction), the shared one loses a reference.
func TestDeleteMailboxReleasesBodies(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "demo@example.test")
	box, err := st.CreateMailbox(ctx, a.ID, "Box", "")
	if err != nil {
		t.Fatal(err)
	}
	insertMessages(t, st, box, mustMailbox(t, st, a.ID, "Sent"))
	if err := st.DeleteMailbox(ctx, a.ID, "Box"); err != nil {
		t.Fatal(err)
	}
	var contents, refs2, messages, expunged, trash int
	if err := st.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM contents), (SELECT refs FROM contents WHERE id = 2),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM expunged), (SELECT count(*) FROM blob_trash) + (SELECT count(*) FROM blobs) + (SELECT count(*) FROM blob_chunks)`).
		Scan(&contents, &refs2, &messages, &expunged, &trash); err != nil {
		t.Fatal(err)
	}
	if contents != 1 || refs2 != 1 || messages != 1 || expunged != 0 || trash != 0 {
		t.Errorf("after delete: %d contents (shared refs %d), %d messages, %d expunged, %d blob rows left or trashed; want 1 (1), 1, 0, 0",
			contents, refs2, messages, expunged, trash)
	}
	if _, err := st.MailboxStatus(ctx, box.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("status of the deleted mailbox: %v", err)
	}
}

// The trainer reads which messages a mailbox still holds and what each
// was trained as in the mailbox's account.
func TestJunkMessages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "demo@example.test")
	b := newTestAccount(t, st, "b@example.test")
	inbox := mustMailbox(t, st, a.ID, "INBOX")
	insertMessages(t, st, inbox, mustMailbox(t, st, a.ID, "Sent"))
	if _, err := st.TrainJunk(ctx, []store.JunkTraining{
		{AccountID: a.ID, ContentID: 2, As: store.JunkSpam, Hashes: []uint64{1}},
		{AccountID: b.ID, ContentID: 1, As: store.JunkHam, Hashes: []uint64{1}},
	}); err != nil {
		t.Fatal(err)
	}
	mb, msgs, err := st.JunkMessages(ctx, inbox.ID, []uint32{7, 5, 3})
	if err != nil {
		t.Fatal(err)
	}
	if mb.ID != inbox.ID || mb.AccountID != a.ID {
		t.Errorf("mailbox %+v", mb)
	}
	got := fmt.Sprint(msgs)
	want := fmt.Sprint([]store.JunkMessage{
		{MessageMeta: store.MessageMeta{UID: 3, Flags: store.FlagFlagged, ModSeq: 5, ID: 10, ContentID: 1, Size: 100, InternalDate: 1700000000}, Trained: store.JunkUntrained},
		{MessageMeta: store.MessageMeta{UID: 7, Flags: store.FlagSeen | store.FlagDeleted, ModSeq: 8, ID: 11, ContentID: 2, Size: 22, InternalDate: 1700000000,
			Keywords: []string{"$Junk", "work"}}, Trained: store.JunkSpam},
	})
	if got != want {
		t.Errorf("junk messages\n%s\nwant\n%s", got, want)
	}
	if _, _, err := st.JunkMessages(ctx, 1<<40, []uint32{1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown mailbox: %v", err)
	}
}

// Each write of these parts leaves its row in the change log, for the
// other nodes' feeds, with the kinds SQLite uses.
func TestPartsChangeLog(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "demo@example.test")
	var last int64
	if err := st.pool.QueryRow(ctx, "SELECT max(id) FROM changelog").Scan(&last); err != nil {
		t.Fatal(err)
	}
	mb, err := st.CreateMailbox(ctx, a.ID, "P/Q", "")
	if err != nil {
		t.Fatal(err)
	}
	p := mustMailbox(t, st, a.ID, "P")
	steps := []error{
		st.RenameMailbox(ctx, a.ID, "P", "R"),
		st.SetSubscribed(ctx, a.ID, "R", true),
		st.DeleteMailbox(ctx, a.ID, "R/Q"),
	}
	pw, err := st.CreateAppPassword(ctx, a.ID, "phone", testCred)
	steps = append(steps, err, st.DeleteAppPassword(ctx, a.ID, pw.ID))
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	rows, _ := st.pool.Query(ctx, "SELECT format('%s:%s:%s', account_id, mailbox_id, kind) FROM changelog WHERE id > $1 AND origin = $2 ORDER BY id", last, st.origin)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	row := func(mailbox int64, kind int) string { return fmt.Sprintf("%d:%d:%d", a.ID, mailbox, kind) }
	want := []string{row(p.ID, changeMailboxes), row(mb.ID, changeMailboxes), row(p.ID, changeMailboxes), row(0, changeMailboxes),
		row(mb.ID, changeMailboxes), row(0, changeAccount), row(0, changeAccount)}
	if !slices.Equal(got, want) {
		t.Errorf("change log %q, want %q", got, want)
	}
}
