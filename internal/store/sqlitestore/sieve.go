package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.SieveScripts = (*Store)(nil)

// Sieve scripts (store.SieveScripts) live in sieve_scripts (migration
// 23). Each change is one request of the single writer, so its checks
// (does the name exist, is there room for one more) and its write cannot
// be overtaken by another change of the same account; the partial unique
// index keeps one active script per account all the same. Every change
// publishes EventAccountChanged and writes a change log row, as
// SetSettings does, so that a cache of the active script in this process
// and in the others (admin commands, a second store on the data) drops
// it.

// scriptColumns are what scanScript reads, content excluded.
const scriptColumns = "name, active, updated"

func scanScript(st *sqlite.Stmt) store.SieveScript {
	return store.SieveScript{Name: st.ColumnText(0), Active: st.ColumnBool(1), Updated: time.Unix(st.ColumnInt64(2), 0)}
}

// SieveScripts implements store.SieveScripts.
func (s *Store) SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error) {
	var out []store.SieveScript
	err := s.query(ctx, "SELECT "+scriptColumns+" FROM sieve_scripts WHERE account_id = ? ORDER BY name", func(st *sqlite.Stmt) error {
		out = append(out, scanScript(st))
		return nil
	}, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: list sieve scripts: %w", err)
	}
	return out, nil
}

// SieveScript implements store.SieveScripts.
func (s *Store) SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error) {
	sc, err := s.oneScript(ctx, "account_id = ? AND name = ?", accountID, name)
	if err != nil {
		return store.SieveScript{}, fmt.Errorf("store: sieve script %q of account %d: %w", name, accountID, err)
	}
	return sc, nil
}

// ActiveSieveScript implements store.SieveScripts.
func (s *Store) ActiveSieveScript(ctx context.Context, accountID int64) (store.SieveScript, error) {
	sc, err := s.oneScript(ctx, "account_id = ? AND active", accountID)
	if err != nil {
		return store.SieveScript{}, fmt.Errorf("store: active sieve script of account %d: %w", accountID, err)
	}
	return sc, nil
}

// oneScript reads the script where says, with its content, or fails
// with ErrNotFound.
func (s *Store) oneScript(ctx context.Context, where string, args ...any) (store.SieveScript, error) {
	var sc store.SieveScript
	found := false
	err := s.query(ctx, "SELECT "+scriptColumns+", content FROM sieve_scripts WHERE "+where, func(st *sqlite.Stmt) error {
		sc = scanScript(st)
		sc.Content = st.ColumnText(3)
		found = true
		return nil
	}, args...)
	if err != nil {
		return store.SieveScript{}, err
	}
	if !found {
		return store.SieveScript{}, store.ErrNotFound
	}
	return sc, nil
}

// scriptExists reports whether the account has a script of that name.
func (tx *txn) scriptExists(accountID int64, name string) (exists, active bool, err error) {
	err = tx.query("SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?", func(st *sqlite.Stmt) error {
		exists, active = true, st.ColumnBool(0)
		return nil
	}, accountID, name)
	return exists, active, err
}

// sieveChanged announces a change of the account's scripts, here and to
// the other processes.
func (tx *txn) sieveChanged(accountID int64) {
	tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: accountID})
	tx.changed(accountID, 0, 0, changeAccount)
}

// PutSieveScript implements store.SieveScripts. Replacing a script keeps
// its active mark: the upsert does not touch it.
func (s *Store) PutSieveScript(ctx context.Context, accountID int64, name, content string) error {
	if err := store.CheckSieveScriptName(name); err != nil {
		return fmt.Errorf("store: put sieve script: %w", err)
	}
	if err := store.CheckSieveScript(content); err != nil {
		return fmt.Errorf("store: put sieve script %q: %w", name, err)
	}
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		exists, _, err := tx.scriptExists(accountID, name)
		if err != nil {
			return err
		}
		if !exists {
			// Counted only for a new script: replacing one at the
			// bound is allowed.
			var n int
			if err := tx.query("SELECT count(*) FROM sieve_scripts WHERE account_id = ?", func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }, accountID); err != nil {
				return err
			}
			if n >= store.MaxSieveScripts {
				return fmt.Errorf("%w: account %d has %d scripts, the most there can be", store.ErrSieveTooMany, accountID, n)
			}
		}
		if err := tx.exec(`INSERT INTO sieve_scripts (account_id, name, content, active, updated) VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (account_id, name) DO UPDATE SET content = excluded.content, updated = excluded.updated`,
			accountID, name, content, tx.now.Unix()); err != nil {
			return err
		}
		tx.sieveChanged(accountID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: put sieve script %q: %w", name, err)
	}
	return nil
}

