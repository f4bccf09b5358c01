package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

// What SQLite's single writer guarantees, two nodes on one database must
// keep: these tests race two Stores (two connection pools, as two nodes
// are) on one PostgreSQL database.

// twoNodes opens two stores on one fresh database and creates an account.
func twoNodes(t *testing.T) (a, b *Store, acct store.Account) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	a, b = openStore(t, dsn), openStore(t, dsn)
	return a, b, newTestAccount(t, a, "demo@example.test")
}

// race runs fn(i) for i < n at once, half of them on each node, and
// returns their errors.
func race(n int, a, b *Store, fn func(st *Store, i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			<-start
			errs[i] = fn(st, i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// Mailboxes created at once on both nodes: one name is created once (the
// others are told ErrExists), shared parents once, and every mailbox has
// its own UIDVALIDITY.
func TestConcurrentNodesMailboxes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	for round := range 5 {
		name := fmt.Sprintf("Same%d", round)
		errs := race(6, a, b, func(st *Store, i int) error {
			_, err := st.CreateMailbox(ctx, acct.ID, name, "")
			return err
		})
		created := 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, store.ErrExists):
				t.Fatalf("round %d: %v, want nil or ErrExists", round, err)
			}
		}
		if created != 1 {
			t.Fatalf("round %d: %s created %d times", round, name, created)
		}
	}
	errs := race(8, a, b, func(st *Store, i int) error {
		_, err := st.CreateMailbox(ctx, acct.ID, fmt.Sprintf("Shared/Parent/%d", i), "")
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create Shared/Parent/%d: %v", i, err)
		}
	}
	list, err := b.MailboxList(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]string{}
	for _, mb := range list {
		if prev, dup := seen[mb.UIDValidity]; dup {
			t.Errorf("%s and %s share UIDVALIDITY %d", prev, mb.Name, mb.UIDValidity)
		}
		seen[mb.UIDValidity] = mb.Name
	}
	if want := len(store.DefaultMailboxes) + 5 + 2 + 8; len(list) != want {
		t.Errorf("%d mailboxes, want %d", len(list), want)
	}
}

// A parent deleted on one node while the other creates a child under it:
// either the delete is refused (ErrHasChildren) or it came first and the
// child's creation made the parent again. Never a child without parent.
func TestConcurrentNodesDeleteParent(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	for round := range 10 {
		parent := fmt.Sprintf("P%d", round)
		if _, err := a.CreateMailbox(ctx, acct.ID, parent, ""); err != nil {
			t.Fatal(err)
		}
		errs := race(2, a, b, func(st *Store, i int) error {
			if i == 0 {
				return st.DeleteMailbox(ctx, acct.ID, parent)
			}
			_, err := st.CreateMailbox(ctx, acct.ID, parent+"/child", "")
			return err
		})
		if errs[1] != nil {
			t.Fatalf("round %d: create child: %v", round, errs[1])
		}
		if errs[0] != nil && !errors.Is(errs[0], store.ErrHasChildren) {
			t.Fatalf("round %d: delete parent: %v", round, errs[0])
		}
		if _, err := b.Mailbox(ctx, acct.ID, parent); err != nil {
			t.Fatalf("round %d: the child's parent is missing: %v", round, err)
		}
	}
}

// Of many deliveries from one sender, on both nodes at once, one gets to
// send the vacation notice.
func TestConcurrentNodesVacation(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	now := time.Now()
	for round := range 5 {
		sender := fmt.Sprintf("sender%d@example.org", round)
		claimed := 0
		for i, err := range race(8, a, b, func(st *Store, i int) error {
			ok, err := st.ClaimVacationReply(ctx, acct.ID, sender, now, 24*time.Hour)
			if ok {
				return errClaimed
			}
			return err
		}) {
			switch {
			case errors.Is(err, errClaimed):
				claimed++
			case err != nil:
				t.Fatalf("round %d, claim %d: %v", round, i, err)
			}
		}
		if claimed != 1 {
			t.Fatalf("round %d: %d claims succeeded, want 1", round, claimed)
		}
	}
}

var errClaimed = errors.New("claimed")

