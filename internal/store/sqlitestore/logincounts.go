package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// The login throttle's shared counts (store.LoginCounts). On one node the
// throttle keeps its counts in memory and does not use these; they are
// here so that every backend is a whole store.Store.

var _ store.LoginCounts = (*Store)(nil)

// LoginCounts implements store.LoginCounts.
func (s *Store) LoginCounts(ctx context.Context, keys []string) (map[string]auth.SharedCount, error) {
	if err := store.CheckLoginKeys(keys); err != nil {
		return nil, fmt.Errorf("store: login counts: %w", err)
	}
	counts := map[string]auth.SharedCount{}
	if len(keys) == 0 {
		return counts, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	q := "SELECT key, count, updated FROM login_counts WHERE key IN (?" + strings.Repeat(", ?", len(keys)-1) + ")"
	err := s.query(ctx, q, func(st *sqlite.Stmt) error {
		counts[st.ColumnText(0)] = auth.SharedCount{Count: st.ColumnFloat(1), At: time.UnixMilli(st.ColumnInt64(2))}
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("store: login counts: %w", err)
	}
	return counts, nil
}

// AddLoginCounts implements store.LoginCounts: a read and a write of each
// key in the single writer's transaction, so nothing comes between. Lazy:
// a failure count lost to a power loss costs an attacker's guess nothing
// it did not cost before the throttle was shared.
func (s *Store) AddLoginCounts(ctx context.Context, keys []string, delta float64, now time.Time, halfLife time.Duration) error {
	if err := checkLoginAdd(keys, delta, halfLife); err != nil {
		return fmt.Errorf("store: add login counts: %w", err)
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys))) // each key once
	err := s.writeLazy(ctx, func(tx *txn) error {
		for _, k := range keys {
			var count float64
			var updated int64
			found := false
			if err := tx.query("SELECT count, updated FROM login_counts WHERE key = ?", func(st *sqlite.Stmt) error {
				found, count, updated = true, st.ColumnFloat(0), st.ColumnInt64(1)
				return nil
			}, k); err != nil {
				return err
			}
			at := now.UnixMilli()
			if found {
				count = decayed(count, at-updated, halfLife)
				at = max(at, updated)
			}
			count += delta
			if count < auth.ForgetBelow {
				if err := tx.exec("DELETE FROM login_counts WHERE key = ?", k); err != nil {
					return err
				}
				continue
			}
			if err := tx.exec(`INSERT INTO login_counts (key, count, updated) VALUES (?1, ?2, ?3)
				ON CONFLICT (key) DO UPDATE SET count = excluded.count, updated = excluded.updated`, k, count, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add login counts: %w", err)
	}
	return nil
}

// decayed is count after elapsedMillis of halfLife decay (none for a
// count from the future).
func decayed(count float64, elapsedMillis int64, halfLife time.Duration) float64 {
	if elapsedMillis <= 0 {
		return count
	}
	return count * math.Exp2(-float64(elapsedMillis)/float64(halfLife.Milliseconds()))
}

func checkLoginAdd(keys []string, delta float64, halfLife time.Duration) error {
	if err := store.CheckLoginKeys(keys); err != nil {
		return err
	}
	if halfLife < time.Millisecond {
		return fmt.Errorf("%w: half-life %v", store.ErrInvalid, halfLife)
	}
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return fmt.Errorf("%w: delta %v", store.ErrInvalid, delta)
	}
	return nil
}

// PutLoginCount implements store.LoginCounts.
func (s *Store) PutLoginCount(ctx context.Context, key string, c auth.SharedCount) error {
	if err := store.CheckLoginKeys([]string{key}); err != nil {
		return fmt.Errorf("store: put login count: %w", err)
	}
	err := s.writeLazy(ctx, func(tx *txn) error {
		return tx.exec(`INSERT INTO login_counts (key, count, updated) VALUES (?1, ?2, ?3)
			ON CONFLICT (key) DO UPDATE SET count = excluded.count, updated = excluded.updated`, key, c.Count, c.At.UnixMilli())
	})
	if err != nil {
		return fmt.Errorf("store: put login count: %w", err)
	}
	return nil
}

// PruneLoginCounts implements store.LoginCounts.
func (s *Store) PruneLoginCounts(ctx context.Context, prefix string, before time.Time) (int, error) {
	if prefix != "" {
		if err := store.CheckSharedName(prefix); err != nil {
			return 0, fmt.Errorf("store: prune login counts: %w", err)
		}
	}
	n := 0
	err := s.writeLazy(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM login_counts WHERE updated < ?1 AND substr(key, 1, length(?2)) = ?2", before.UnixMilli(), prefix); err != nil {
			return err
		}
		n = tx.conn.Changes()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune login counts: %w", err)
	}
	return n, nil
}