// RenameSieveScript implements store.SieveScripts. The row keeps its
// active mark and content. Renaming a script to its own name is
// ErrExists: the new name is taken (RFC 5804 2.11.1 lets a server answer
// that or OK).
func (s *Store) RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error {
	if err := store.CheckSieveScriptName(newName); err != nil {
		return fmt.Errorf("store: rename sieve script: %w", err)
	}
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		if exists, _, err := tx.scriptExists(accountID, oldName); err != nil {
			return err
		} else if !exists {
			return fmt.Errorf("script %q: %w", oldName, store.ErrNotFound)
		}
		if exists, _, err := tx.scriptExists(accountID, newName); err != nil {
			return err
		} else if exists {
			return fmt.Errorf("script %q: %w", newName, store.ErrExists)
		}
		if err := tx.exec("UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?", newName, accountID, oldName); err != nil {
			return err
		}
		tx.sieveChanged(accountID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: rename sieve script %q to %q: %w", oldName, newName, err)
	}
	return nil
}

// DeleteSieveScript implements store.SieveScripts.
func (s *Store) DeleteSieveScript(ctx context.Context, accountID int64, name string) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		exists, active, err := tx.scriptExists(accountID, name)
		if err != nil {
			return err
		}
		if !exists {
			return store.ErrNotFound
		}
		if active {
			return store.ErrSieveActive
		}
		if err := tx.exec("DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?", accountID, name); err != nil {
			return err
		}
		tx.sieveChanged(accountID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete sieve script %q of account %d: %w", name, accountID, err)
	}
	return nil
}

// SetActiveSieveScript implements store.SieveScripts. The other script
// is deactivated before the named one is activated, so the partial unique
// index never sees two.
func (s *Store) SetActiveSieveScript(ctx context.Context, accountID int64, name string) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		if name != "" {
			if exists, _, err := tx.scriptExists(accountID, name); err != nil {
				return err
			} else if !exists {
				return store.ErrNotFound
			}
		}
		if err := tx.exec("UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active AND name != ?", accountID, name); err != nil {
			return err
		}
		if name != "" {
			if err := tx.exec("UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?", accountID, name); err != nil {
				return err
			}
		}
		tx.sieveChanged(accountID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: activate sieve script %q of account %d: %w", name, accountID, err)
	}
	return nil
}

// SieveDuplicateSeen implements store.SieveScripts.
func (s *Store) SieveDuplicateSeen(ctx context.Context, accountID int64, id string, now time.Time) (bool, error) {
	seen := false
	err := s.query(ctx, "SELECT 1 FROM sieve_duplicates WHERE account_id = ? AND id = ? AND expires > ?",
		func(*sqlite.Stmt) error { seen = true; return nil }, accountID, store.SieveDuplicateKey(id), now.Unix())
	if err != nil {
		return false, fmt.Errorf("store: sieve duplicate: %w", err)
	}
	return seen, nil
}

// maxDuplicatePrune bounds the expired duplicate records one
// RecordSieveDuplicate removes, so that no delivery pays for a backlog at
// once; each record adds one row and may remove this many, so the
// pruning keeps up.
const maxDuplicatePrune = 1000

// RecordSieveDuplicate implements store.SieveScripts. It publishes
// nothing: no one caches the records. Every account's expired records
// are pruned (a bounded number, through the expires index), not only
// this one's, so that an account that stopped tracking does not keep its
// rows for ever.
func (s *Store) RecordSieveDuplicate(ctx context.Context, accountID int64, id string, expires time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		if err := tx.exec(`DELETE FROM sieve_duplicates WHERE (account_id, id) IN
			(SELECT account_id, id FROM sieve_duplicates WHERE expires <= ? LIMIT ?)`, tx.now.Unix(), maxDuplicatePrune); err != nil {
			return err
		}
		return tx.exec(`INSERT INTO sieve_duplicates (account_id, id, expires) VALUES (?, ?, ?)
			ON CONFLICT (account_id, id) DO UPDATE SET expires = excluded.expires`,
			accountID, store.SieveDuplicateKey(id), expires.Unix())
	})
	if err != nil {
		return fmt.Errorf("store: record sieve duplicate: %w", err)
	}
	return nil
}
