package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"mailroom/internal/backup"
	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/store/storeopen"
)

// cmdBackup is `mailroom backup DEST`: a consistent snapshot of the
// configured store while serve runs (docs/operations.md, "Backups").
func cmdBackup(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	configPath := fs.String("config", config.DefaultPath, "configuration file")
	since := fs.String("since", "", "an earlier backup (SQLite): hard-link its bodies that are still in use instead of copying them")
	pgBin := fs.String("pg-bin", "", "directory of pg_dump (PostgreSQL; default: from $PATH)")
	pgCompress := fs.Int("pg-compress", 1, "pg_dump's compression level, 0 (none) to 9 (PostgreSQL)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("backup", pos, 1, "[--since PREVIOUS] DEST"); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	st, err := storeopen.Open(ctx, cfg, storeopen.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	opts := backup.Options{DataDir: cfg.DataDir, Dest: pos[0], Since: *since, Version: versionString(), PGBin: *pgBin, PGCompress: *pgCompress, Log: sio.err}
	var m *backup.Manifest
	switch s := st.(type) {
	case *sqlitestore.Store:
		m, err = backup.SQLite(ctx, s, opts)
	case *pgstore.Store:
		m, err = backup.Postgres(ctx, s, cfg.Store.DSN, opts)
	default:
		return fmt.Errorf("backup: the %T store cannot be backed up", st)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(sio.out, "backup %s: %s, %d accounts, %d mailboxes, %d messages, %d body files (%d bytes, %d linked), %d other files\n",
		pos[0], m.Backend, m.Counts.Accounts, m.Counts.Mailboxes, m.Counts.Messages, m.Counts.Bodies, m.Counts.BodyBytes, m.Counts.Linked, len(m.Files))
	return nil
}

// cmdRestore is `mailroom restore SRC`: a backup into the configured,
// empty data directory or database.
func cmdRestore(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	configPath := fs.String("config", config.DefaultPath, "configuration file")
	force := fs.Bool("force", false, "replace the store of a data directory or database that is not empty")
	pgBin := fs.String("pg-bin", "", "directory of pg_restore (PostgreSQL; default: from $PATH)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("restore", pos, 1, "[--force] SRC"); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	backend := backup.BackendSQLite
	if cfg.Store.Backend == config.BackendPostgres {
		backend = backup.BackendPostgres
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// No server may start on the data directory while it is filled.
	unlock, err := lockServe(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = backup.Restore(ctx, pos[0], backup.RestoreOptions{DataDir: cfg.DataDir, Backend: backend, DSN: cfg.Store.DSN, Force: *force, PGBin: *pgBin, Log: sio.err})
	if err != nil {
		return err
	}
	// What was restored is checked as verify would.
	st, err := storeopen.Open(ctx, cfg, storeopen.Options{})
	if err != nil {
		return fmt.Errorf("restore: open the restored store: %w", err)
	}
	defer st.Close()
	v, ok := st.(store.Verifier)
	if !ok {
		return fmt.Errorf("restore: the %T store cannot be verified", st)
	}
	return printVerify(ctx, sio, "restored store", func(report func(store.Problem)) (store.VerifySummary, error) {
		return v.Verify(ctx, report)
	})
}

// cmdVerify is `mailroom verify`: the configured store's consistency, or
// a backup directory's.
func cmdVerify(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	configPath := fs.String("config", config.DefaultPath, "configuration file")
	dir := fs.String("backup", "", "check this backup directory instead of the configured store")
	pgBin := fs.String("pg-bin", "", "directory of pg_restore, to read a PostgreSQL backup's dump (default: from $PATH)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("verify", pos, 0, "[--backup DIR]"); err != nil {
		return err
	}
	if *dir != "" {
		return printVerify(ctx, sio, "backup "+*dir, func(report func(store.Problem)) (store.VerifySummary, error) {
			_, sum, err := backup.Check(ctx, *dir, *pgBin, report)
			return sum, err
		})
	}
	st, err := openStore(ctx, *configPath)
	if err != nil {
		return err
	}
	defer st.Close()
	v, ok := st.(store.Verifier)
	if !ok {
		return fmt.Errorf("verify: the %T store cannot be verified", st)
	}
	return printVerify(ctx, sio, "store", func(report func(store.Problem)) (store.VerifySummary, error) {
		return v.Verify(ctx, report)
	})
}

// errProblems is verify's failure: the problems are printed already.
var errProblems = errors.New("problems found")

// printVerify runs a verification, printing one line per problem and a
// summary; it fails if there was any problem.
func printVerify(ctx context.Context, sio *stdio, what string, run func(report func(store.Problem)) (store.VerifySummary, error)) error {
	start := time.Now()
	n := 0
	sum, err := run(func(p store.Problem) {
		n++
		fmt.Fprintf(sio.out, "PROBLEM %s\n", p)
	})
	if err != nil {
		return err
	}
	verdict := "ok"
	if n > 0 {
		verdict = fmt.Sprintf("%d problems", n)
	}
	fmt.Fprintf(sio.out, "%s: %d accounts, %d mailboxes, %d messages, %d contents, %d body files (%d bytes) checked in %v: %s\n",
		what, sum.Accounts, sum.Mailboxes, sum.Messages, sum.Contents, sum.Blobs, sum.BlobBytes, time.Since(start).Round(time.Millisecond), verdict)
	if n > 0 {
		return fmt.Errorf("verify: %s: %w (%d)", what, errProblems, n)
	}
	return ctx.Err()
}
