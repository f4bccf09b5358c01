package sqlitestore

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

// verifyFixture is a store with one account, a large message (a body
// file) and a small one (inline) in INBOX, and a copy of the large one in
// Archive. It returns the large body's file reference.
func verifyFixture(t *testing.T) (*Store, store.Mailbox, string) {
	t.Helper()
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "ann@example.test", cheapCred)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	archive, err := st.Mailbox(ctx, acct.ID, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{
		storetest.Message("large", strings.Repeat("x", DefaultInlineMax+100)),
		storetest.Message("small", "small body"),
	} {
		m, err := st.Stage(ctx, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Copy(ctx, inbox.ID, []uint32{1}, archive.ID, store.KeepAll); err != nil {
		t.Fatal(err)
	}
	var ref string
	err = st.query(ctx, "SELECT blob FROM contents WHERE blob != ''", func(s *sqlite.Stmt) error { ref = s.ColumnText(0); return nil })
	if err != nil || ref == "" {
		t.Fatalf("no body file: %v", err)
	}
	return st, inbox, ref
}

func verifyProblems(t *testing.T, st *Store) []store.Problem {
	t.Helper()
	var problems []store.Problem
	if _, err := st.Verify(context.Background(), func(p store.Problem) { problems = append(problems, p) }); err != nil {
		t.Fatal(err)
	}
	return problems
}

// TestVerifyFindsDamage damages a store one way at a time and sees Verify
// report exactly that, and nothing before.
func TestVerifyFindsDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, st *Store, inbox store.Mailbox, ref string)
		check  string
		detail string
	}{
		{"body file removed", func(t *testing.T, st *Store, _ store.Mailbox, ref string) {
			path, _ := st.blobs.Path(ref)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "body", "is missing"},
		{"body file truncated", func(t *testing.T, st *Store, _ store.Mailbox, ref string) {
			path, _ := st.blobs.Path(ref)
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}, "body", "is 100 bytes, the row says"},
		{"reference count", func(t *testing.T, st *Store, _ store.Mailbox, ref string) {
			damageSQL(t, st, "UPDATE contents SET refs = refs + 1 WHERE blob = ?", ref)
		}, "refs", "counts 3 references, 2 messages"},
		{"UID at UIDNEXT", func(t *testing.T, st *Store, inbox store.Mailbox, _ string) {
			damageSQL(t, st, "UPDATE mailboxes SET uidnext = 2 WHERE id = ?", inbox.ID)
		}, "uid", "message UID 2 is not below UIDNEXT 2"},
		{"MODSEQ above HIGHESTMODSEQ", func(t *testing.T, st *Store, inbox store.Mailbox, _ string) {
			damageSQL(t, st, "UPDATE messages SET modseq = 1000000 WHERE mailbox_id = ? AND uid = 1", inbox.ID)
		}, "modseq", "message UID 1 has MODSEQ 1000000"},
		{"quota usage", func(t *testing.T, st *Store, _ store.Mailbox, _ string) {
			damageSQL(t, st, "UPDATE quota_accounts SET messages = messages + 1")
		}, "quota", "in 4 messages"},
		{"message without content", func(t *testing.T, st *Store, inbox store.Mailbox, _ string) {
			damageSQL(t, st, "UPDATE messages SET content_id = 999 WHERE mailbox_id = ? AND uid = 2", inbox.ID)
		}, "refs", "refers to content 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, inbox, ref := verifyFixture(t)
			if p := verifyProblems(t, st); len(p) != 0 {
				t.Fatalf("problems before the damage: %v", p)
			}
			tc.damage(t, st, inbox, ref)
			p := verifyProblems(t, st)
			if len(p) == 0 {
				t.Fatal("no problem reported")
			}
			found := false
			for _, pr := range p {
				if pr.Check == tc.check && strings.Contains(pr.Detail, tc.detail) {
					found = true
				} else if tc.name != "message without content" {
					// A dangling content leaves its old content one
					// reference short too; every other damage is one
					// problem.
					t.Errorf("unexpected problem %s", pr)
				}
			}
			if !found {
				t.Errorf("problems %v: want %s: …%s…", p, tc.check, tc.detail)
			}
		})
	}
}

func damageSQL(t *testing.T, st *Store, query string, args ...any) {
	t.Helper()
	if err := st.write(context.Background(), func(tx *txn) error { return tx.exec(query, args...) }); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotHoldsBodies: a body expunged after the snapshot was taken
// stays on disk until the snapshot is released (the backup copies it
// meanwhile), then goes with the next sweep; the snapshot lists it.
func TestSnapshotHoldsBodies(t *testing.T) {
	ctx := context.Background()
	st, inbox, ref := verifyFixture(t)
	archive, err := st.Mailbox(ctx, inbox.AccountID, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	snap, release, err := st.Snapshot(ctx, t.TempDir()+"/mail.db")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Bodies) != 1 || snap.Bodies[0].Ref != ref || snap.Messages != 3 || snap.Accounts != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Expunge(ctx, archive.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	path, _ := st.blobs.Path(ref)
	if err := st.emptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the body went while the snapshot held it: %v", err)
	}
	release()
	if err := st.emptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the body stayed after the snapshot was released: %v", err)
	}
	if p := verifyProblems(t, st); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
}
