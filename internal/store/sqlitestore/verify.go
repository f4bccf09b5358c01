package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
	"mailroom/internal/store/blobfs"
)

var _ store.Verifier = (*Store)(nil)

// Verify implements store.Verifier. It reads in one transaction of a
// pooled connection (a snapshot: the writer goes on meanwhile) and holds
// off the removal of body files while it runs (blobfs.HoldRemovals), so
// that a body whose message is expunged under it is not reported missing.
func (s *Store) Verify(ctx context.Context, report func(store.Problem)) (store.VerifySummary, error) {
	release, err := s.blobs.HoldRemovals(ctx)
	if err != nil {
		return store.VerifySummary{}, fmt.Errorf("verify: %w", err)
	}
	defer release()
	var sum store.VerifySummary
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		sum, err = verifyConn(ctx, conn, s.blobs, report)
		return err
	})
	return sum, err
}

// VerifyDir checks the store in dir (a backup's copy, say) without
// writing to it: mail.db is opened read-only and not migrated, so its
// schema must be this binary's.
func VerifyDir(ctx context.Context, dir string, report func(store.Problem)) (store.VerifySummary, error) {
	dbPath := filepath.Join(dir, "mail.db")
	if _, err := os.Stat(dbPath); err != nil {
		return store.VerifySummary{}, fmt.Errorf("verify: %w", err)
	}
	conn, err := sqlite.OpenConn(dbPath, sqlite.OpenReadOnly)
	if err != nil {
		return store.VerifySummary{}, fmt.Errorf("verify: open %s: %w", dbPath, err)
	}
	defer conn.Close()
	if v, err := schemaVersion(conn); err != nil {
		return store.VerifySummary{}, fmt.Errorf("verify: %w", err)
	} else if v != len(migrations) {
		return store.VerifySummary{}, fmt.Errorf("verify: %s has schema version %d, this mailroom %d: verify it with the matching version", dbPath, v, len(migrations))
	}
	blobs, err := blobfs.OpenExisting(filepath.Join(dir, "blobs"))
	if err != nil {
		return store.VerifySummary{}, fmt.Errorf("verify: %w", err)
	}
	return verifyConn(ctx, conn, blobs, report)
}

// SchemaVersion is the number of migrations this binary's schema has.
func SchemaVersion() int { return len(migrations) }

func schemaVersion(conn *sqlite.Conn) (int, error) {
	var v int
	err := sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error { v = st.ColumnInt(0); return nil },
	})
	return v, err
}

// verifyConn runs the checks on conn in one read transaction.
func verifyConn(ctx context.Context, conn *sqlite.Conn, blobs *blobfs.FS, report func(store.Problem)) (sum store.VerifySummary, err error) {
	// Interrupted with ctx: a check of a large store takes a while.
	conn.SetInterrupt(ctx.Done())
	defer conn.SetInterrupt(nil)
	if err := sqlitex.ExecuteTransient(conn, "BEGIN", nil); err != nil {
		return sum, fmt.Errorf("verify: begin: %w", err)
	}
	defer func() {
		if rerr := sqlitex.ExecuteTransient(conn, "ROLLBACK", nil); rerr != nil && err == nil {
			err = fmt.Errorf("verify: end: %w", rerr)
		}
	}()
	q := func(what, query string, fn func(st *sqlite.Stmt)) {
		if err != nil {
			return
		}
		if e := sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{
			ResultFunc: func(st *sqlite.Stmt) error { fn(st); return ctx.Err() },
		}); e != nil {
			err = fmt.Errorf("verify: %s: %w", what, e)
		}
	}
	problem := func(check, format string, args ...any) {
		report(store.Problem{Check: check, Detail: fmt.Sprintf(format, args...)})
	}

	q("integrity", "PRAGMA integrity_check", func(st *sqlite.Stmt) {
		if msg := st.ColumnText(0); msg != "ok" {
			problem("integrity", "%s", msg)
		}
	})
	q("foreign keys", "PRAGMA foreign_key_check", func(st *sqlite.Stmt) {
		problem("integrity", "table %s row %d refers to a missing row of %s", st.ColumnText(0), st.ColumnInt64(1), st.ColumnText(2))
	})
	q("counts", `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM contents)`, func(st *sqlite.Stmt) {
		sum.Accounts, sum.Mailboxes, sum.Messages, sum.Contents = st.ColumnInt64(0), st.ColumnInt64(1), st.ColumnInt64(2), st.ColumnInt64(3)
	})
	for _, c := range store.ConsistencyChecks {
		q(c.Check, c.Query, func(st *sqlite.Stmt) {
			args := make([]any, st.ColumnCount())
			for i := range args {
				if st.ColumnType(i) == sqlite.TypeInteger {
					args[i] = st.ColumnInt64(i)
				} else {
					args[i] = st.ColumnText(i)
				}
			}
			problem(c.Check, c.Format, args...)
		})
	}
	// Bodies: inline ones must be there, files must exist with the size
	// the row says.
	q("bodies", "SELECT id, blob, size, body IS NULL, length(body) FROM contents", func(st *sqlite.Stmt) {
		id, ref, size := st.ColumnInt64(0), st.ColumnText(1), st.ColumnInt64(2)
		if ref == "" {
			if st.ColumnInt(3) == 1 {
				problem("body", "content %d has neither a file nor an inline body", id)
			} else if n := st.ColumnInt64(4); n != size {
				problem("body", "content %d: inline body is %d bytes, the row says %d", id, n, size)
			}
			return
		}
		sum.Blobs++
		n, serr := blobs.Size(ref)
		switch {
		case errors.Is(serr, fs.ErrNotExist):
			problem("body", "content %d: body file %s is missing", id, ref)
		case serr != nil:
			problem("body", "content %d: body file %s: %v", id, ref, serr)
		case n != size:
			problem("body", "content %d: body file %s is %d bytes, the row says %d", id, ref, n, size)
		default:
			sum.BlobBytes += n
		}
	})
	q("uploads", "SELECT id, blob, size FROM uploads", func(st *sqlite.Stmt) {
		id, ref, size := st.ColumnText(0), st.ColumnText(1), st.ColumnInt64(2)
		sum.Uploads++
		sum.Blobs++
		n, serr := blobs.Size(ref)
		switch {
		case errors.Is(serr, fs.ErrNotExist):
			problem("body", "upload %s: body file %s is missing", id, ref)
		case serr != nil:
			problem("body", "upload %s: body file %s: %v", id, ref, serr)
		case n != size:
			problem("body", "upload %s: body file %s is %d bytes, the row says %d", id, ref, n, size)
		default:
			sum.BlobBytes += n
		}
	})
	if err != nil {
		return sum, err
	}
	// Files no row names: one indexed lookup each, so memory stays
	// bounded whatever the number of bodies.
	err = blobs.EachRef(func(ref string) error {
		known := false
		if e := sqlitex.Execute(conn, "SELECT 1 FROM contents WHERE blob = ?1 AND blob != '' UNION ALL SELECT 1 FROM uploads WHERE blob = ?1", &sqlitex.ExecOptions{
			Args:       []any{ref},
			ResultFunc: func(*sqlite.Stmt) error { known = true; return nil },
		}); e != nil {
			return e
		}
		if !known {
			sum.Unreferenced++
		}
		return ctx.Err()
	})
	if err != nil {
		err = fmt.Errorf("verify: unreferenced bodies: %w", err)
	}
	return sum, err
}
