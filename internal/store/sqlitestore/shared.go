package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// Shared files and leases (store.SharedFiles, store.Leases). On SQLite
// there is one node, but the same interfaces keep the code above the store
// the same on both backends; and the single writer makes every write here
// atomic without more locking.

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
	found := false
	err := s.query(ctx, "SELECT data FROM shared_files WHERE name = ?", func(st *sqlite.Stmt) error {
		found = true
		data = make([]byte, st.ColumnLen(0))
		st.ColumnBytes(0, data)
		return nil
	}, name)
	if err != nil {
		return nil, fmt.Errorf("store: read shared file %q: %w", name, err)
	}
	if !found {
		return nil, fmt.Errorf("store: read shared file %q: %w", name, store.ErrNotFound)
	}
	return data, nil
}

// WriteFile implements store.SharedFiles: a durable write.
func (s *Store) WriteFile(ctx context.Context, name string, data []byte) error {
	if err := checkSharedFile(name, data); err != nil {
		return fmt.Errorf("store: write shared file: %w", err)
	}
	if err := s.write(ctx, func(tx *txn) error { return tx.putFile(name, data) }); err != nil {
		return fmt.Errorf("store: write shared file %q: %w", name, err)
	}
	return nil
}

// DeleteFile implements store.SharedFiles.
func (s *Store) DeleteFile(ctx context.Context, name string) error {
	if err := store.CheckSharedName(name); err != nil {
		return fmt.Errorf("store: delete shared file: %w", err)
	}
	if err := s.write(ctx, func(tx *txn) error {
		return tx.exec("DELETE FROM shared_files WHERE name = ?", name)
	}); err != nil {
		return fmt.Errorf("store: delete shared file %q: %w", name, err)
	}
	return nil
}

// ListFiles implements store.SharedFiles. substr and length count
// characters alike, so the comparison is a prefix match on the text.
func (s *Store) ListFiles(ctx context.Context, prefix string) ([]string, error) {
	if prefix != "" {
		if err := store.CheckSharedName(prefix); err != nil {
			return nil, fmt.Errorf("store: list shared files: %w", err)
		}
	}
	var names []string
	err := s.query(ctx, "SELECT name FROM shared_files WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name", func(st *sqlite.Stmt) error {
		names = append(names, st.ColumnText(0))
		return nil
	}, prefix)
	if err != nil {
		return nil, fmt.Errorf("store: list shared files %q: %w", prefix, err)
	}
	slices.Sort(names) // bytewise, as on PostgreSQL (SQLite's BINARY collation is too, but say so)
	return names, nil
}

// UpdateFile implements store.SharedFiles. fn runs inside the writer's
// transaction: nothing else writes between its read and its write.
func (s *Store) UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) ([]byte, bool, error)) error {
	if err := store.CheckSharedName(name); err != nil {
		return fmt.Errorf("store: update shared file: %w", err)
	}
	err := s.write(ctx, func(tx *txn) error {
		var old []byte
		exists := false
		if err := tx.query("SELECT data FROM shared_files WHERE name = ?", func(st *sqlite.Stmt) error {
			exists = true
			old = make([]byte, st.ColumnLen(0))
			st.ColumnBytes(0, old)
			return nil
		}, name); err != nil {
			return err
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

func (tx *txn) putFile(name string, data []byte) error {
	if data == nil {
		data = []byte{} // NOT NULL: an empty file is a file
	}
	return tx.exec(`INSERT INTO shared_files (name, data, modified) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET data = excluded.data, modified = excluded.modified`, name, data, tx.now.Unix())
}

func checkSharedFile(name string, data []byte) error {
	if err := store.CheckSharedName(name); err != nil {
		return err
	}
	return store.CheckSharedFile(data)
}

// AcquireLease implements store.Leases. A lazy write: a lease lost to a
// power loss went with the process that held it.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error) {
	if err := checkLease(name, owner); err != nil {
		return false, fmt.Errorf("store: acquire lease: %w", err)
	}
	got := false
	err := s.writeLazy(ctx, func(tx *txn) error {
		got = false // a retried batch runs fn again
		return tx.query(`INSERT INTO leases (name, owner, expires) VALUES (?1, ?2, ?3)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
			WHERE leases.owner = excluded.owner OR leases.expires <= ?4
			RETURNING 1`, func(*sqlite.Stmt) error { got = true; return nil },
			name, owner, until.UnixMilli(), time.Now().UnixMilli())
	})
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	return got, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := checkLease(name, owner); err != nil {
		return fmt.Errorf("store: release lease: %w", err)
	}
	if err := s.writeLazy(ctx, func(tx *txn) error {
		return tx.exec("DELETE FROM leases WHERE name = ? AND owner = ?", name, owner)
	}); err != nil {
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
