package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Snapshot is an exported snapshot of the database (Store.Snapshot): its
// ID lets pg_dump --snapshot read exactly what the counts were read from.
type Snapshot struct {
	ID                                      string
	Schema                                  int
	Accounts, Mailboxes, Messages, Contents int64
}

// Snapshot opens a read-only REPEATABLE READ transaction, exports its
// snapshot (pg_export_snapshot) and counts what it sees. The snapshot can
// be imported (pg_dump --snapshot=ID) until release is called.
func (s *Store) Snapshot(ctx context.Context) (snap Snapshot, release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: %w", err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		conn.Release()
		return snap, nil, fmt.Errorf("snapshot: begin: %w", err)
	}
	release = func() {
		tx.Rollback(context.WithoutCancel(ctx))
		conn.Release()
	}
	err = tx.QueryRow(ctx, `SELECT pg_export_snapshot(), (SELECT version FROM mailroom_schema),
		(SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM contents)`).Scan(
		&snap.ID, &snap.Schema, &snap.Accounts, &snap.Mailboxes, &snap.Messages, &snap.Contents)
	if err != nil {
		release()
		return snap, nil, fmt.Errorf("snapshot: %w", err)
	}
	return snap, release, nil
}

// CountTables is how many tables the database at dsn has outside the
// system schemas: 0 for a new database (`mailroom restore` fills only
// such a one, unless forced).
func CountTables(ctx context.Context, dsn string) (int, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return 0, fmt.Errorf("postgres DSN: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tables: %w", err)
	}
	return n, nil
}
