package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// requireDurableCommits makes every pooled connection commit durably
// whatever the server, database or role default says. Mailroom answers
// 250 and APPEND OK after its commit returns; with synchronous_commit off
// the commit returns before its WAL is on disk, and a PostgreSQL crash
// then loses mail that was acknowledged. Stronger settings an operator
// chose (remote_write, remote_apply for a synchronous replica, local) are
// kept: only off is raised to on. The body chunks' own transactions still
// set it off locally (blobs.go), covered by the commit that records them.
func requireDurableCommits(cfg *pgxpool.Config) {
	next := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if next != nil {
			if err := next(ctx, conn); err != nil {
				return err
			}
		}
		var setting string
		if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&setting); err != nil {
			return fmt.Errorf("read synchronous_commit: %w", err)
		}
		if setting != "off" {
			return nil
		}
		if _, err := conn.Exec(ctx, "SET synchronous_commit = on"); err != nil {
			return fmt.Errorf("set synchronous_commit: %w", err)
		}
		return nil
	}
}
