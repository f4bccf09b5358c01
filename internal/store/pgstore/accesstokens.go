package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Access tokens follow sqlitestore/accesstokens.go (migration 20).

var _ store.AccessTokens = (*Store)(nil)

const accessTokenColumns = "t.id, t.account_id, t.name, t.created, t.expires, t.last_used"

// scanAccessToken reads accessTokenColumns and then dest.
func scanAccessToken(row pgx.Row, dest ...any) (store.AccessToken, error) {
	var t store.AccessToken
	var created, expires, used int64
	err := row.Scan(append([]any{&t.ID, &t.AccountID, &t.Name, &created, &expires, &used}, dest...)...)
	t.Created = time.Unix(created, 0)
	if expires != 0 {
		t.Expires = time.Unix(expires, 0)
	}
	if used != 0 {
		t.LastUsed = time.Unix(used, 0)
	}
	return t, err
}

// CreateAccessToken implements store.AccessTokens. The bound is a count
// followed by an insert under the account's row lock (writeAccount), as
// for app passwords: of two nodes adding the last allowed token at once,
// the second counts the first's.
func (s *Store) CreateAccessToken(ctx context.Context, accountID int64, name string, expires time.Time) (store.AccessToken, string, error) {
	name, err := store.AccessTokenName(name)
	if err != nil {
		return store.AccessToken{}, "", fmt.Errorf("store: create access token: %w", err)
	}
	secret, hash := store.NewAccessTokenSecret()
	t := store.AccessToken{AccountID: accountID, Name: name}
	if !expires.IsZero() {
		t.Expires = time.Unix(expires.Unix(), 0)
	}
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		t.Created = time.Unix(tx.now.Unix(), 0)
		if t.Expired(t.Created) {
			return fmt.Errorf("%w: the expiry %v is not in the future", store.ErrInvalid, expires.UTC().Format(time.RFC3339))
		}
		var n int
		var taken bool
		if err := tx.QueryRow(ctx, "SELECT count(*), coalesce(bool_or(name = $2), false) FROM access_tokens WHERE account_id = $1",
			accountID, name).Scan(&n, &taken); err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("access token %q: %w", name, store.ErrExists)
		}
		if n >= store.MaxAccessTokens {
			return fmt.Errorf("%w: an account has at most %d access tokens: revoke one first", store.ErrInvalid, store.MaxAccessTokens)
		}
		var exp int64
		if !t.Expires.IsZero() {
			exp = t.Expires.Unix()
		}
		return tx.QueryRow(ctx, "INSERT INTO access_tokens (account_id, name, token_hash, created, expires) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			accountID, name, hash, t.Created.Unix(), exp).Scan(&t.ID)
	})
	if err != nil {
		return store.AccessToken{}, "", fmt.Errorf("store: create access token: %w", err)
	}
	return t, secret, nil
}

// AccessTokens implements store.AccessTokens.
func (s *Store) AccessTokens(ctx context.Context, accountID int64) ([]store.AccessToken, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+accessTokenColumns+" FROM access_tokens t WHERE t.account_id = $1 ORDER BY t.id", accountID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AccessToken, error) { return scanAccessToken(row) })
	if err != nil {
		return nil, fmt.Errorf("store: list access tokens: %w", err)
	}
	return out, nil
}

// DeleteAccessToken implements store.AccessTokens.
func (s *Store) DeleteAccessToken(ctx context.Context, accountID, id int64) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM access_tokens WHERE id = $1 AND account_id = $2", id, accountID)
	if err != nil {
		return fmt.Errorf("store: delete access token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: delete access token %d of account %d: %w", id, accountID, store.ErrNotFound)
	}
	return nil
}

// LookupAccessToken implements store.AccessTokens: one read by the unique
// hash, and at most once per AccessTokenUseInterval one conditional
// update outside a transaction (of two nodes recording the same use, the
// second changes nothing).
func (s *Store) LookupAccessToken(ctx context.Context, secret string) (store.Account, store.AccessToken, error) {
	if !store.WellFormedAccessToken(secret) {
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", store.ErrNotFound)
	}
	var acct store.Account
	var acctCreated int64
	row := s.pool.QueryRow(ctx, "SELECT "+accessTokenColumns+`, a.id, a.email, a.created, a.shared
		FROM access_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1`, store.AccessTokenHash(secret))
	t, err := scanAccessToken(row, &acct.ID, &acct.Email, &acctCreated, &acct.Shared)
	acct.Created = time.Unix(acctCreated, 0)
	now := time.Now()
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", store.ErrNotFound)
	case err != nil:
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", err)
	case t.Expired(now):
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", store.ErrNotFound)
	}
	if now.Sub(t.LastUsed) >= store.AccessTokenUseInterval {
		used := now.Unix()
		if _, err := s.pool.Exec(ctx, "UPDATE access_tokens SET last_used = $2 WHERE id = $1 AND last_used <= $3",
			t.ID, used, used-int64(store.AccessTokenUseInterval/time.Second)); err != nil {
			return store.Account{}, store.AccessToken{}, fmt.Errorf("store: record the use of access token %d: %w", t.ID, err)
		}
		t.LastUsed = time.Unix(used, 0)
	}
	return acct, t, nil
}
