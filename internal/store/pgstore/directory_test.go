package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

var testCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

// A new account has its default mailboxes, subscribed, each with its own
// UIDVALIDITY, and the change log says so for the other nodes.
func TestCreateAccountMailboxes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "demo@example.test", testCred)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := st.pool.Query(ctx, `SELECT m.name, m.special_use, m.uidvalidity, s.name IS NOT NULL FROM mailboxes m
		LEFT JOIN subscriptions s ON s.account_id = m.account_id AND s.name = m.name
		WHERE m.account_id = $1 ORDER BY m.id`, acct.ID)
	type box struct {
		name, use   string
		uidValidity int64
		subscribed  bool
	}
	boxes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (box, error) {
		var b box
		return b, r.Scan(&b.name, &b.use, &b.uidValidity, &b.subscribed)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != len(store.DefaultMailboxes) {
		t.Fatalf("%d mailboxes, want %d", len(boxes), len(store.DefaultMailboxes))
	}
	seen := map[int64]bool{}
	for i, d := range store.DefaultMailboxes {
		b := boxes[i]
		if b.name != d.Name || b.use != string(d.Use) || !b.subscribed {
			t.Errorf("mailbox %d: %+v, want %s %q subscribed", i, b, d.Name, d.Use)
		}
		if seen[b.uidValidity] || b.uidValidity == 0 {
			t.Errorf("mailbox %s: UIDVALIDITY %d repeated or zero", b.name, b.uidValidity)
		}
		seen[b.uidValidity] = true
	}
	var kinds []int
	rows, _ = st.pool.Query(ctx, "SELECT kind FROM changelog WHERE account_id = $1 AND origin = $2 ORDER BY id", acct.ID, st.origin)
	if kinds, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
		t.Fatal(err)
	}
	want := slices.Repeat([]int{changeMailboxes}, len(store.DefaultMailboxes))
	if want = append(want, changeAccount); !slices.Equal(kinds, want) {
		t.Errorf("change log kinds %v, want %v", kinds, want)
	}
}

// Two nodes racing to create the same address, one as an account and one
// as an alias (no unique constraint spans the two tables): exactly one
// wins every round, and the other is told ErrExists.
func TestConcurrentNodesOneAddress(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	if _, err := a.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateAccount(ctx, "target@example.test", testCred); err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	for i := range rounds {
		addr := fmt.Sprintf("r%d@example.test", i)
		var wg sync.WaitGroup
		var errAcct, errAlias, errDomain [2]error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, errAcct[0] = a.CreateAccount(ctx, addr, testCred)
			_, errDomain[0] = a.CreateDomain(ctx, fmt.Sprintf("d%d.test", i))
		})
		wg.Go(func() {
			<-start
			errAlias[1] = b.AddAlias(ctx, addr, []string{"target@example.test"})
			_, errDomain[1] = b.CreateDomain(ctx, fmt.Sprintf("d%d.test", i))
		})
		close(start)
		wg.Wait()
		if (errAcct[0] == nil) == (errAlias[1] == nil) {
			t.Fatalf("round %d: account: %v, alias: %v; want exactly one to succeed", i, errAcct[0], errAlias[1])
		}
		for _, err := range []error{errAcct[0], errAlias[1]} {
			if err != nil && !errors.Is(err, store.ErrExists) {
				t.Fatalf("round %d: the loser got %v, want ErrExists", i, err)
			}
		}
		if (errDomain[0] == nil) == (errDomain[1] == nil) {
			t.Fatalf("round %d: domain: %v and %v; want exactly one to succeed", i, errDomain[0], errDomain[1])
		}
		for _, err := range errDomain {
			if err != nil && !errors.Is(err, store.ErrExists) {
				t.Fatalf("round %d: the domain loser got %v, want ErrExists", i, err)
			}
		}
		info, err := b.LookupAddress(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if (info.Account != nil) == (info.AliasTargets != nil) {
			t.Fatalf("round %d: %s is %+v", i, addr, info)
		}
	}
}

// Deleting an account releases its bodies: one it alone used is deleted
// (its blob listed for removal), one shared with another account loses a
// reference and stays.
func TestDeleteAccountReleasesBodies(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	gone, err := st.CreateAccount(ctx, "gone@example.test", testCred)
	if err != nil {
		t.Fatal(err)
	}
	stays, err := st.CreateAccount(ctx, "stays@example.test", testCred)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := st.pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Content 1: only gone's, a blob. Content 2: in both accounts.
	exec(`INSERT INTO blobs (id, size, chunk_size, complete, created) VALUES (1, 10, 256, true, 0)`)
	exec(`INSERT INTO blob_chunks (blob_id, seq, data) VALUES (1, 0, '0123456789')`)
	exec(`INSERT INTO contents (id, blob, body, size, structure, refs) VALUES (1, 'pg:1', NULL, 10, '', 1), (2, '', 'hi', 2, '', 2)`)
	box := func(acct int64) int64 {
		var id int64
		if err := st.pool.QueryRow(ctx, "SELECT id FROM mailboxes WHERE account_id = $1 AND name = 'INBOX'", acct).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	const msg = `INSERT INTO messages (mailbox_id, uid, msgid, content_id, modseq, flags, internal_date, size) VALUES ($1, $2, $2, $3, 1, 0, 0, 1)`
	exec(msg, box(gone.ID), 1, 1)
	exec(msg, box(gone.ID), 2, 2)
	exec(msg, box(stays.ID), 1, 2)
	exec(`INSERT INTO expunged (mailbox_id, uid, modseq) VALUES ($1, 3, 2)`, box(gone.ID))
	exec(`INSERT INTO junk_trained (content_id, account_id, class) VALUES (1, $1, 1)`, gone.ID)
	exec(`INSERT INTO junk_models (account_id, spam) VALUES ($1, 1)`, gone.ID)

	if err := st.DeleteAccount(ctx, "gone@example.test"); err != nil {
		t.Fatal(err)
	}
	var contents, refs2, messages, expunged, junk, trash, mailboxes int
	if err := st.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM contents), (SELECT refs FROM contents WHERE id = 2),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM expunged),
		(SELECT count(*) FROM junk_trained) + (SELECT count(*) FROM junk_models),
		(SELECT count(*) FROM blob_trash) + (SELECT count(*) FROM blobs) + (SELECT count(*) FROM blob_chunks),
		(SELECT count(*) FROM mailboxes WHERE account_id = $1)`, gone.ID).
		Scan(&contents, &refs2, &messages, &expunged, &junk, &trash, &mailboxes); err != nil {
		t.Fatal(err)
	}
	// The blob body it alone used is deleted with it, not trashed.
	if contents != 1 || refs2 != 1 || messages != 1 || expunged != 0 || junk != 0 || trash != 0 || mailboxes != 0 {
		t.Errorf("after DeleteAccount: %d contents (shared refs %d), %d messages, %d expunged, %d junk rows, %d blob rows left or trashed, %d mailboxes; want 1 (1), 1, 0, 0, 0, 0",
			contents, refs2, messages, expunged, junk, trash, mailboxes)
	}
	if _, err := st.Account(ctx, "gone@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted account: %v", err)
	}
}
