package pgstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// The login throttle's shared counts (store.LoginCounts): what makes a
// password guess on one node count on every other.

var _ store.LoginCounts = (*Store)(nil)

// LoginCounts implements store.LoginCounts: one statement, one index
// scan of the primary key.
func (s *Store) LoginCounts(ctx context.Context, keys []string) (map[string]auth.SharedCount, error) {
	if err := store.CheckLoginKeys(keys); err != nil {
		return nil, fmt.Errorf("store: login counts: %w", err)
	}
	counts := map[string]auth.SharedCount{}
	if len(keys) == 0 {
		return counts, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT key, count, updated FROM login_counts WHERE key = ANY($1)", keys)
	if err != nil {
		return nil, fmt.Errorf("store: login counts: %w", err)
	}
	var key string
	var count float64
	var updated int64
	_, err = pgx.ForEachRow(rows, []any{&key, &count, &updated}, func() error {
		counts[key] = auth.SharedCount{Count: count, At: time.UnixMilli(updated)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: login counts: %w", err)
	}
	return counts, nil
}

// AddLoginCounts implements store.LoginCounts. Each key is one INSERT …
// ON CONFLICT DO UPDATE that computes the decayed sum from the row it has
// locked, so concurrent additions on several nodes queue on the row and
// none is lost (READ COMMITTED suffices). Keys are taken in sorted order,
// so two calls locking the same keys cannot deadlock. The exponent is
// capped: 2^-1000 is already nothing, and float8 underflow is an error.
func (s *Store) AddLoginCounts(ctx context.Context, keys []string, delta float64, now time.Time, halfLife time.Duration) error {
	if err := store.CheckLoginKeys(keys); err != nil {
		return fmt.Errorf("store: add login counts: %w", err)
	}
	if halfLife < time.Millisecond {
		return fmt.Errorf("store: add login counts: %w: half-life %v", store.ErrInvalid, halfLife)
	}
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return fmt.Errorf("store: add login counts: %w: delta %v", store.ErrInvalid, delta)
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		for _, k := range sorted {
			var count float64
			if err := tx.QueryRow(tx.ctx, `INSERT INTO login_counts AS l (key, count, updated) VALUES ($1, $2, $3)
				ON CONFLICT (key) DO UPDATE SET
					count = l.count * power(2::float8, -LEAST(GREATEST(excluded.updated - l.updated, 0)::float8 / $4::float8, 1000)) + excluded.count,
					updated = GREATEST(l.updated, excluded.updated)
				RETURNING count`, k, delta, now.UnixMilli(), float64(halfLife.Milliseconds())).Scan(&count); err != nil {
				return err
			}
			if count < auth.ForgetBelow {
				if _, err := tx.exec("DELETE FROM login_counts WHERE key = $1", k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add login counts: %w", err)
	}
	return nil
}

// PutLoginCount implements store.LoginCounts.
func (s *Store) PutLoginCount(ctx context.Context, key string, c auth.SharedCount) error {
	if err := store.CheckLoginKeys([]string{key}); err != nil {
		return fmt.Errorf("store: put login count: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO login_counts (key, count, updated) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET count = excluded.count, updated = excluded.updated`, key, c.Count, c.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put login count: %w", err)
	}
	return nil
}

// PruneLoginCounts implements store.LoginCounts. Every node's pruning may
// run at once: each deletes what is still there.
func (s *Store) PruneLoginCounts(ctx context.Context, prefix string, before time.Time) (int, error) {
	if prefix != "" {
		if err := store.CheckSharedName(prefix); err != nil {
			return 0, fmt.Errorf("store: prune login counts: %w", err)
		}
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM login_counts WHERE updated < $1 AND starts_with(key, $2)", before.UnixMilli(), prefix)
	if err != nil {
		return 0, fmt.Errorf("store: prune login counts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
