package pgstore

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// verifyFixture is a store with one account, a large message (a blob of
// three chunks) and a small one (inline) in INBOX, and a copy of the large
// one in Archive. It returns the DSN and the large body's blob id.
func verifyFixture(t *testing.T) (*Store, string, store.Mailbox, string) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "ann@example.test", testCred)
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
		storetest.Message("large", strings.Repeat("x", 2*chunkSize+100)),
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
	if err := st.pool.QueryRow(ctx, "SELECT blob FROM contents WHERE blob != ''").Scan(&ref); err != nil {
		t.Fatalf("no blob: %v", err)
	}
	return st, dsn, inbox, strings.TrimPrefix(ref, refPrefix)
}

// TestVerifyFindsDamage damages a store one way at a time and sees Verify
// report exactly that, and nothing before.
func TestVerifyFindsDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage string // SQL; $1 is the large body's blob id, $2 INBOX's id
		check  string
		detail string
	}{
		{"blob removed", "DELETE FROM blobs WHERE id = $1 AND $2 > 0", "body", "is missing"},
		{"chunk removed", "DELETE FROM blob_chunks WHERE blob_id = $1 AND seq = 1 AND $2 > 0", "body", "the chunks of blob"},
		{"blob incomplete", "UPDATE blobs SET complete = false WHERE id = $1 AND $2 > 0", "body", "never completed"},
		{"reference count", "UPDATE contents SET refs = refs + 1 WHERE blob = 'pg:' || $1 AND $2 > 0", "refs", "counts 3 references, 2 messages"},
		{"UID at UIDNEXT", "UPDATE mailboxes SET uidnext = 2 WHERE id = $2 AND $1 > 0", "uid", "message UID 2 is not below UIDNEXT 2"},
		{"MODSEQ above HIGHESTMODSEQ", "UPDATE messages SET modseq = 1000000 WHERE mailbox_id = $2 AND uid = 1 AND $1 > 0", "modseq", "message UID 1 has MODSEQ 1000000"},
		{"quota usage", "UPDATE quota_accounts SET messages = messages + 1 WHERE $1 > 0 AND $2 > 0", "quota", "in 4 messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, dsn, inbox, blobID := verifyFixture(t)
			if p := verifyProblems(t, st); len(p) != 0 {
				t.Fatalf("problems before the damage: %v", p)
			}
			if _, err := connect(t, dsn).Exec(ctx, tc.damage, blobID, inbox.ID); err != nil {
				t.Fatal(err)
			}
			p := verifyProblems(t, st)
			if len(p) != 1 || p[0].Check != tc.check || !strings.Contains(p[0].Detail, tc.detail) {
				t.Errorf("problems %v: want one, %s: …%s…", p, tc.check, tc.detail)
			}
		})
	}
}

func verifyProblems(t *testing.T, st *Store) []store.Problem {
	t.Helper()
	var problems []store.Problem
	if _, err := st.Verify(context.Background(), func(p store.Problem) { problems = append(problems, p) }); err != nil {
		t.Fatal(err)
	}
	return problems
}
