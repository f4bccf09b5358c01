package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Shared files and leases (store.SharedFiles, store.Leases): the state
// several nodes on one database share, beyond mail.

var (
	_ store.SharedFiles = (*Store)(nil)
	_ store.Leases      = (*Store)(nil)
)

// ReadFile implements store.SharedFiles.
func (s *Store) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := store.CheckSharedName(name); err != nil {
		return nil, fmt.Errorf("store: read shared file: %w", err)
	}
	var data []byte
	err := s.pool.QueryRow(ctx, "SELECT data FROM shared_files WHERE name = $1", name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: read shared file %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read shared file %q: %w", name, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// WriteFile implements store.SharedFiles. It takes the name's lock like
// UpdateFile, so that it never lands between an update's read and write.
func (s *Store) WriteFile(ctx context.Context, name string, data []byte) error {
	if err := store.CheckSharedName(name); err != nil {
		return fmt.Errorf("store: write shared file: %w", err)
	}
	if err := store.CheckSharedFile(data); err != nil {
		return fmt.Errorf("store: write shared file %q: %w", name, err)
	}
	err := s.writeFile(ctx, name, func(tx *txn) error { return tx.putFile(name, data) })
	if err != nil {
		return fmt.Errorf("store: write shared file %q: %w", name, err)
	}
	return nil
}

// DeleteFile implements store.SharedFiles.
func (s *Store) DeleteFile(ctx context.Context, name string) error {
	if err := store.CheckSharedName(name); err != nil {
		return fmt.Errorf("store: delete shared file: %w", err)
	}
	err := s.writeFile(ctx, name, func(tx *txn) error {
		_, err := tx.exec("DELETE FROM shared_files WHERE name = $1", name)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete shared file %q: %w", name, err)
	}
	return nil
}

// ListFiles implements store.SharedFiles. The names are COLLATE "C", so
// ORDER BY is bytewise, as on SQLite.
func (s *Store) ListFiles(ctx context.Context, prefix string) ([]string, error) {
	if prefix != "" {
		if err := store.CheckSharedName(prefix); err != nil {
			return nil, fmt.Errorf("store: list shared files: %w", err)
		}
	}
	rows, err := s.pool.Query(ctx, "SELECT name FROM shared_files WHERE starts_with(name, $1) ORDER BY name", prefix)
	if err != nil {
		return nil, fmt.Errorf("store: list shared files %q: %w", prefix, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: list shared files %q: %w", prefix, err)
	}
	return names, nil
}

// UpdateFile implements store.SharedFiles. The name's lock (writeFile)
// makes concurrent updates of one file, on any node, run one after
// another, each reading what the one before committed; SERIALIZABLE would
// do too, but a hot counter updated by many sessions at once would make
// its transactions abort each other faster than retries get through.
func (s *Store) UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) ([]byte, bool, error)) error {
	if err := store.CheckSharedName(name); err != nil {
		return fmt.Errorf("store: update shared file: %w", err)
	}
	err := s.writeFile(ctx, name, func(tx *txn) error {
		var old []byte
		exists := true
		err := tx.QueryRow(tx.ctx, "SELECT data FROM shared_files WHERE name = $1", name).Scan(&old)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			exists = false
		case err != nil:
			return err
		case old == nil:
			old = []byte{}
		}
		data, write, err := fn(old, exists)
		if err != nil || !write {
			return err
		}
		if err := store.CheckSharedFile(data); err != nil {
			return err
		}
		return tx.putFile(name, data)
	})
	if err != nil {
		return fmt.Errorf("store: update shared file %q: %w", name, err)
	}
	return nil
}

// writeFile runs fn in a READ COMMITTED transaction that first takes a
// transaction-scoped advisory lock on the file's name. A row lock (FOR
// UPDATE) cannot lock a file that does not exist yet, and "create it
// unless it exists" is exactly what two nodes must not both do. Two names
// whose hashes collide merely wait for each other.
func (s *Store) writeFile(ctx context.Context, name string, fn func(tx *txn) error) error {
	return s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		if _, err := tx.exec("SELECT pg_advisory_xact_lock($1)", fileLockKey(name)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return fn(tx)
	})
}

// fileLockKey is the advisory lock key of a shared file: a 64-bit hash of
// its name in a namespace of its own.
func fileLockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mailroom shared file\x00"))
	h.Write([]byte(name))
	return int64(h.Sum64())
}

func (tx *txn) putFile(name string, data []byte) error {
	if data == nil {
		data = []byte{} // NOT NULL: an empty file is a file
	}
	_, err := tx.exec(`INSERT INTO shared_files (name, data, modified) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET data = excluded.data, modified = excluded.modified`, name, data, tx.now.Unix())
	return err
}

// AcquireLease implements store.Leases. One statement: INSERT … ON
// CONFLICT DO UPDATE locks the existing row and evaluates the WHERE on its
// newest version, so of two nodes acquiring a free or expired lease at
// once exactly one gets a row back.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error) {
	if err := checkLease(name, owner); err != nil {
		return false, fmt.Errorf("store: acquire lease: %w", err)
	}
	var one int
	err := s.pool.QueryRow(ctx, `INSERT INTO leases (name, owner, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.owner = excluded.owner OR leases.expires <= $4
		RETURNING 1`, name, owner, until.UnixMilli(), time.Now().UnixMilli()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	return true, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := checkLease(name, owner); err != nil {
		return fmt.Errorf("store: release lease: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM leases WHERE name = $1 AND owner = $2", name, owner); err != nil {
		return fmt.Errorf("store: release lease %q: %w", name, err)
	}
	return nil
}

func checkLease(name, owner string) error {
	if err := store.CheckSharedName(name); err != nil {
		return err
	}
	if err := store.CheckSharedName(owner); err != nil {
		return fmt.Errorf("lease owner: %w", err)
	}
	return nil
}
