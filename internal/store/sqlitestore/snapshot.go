package sqlitestore

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// SnapshotBody is a body file a snapshot's database refers to.
type SnapshotBody struct {
	Ref  string // the reference in contents.blob (also its path under blobs/objects/)
	Path string // the live file
	Size int64
}

// Snapshot is a consistent copy of the database (Store.Snapshot).
type Snapshot struct {
	Schema                                  int
	Accounts, Mailboxes, Messages, Contents int64
	Bodies                                  []SnapshotBody
}

// Snapshot writes a consistent copy of the live database to dbPath (a
// file that must not exist) and lists the body files the copy refers to.
// Those files stay where they are, whatever the server expunges meanwhile,
// until release is called: removals are held off (blobfs.HoldRemovals)
// from before the copy is taken, so every body the copy refers to was on
// disk when it was taken and is still there. The caller copies them and
// then calls release; until then expunged bodies wait in blob_trash.
func (s *Store) Snapshot(ctx context.Context, dbPath string) (snap Snapshot, release func(), err error) {
	release, err = s.blobs.HoldRemovals(ctx)
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			release()
			release = nil
		}
	}()
	dst, err := sqlite.OpenConn(dbPath, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: open %s: %w", dbPath, err)
	}
	defer func() {
		if dst != nil {
			dst.Close()
		}
	}()
	dst.SetInterrupt(ctx.Done())
	// One step copies every page under one read transaction of the
	// source: a consistent snapshot, however busy the writer is.
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		b, err := sqlite.NewBackup(dst, "main", conn, "main")
		if err != nil {
			return err
		}
		if _, err := b.Step(-1); err != nil {
			b.Close()
			return err
		}
		return b.Close()
	})
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: copy the database: %w", err)
	}
	// A single file, with nothing in a write-ahead log beside it: what
	// rsync copies is the whole of it.
	if err := sqlitex.ExecuteTransient(dst, "PRAGMA journal_mode = DELETE", nil); err != nil {
		return snap, nil, fmt.Errorf("snapshot: %w", err)
	}
	if snap.Schema, err = schemaVersion(dst); err != nil {
		return snap, nil, fmt.Errorf("snapshot: %w", err)
	}
	err = sqlitex.ExecuteTransient(dst, `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM contents)`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error {
			snap.Accounts, snap.Mailboxes, snap.Messages, snap.Contents = st.ColumnInt64(0), st.ColumnInt64(1), st.ColumnInt64(2), st.ColumnInt64(3)
			return nil
		},
	})
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: count: %w", err)
	}
	// Messages' bodies and uploads' (a restored server still has the
	// uploads its clients may refer to).
	err = sqlitex.ExecuteTransient(dst, "SELECT blob, size FROM contents WHERE blob != '' UNION ALL SELECT blob, size FROM uploads ORDER BY 1", &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error {
			ref := st.ColumnText(0)
			path, err := s.blobs.Path(ref)
			if err != nil {
				return err
			}
			snap.Bodies = append(snap.Bodies, SnapshotBody{Ref: ref, Path: path, Size: st.ColumnInt64(1)})
			return nil
		},
	})
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: list bodies: %w", err)
	}
	dst.SetInterrupt(nil)
	err = dst.Close()
	dst = nil
	if err != nil {
		return snap, nil, fmt.Errorf("snapshot: close %s: %w", dbPath, err)
	}
	return snap, release, nil
}
