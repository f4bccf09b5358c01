package pgstore

import (
	"context"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

// One round prunes what is old and keeps what is not: change log rows
// past changelogKeep, bodies left by a crash past sweepAge (unfinished,
// or complete and referenced by nothing), vacation replies past the
// longest vacation interval.
func TestMaintenanceRound(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	acct := newTestAccount(t, st, "demo@example.test")
	now := time.Now()
	old, recent := now.Add(-2*changelogKeep).Unix(), now.Add(-changelogKeep/2).Unix()
	mustExec(t, st, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created) VALUES (1, $1, 0, 0, 3, $2), (1, $1, 0, 0, 3, $3)`,
		acct.ID, old, recent)
	longAgo := now.Add(-2 * sweepAge).Unix()
	mustExec(t, st, `INSERT INTO blobs (id, size, chunk_size, complete, created) VALUES
		(101, 4, 256, false, $1), -- a writer died mid-body
		(102, 4, 256, true, $1),  -- staged by a node that died before delivering
		(103, 4, 256, true, $1),  -- delivered long ago: referenced
		(104, 4, 256, true, $2),  -- staged just now: may still be delivered
		(105, 4, 256, false, $2)  -- being written now`, longAgo, now.Unix())
	mustExec(t, st, `INSERT INTO contents (id, blob, body, size, structure, refs) VALUES (1, 'pg:103', NULL, 4, '', 1)`)
	mustExec(t, st, `INSERT INTO vacation_replies (account_id, sender, sent) VALUES ($1, 'old@example.org', $2), ($1, 'new@example.org', $3)`,
		acct.ID, now.Add(-store.MaxVacationInterval-time.Hour).Unix(), now.Add(-24*time.Hour).Unix())

	d, err := st.maintainOnce(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.ran || d.changelog != 1 || d.blobs != 2 || d.vacation != 1 {
		t.Errorf("round %+v, want it ran and removed 1 change log row, 2 bodies, 1 vacation reply", d)
	}
	if n := count(t, st, "SELECT count(*) FROM changelog WHERE created = $1", recent); n != 1 {
		t.Errorf("recent change log rows left: %d, want 1", n)
	}
	if n := count(t, st, "SELECT count(*) FROM changelog WHERE created = $1", old); n != 0 {
		t.Errorf("old change log rows left: %d, want 0", n)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs WHERE id IN (103, 104, 105)"); n != 3 {
		t.Errorf("%d of the referenced and young bodies left, want 3", n)
	}
	if n := count(t, st, "SELECT count(*) FROM vacation_replies WHERE sender = 'new@example.org'"); n != 1 {
		t.Errorf("recent vacation reply gone")
	}
	// Nothing left to do: a second round removes nothing.
	if d, err := st.maintainOnce(ctx, now); err != nil || d.changelog+d.blobs+d.vacation != 0 {
		t.Errorf("second round %+v, %v", d, err)
	}
}

// Of several nodes, one runs a round at a time: the others skip theirs
// while it holds the lock, and run once it is free.
func TestMaintenanceOneNodeAtATime(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoNodes(t)
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", maintenanceLock).Scan(&locked); err != nil || !locked {
		t.Fatalf("lock: %v, %v", locked, err)
	}
	d, err := b.maintainOnce(ctx, time.Now())
	if err != nil || d.ran {
		t.Errorf("node B's round while A runs one: %+v, %v; want skipped", d, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", maintenanceLock); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	for _, st := range []*Store{b, a} {
		if d, err := st.maintainOnce(ctx, time.Now()); err != nil || !d.ran {
			t.Errorf("round with the lock free: %+v, %v", d, err)
		}
	}
	// A round releases the lock: it can be taken again.
	c := rawConn(t, a.opts.DSN)
	if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", maintenanceLock).Scan(&locked); err != nil || !locked {
		t.Errorf("the lock after the rounds: taken %v, %v; want free", locked, err)
	}
}

// With Options.Maintenance the rounds run by themselves, and Close stops
// them.
func TestMaintenanceRunsInTheBackground(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st := openWith(t, Options{DSN: dsn, Maintenance: true, MaintenanceInterval: 50 * time.Millisecond})
	acct := newTestAccount(t, st, "demo@example.test")
	mustExec(t, st, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created) VALUES (1, $1, 0, 0, 3, $2)`,
		acct.ID, time.Now().Add(-2*changelogKeep).Unix())
	deadline := time.Now().Add(10 * time.Second)
	for count(t, st, "SELECT count(*) FROM changelog WHERE created < $1", time.Now().Add(-changelogKeep).Unix()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background maintenance did not prune the change log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the maintenance loop")
	}
}
