package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Sieve scripts (store.SieveScripts) follow sqlitestore/sieve.go. What
// SQLite gets from its single writer, each change gets from writeAccount:
// READ COMMITTED under the account's row lock, so that changes of one
// account's scripts run one after another on every node, and a check
// (does the name exist, is there room for one more) holds until the
// commit. The partial unique index keeps one active script per account
// all the same. Every change writes a changeAccount row (tx.changed), which
// publishes EventAccountChanged here and reaches the other nodes through
// the change log, as SetSettings does: their delivery caches of the
// active script drop it.

var _ store.SieveScripts = (*Store)(nil)

// scriptColumns are what scanScript reads, content excluded.
const scriptColumns = "name, active, updated"

func scanScript(row pgx.CollectableRow) (store.SieveScript, error) {
	var sc store.SieveScript
	var updated int64
	err := row.Scan(&sc.Name, &sc.Active, &updated)
	sc.Updated = time.Unix(updated, 0)
	return sc, err
}

// SieveScripts implements store.SieveScripts.
func (s *Store) SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+scriptColumns+" FROM sieve_scripts WHERE account_id = $1 ORDER BY name", accountID)
	out, err := pgx.CollectRows(rows, scanScript)
	if err != nil {
		return nil, fmt.Errorf("store: list sieve scripts: %w", unavailable(err))
	}
	return out, nil
}

// SieveScript implements store.SieveScripts.
func (s *Store) SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error) {
	sc, err := s.oneScript(ctx, "account_id = $1 AND name = $2", accountID, name)
	if err != nil {
		return store.SieveScript{}, fmt.Errorf("store: sieve script %q of account %d: %w", name, accountID, err)
	}
	return sc, nil
}

// ActiveSieveScript implements store.SieveScripts.
func (s *Store) ActiveSieveScript(ctx context.Context, accountID int64) (store.SieveScript, error) {
	sc, err := s.oneScript(ctx, "account_id = $1 AND active", accountID)
	if err != nil {
		return store.SieveScript{}, fmt.Errorf("store: active sieve script of account %d: %w", accountID, err)
	}
	return sc, nil
}

// oneScript reads the script where says, with its content, or fails
// with ErrNotFound.
func (s *Store) oneScript(ctx context.Context, where string, args ...any) (store.SieveScript, error) {
	var sc store.SieveScript
	var updated int64
	err := s.pool.QueryRow(ctx, "SELECT "+scriptColumns+", content FROM sieve_scripts WHERE "+where, args...).
		Scan(&sc.Name, &sc.Active, &updated, &sc.Content)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.SieveScript{}, store.ErrNotFound
	}
	if err != nil {
		return store.SieveScript{}, unavailable(err)
	}
	sc.Updated = time.Unix(updated, 0)
	return sc, nil
}

// scriptExists reports whether the account has a script of that name.
func (tx *txn) scriptExists(accountID int64, name string) (exists, active bool, err error) {
	err = tx.QueryRow(tx.ctx, "SELECT active FROM sieve_scripts WHERE account_id = $1 AND name = $2", accountID, name).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	return err == nil, active, err
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
	err := s.writeAccount(ctx, accountID, func(tx *txn) error {
		exists, _, err := tx.scriptExists(accountID, name)
		if err != nil {
			return err
		}
		if !exists {
			// Counted only for a new script: replacing one at the
			// bound is allowed.
			var n int
			if err := tx.QueryRow(tx.ctx, "SELECT count(*) FROM sieve_scripts WHERE account_id = $1", accountID).Scan(&n); err != nil {
				return err
			}
			if n >= store.MaxSieveScripts {
				return fmt.Errorf("%w: account %d has %d scripts, the most there can be", store.ErrSieveTooMany, accountID, n)
			}
		}
		if _, err := tx.exec(`INSERT INTO sieve_scripts (account_id, name, content, active, updated) VALUES ($1, $2, $3, false, $4)
			ON CONFLICT (account_id, name) DO UPDATE SET content = excluded.content, updated = excluded.updated`,
			accountID, name, content, tx.now.Unix()); err != nil {
			return err
		}
		return tx.changed(accountID, 0, 0, changeAccount)
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
	err := s.writeAccount(ctx, accountID, func(tx *txn) error {
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
		if _, err := tx.exec("UPDATE sieve_scripts SET name = $3 WHERE account_id = $1 AND name = $2", accountID, oldName, newName); err != nil {
			return err
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: rename sieve script %q to %q: %w", oldName, newName, err)
	}
	return nil
}

// DeleteSieveScript implements store.SieveScripts.
func (s *Store) DeleteSieveScript(ctx context.Context, accountID int64, name string) error {
	err := s.writeAccount(ctx, accountID, func(tx *txn) error {
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
		if _, err := tx.exec("DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2", accountID, name); err != nil {
			return err
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: delete sieve script %q of account %d: %w", name, accountID, err)
	}
	return nil
}

// SetActiveSieveScript implements store.SieveScripts. The other script
// is deactivated before the named one is activated: the partial unique
// index is checked row by row, and would refuse two at any moment.
func (s *Store) SetActiveSieveScript(ctx context.Context, accountID int64, name string) error {
	err := s.writeAccount(ctx, accountID, func(tx *txn) error {
		if name != "" {
			if exists, _, err := tx.scriptExists(accountID, name); err != nil {
				return err
			} else if !exists {
				return store.ErrNotFound
			}
		}
		if _, err := tx.exec("UPDATE sieve_scripts SET active = false WHERE account_id = $1 AND active AND name <> $2", accountID, name); err != nil {
			return err
		}
		if name != "" {
			if _, err := tx.exec("UPDATE sieve_scripts SET active = true WHERE account_id = $1 AND name = $2", accountID, name); err != nil {
				return err
			}
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: activate sieve script %q of account %d: %w", name, accountID, err)
	}
	return nil
}

// SieveDuplicateSeen implements store.SieveScripts.
func (s *Store) SieveDuplicateSeen(ctx context.Context, accountID int64, id string, now time.Time) (bool, error) {
	var one int
	err := s.pool.QueryRow(ctx, "SELECT 1 FROM sieve_duplicates WHERE account_id = $1 AND id = $2 AND expires > $3",
		accountID, store.SieveDuplicateKey(id), now.Unix()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: sieve duplicate: %w", unavailable(err))
	}
	return true, nil
}

// maxDuplicatePrune bounds the expired duplicate records one
// RecordSieveDuplicate removes, so that no delivery pays for a backlog at
// once; each record adds one row and may remove this many, so the
// pruning keeps up.
const maxDuplicatePrune = 1000

// RecordSieveDuplicate implements store.SieveScripts. It publishes
// nothing: no one caches the records. READ COMMITTED without the
// account's lock, since deliveries record concurrently: the upsert of one
// id is atomic at any level, and the pruning (of every account's expired
// records, not only this one's, so that an account that stopped tracking
// does not keep its rows for ever) skips the rows another delivery is
// removing instead of waiting for it.
func (s *Store) RecordSieveDuplicate(ctx context.Context, accountID int64, id string, expires time.Time) error {
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM sieve_duplicates WHERE (account_id, id) IN
			(SELECT account_id, id FROM sieve_duplicates WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			tx.now.Unix(), maxDuplicatePrune); err != nil {
			return err
		}
		_, err := tx.exec(`INSERT INTO sieve_duplicates (account_id, id, expires) VALUES ($1, $2, $3)
			ON CONFLICT (account_id, id) DO UPDATE SET expires = excluded.expires`,
			accountID, store.SieveDuplicateKey(id), expires.Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record sieve duplicate: %w", err)
	}
	return nil
}