// Bounds hold across nodes: an account never gets more than
// MaxAppPasswords app passwords or MaxWebSessions web sessions, however
// many are created at once on both nodes.
func TestConcurrentNodesBounds(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	errs := race(store.MaxAppPasswords+6, a, b, func(st *Store, i int) error {
		_, err := st.CreateAppPassword(ctx, acct.ID, fmt.Sprintf("device %d", i), testCred)
		return err
	})
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, store.ErrInvalid):
			t.Fatalf("create app password: %v", err)
		}
	}
	list, err := b.AppPasswords(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if created != store.MaxAppPasswords || len(list) != store.MaxAppPasswords {
		t.Errorf("%d app passwords created, %d listed; want %d", created, len(list), store.MaxAppPasswords)
	}

	now := time.Now()
	errs = race(store.MaxWebSessions+20, a, b, func(st *Store, i int) error {
		h := sha256.Sum256(fmt.Appendf(nil, "session %d", i))
		return st.CreateWebSession(ctx, store.WebSession{TokenHash: h[:], AccountID: acct.ID, Created: now, LastSeen: now})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("create web session: %v", err)
		}
	}
	var n int
	if err := a.pool.QueryRow(ctx, "SELECT count(*) FROM web_sessions WHERE account_id = $1", acct.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != store.MaxWebSessions {
		t.Errorf("%d web sessions kept, want %d", n, store.MaxWebSessions)
	}
}

// Trainings of one model on both nodes at once lose no count: every
// message trained is counted, and so is every token.
func TestConcurrentNodesJunkTraining(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	const n = 16
	errs := race(n, a, b, func(st *Store, i int) error {
		_, err := st.TrainJunk(ctx, []store.JunkTraining{
			{AccountID: acct.ID, ContentID: int64(i + 1), As: store.JunkSpam, Hashes: []uint64{1, 2, uint64(100 + i)}},
			{AccountID: store.JunkBaseModel, As: store.JunkHam, Hashes: []uint64{1}},
		})
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("train: %v", err)
		}
	}
	m, err := b.LoadJunkModel(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Spam != n || m.Tokens != n+2 || len(m.Counts) != n+2 || m.Counts[1] != (store.JunkCount{Spam: n}) || m.Counts[100] != (store.JunkCount{Spam: 1}) {
		t.Errorf("model after %d concurrent trainings: spam %d, tokens %d (%d read), token 1 %+v, token 100 %+v",
			n, m.Spam, m.Tokens, len(m.Counts), m.Counts[1], m.Counts[100])
	}
	base, err := a.LoadJunkModel(ctx, store.JunkBaseModel)
	if err != nil {
		t.Fatal(err)
	}
	if base.Ham != n || base.Counts[1] != (store.JunkCount{Ham: n}) {
		t.Errorf("base model after %d concurrent trainings: ham %d, token 1 %+v", n, base.Ham, base.Counts[1])
	}
}

// The DMARC table's bound holds when two nodes add new rows at once, and
// a row already there still counts every evaluation.
func TestConcurrentNodesDMARCBound(t *testing.T) {
	const bound = 30
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	var nodes [2]*Store
	for i := range nodes {
		st, err := Open(ctx, Options{DSN: dsn, MaxConns: 4, DMARCRows: bound})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		nodes[i] = st
	}
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	row := store.DMARCResult{Day: day, PolicyDomain: "bank.example", SourceIP: "192.0.2.1", HeaderFrom: "bank.example",
		Disposition: "none", DKIM: "pass", SPF: "pass"}
	if err := nodes[0].AddDMARCResult(ctx, row); err != nil {
		t.Fatal(err)
	}
	const adds = 2 * bound
	errs := race(adds, nodes[0], nodes[1], func(st *Store, i int) error {
		r := row
		if i%4 != 0 {
			r.SourceIP = fmt.Sprintf("198.51.100.%d", i) // a new row each
		}
		return st.AddDMARCResult(ctx, r)
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := nodes[1].DMARCResults(ctx, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	counted := 0
	for _, r := range got {
		if r.SourceIP == row.SourceIP {
			counted = r.Count
		}
	}
	if len(got) != bound || counted != 1+adds/4 {
		t.Errorf("%d rows (want the bound %d), the first row counted %d times (want %d)", len(got), bound, counted, 1+adds/4)
	}
}
