package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// Access tokens (store.AccessTokens) live in access_tokens (migration 27),
// keyed for lookup by the SHA-256 of the secret.

var _ store.AccessTokens = (*Store)(nil)

const accessTokenColumns = "t.id, t.account_id, t.name, t.created, t.expires, t.last_used"

// scanAccessToken reads accessTokenColumns from column 0 on.
func scanAccessToken(st *sqlite.Stmt) store.AccessToken {
	t := store.AccessToken{ID: st.ColumnInt64(0), AccountID: st.ColumnInt64(1), Name: st.ColumnText(2), Created: time.Unix(st.ColumnInt64(3), 0)}
	if v := st.ColumnInt64(4); v != 0 {
		t.Expires = time.Unix(v, 0)
	}
	if v := st.ColumnInt64(5); v != 0 {
		t.LastUsed = time.Unix(v, 0)
	}
	return t
}

// CreateAccessToken implements store.AccessTokens. The count and the
// insert are one write transaction, and the writer runs one at a time, so
// the bound holds under concurrent creations.
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
	err = s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		t.Created = time.Unix(tx.now.Unix(), 0)
		if t.Expired(t.Created) {
			return fmt.Errorf("%w: the expiry %v is not in the future", store.ErrInvalid, expires.UTC().Format(time.RFC3339))
		}
		n, taken := 0, false
		if err := tx.query("SELECT name = ?2 FROM access_tokens WHERE account_id = ?1", func(st *sqlite.Stmt) error {
			n++
			taken = taken || st.ColumnBool(0)
			return nil
		}, accountID, name); err != nil {
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
		if err := tx.exec("INSERT INTO access_tokens (account_id, name, token_hash, created, expires) VALUES (?, ?, ?, ?, ?)",
			accountID, name, hash, t.Created.Unix(), exp); err != nil {
			return err
		}
		t.ID = tx.conn.LastInsertRowID()
		return nil
	})
	if err != nil {
		return store.AccessToken{}, "", fmt.Errorf("store: create access token: %w", err)
	}
	return t, secret, nil
}

// AccessTokens implements store.AccessTokens.
func (s *Store) AccessTokens(ctx context.Context, accountID int64) ([]store.AccessToken, error) {
	var out []store.AccessToken
	err := s.query(ctx, "SELECT "+accessTokenColumns+" FROM access_tokens t WHERE t.account_id = ? ORDER BY t.id", func(st *sqlite.Stmt) error {
		out = append(out, scanAccessToken(st))
		return nil
	}, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: list access tokens: %w", err)
	}
	return out, nil
}

// DeleteAccessToken implements store.AccessTokens. A durable write: a
// crash must not bring back a token its user revoked.
func (s *Store) DeleteAccessToken(ctx context.Context, accountID, id int64) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM access_tokens WHERE id = ? AND account_id = ?", id, accountID); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return fmt.Errorf("access token %d of account %d: %w", id, accountID, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete access token: %w", err)
	}
	return nil
}

// LookupAccessToken implements store.AccessTokens: one read by the unique
// hash, and a lazy write at most once per AccessTokenUseInterval (a
// power loss that undoes it only makes the token look unused a little
// longer).
func (s *Store) LookupAccessToken(ctx context.Context, secret string) (store.Account, store.AccessToken, error) {
	if !store.WellFormedAccessToken(secret) {
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", store.ErrNotFound)
	}
	var acct store.Account
	var t store.AccessToken
	err := s.query(ctx, "SELECT "+accessTokenColumns+`, a.id, a.email, a.created, a.shared
		FROM access_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?`, func(st *sqlite.Stmt) error {
		t = scanAccessToken(st)
		acct = store.Account{ID: st.ColumnInt64(6), Email: st.ColumnText(7), Created: time.Unix(st.ColumnInt64(8), 0), Shared: st.ColumnBool(9)}
		return nil
	}, store.AccessTokenHash(secret))
	if err != nil {
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", err)
	}
	now := time.Now()
	if t.ID == 0 || t.Expired(now) {
		return store.Account{}, store.AccessToken{}, fmt.Errorf("store: look up access token: %w", store.ErrNotFound)
	}
	if now.Sub(t.LastUsed) >= store.AccessTokenUseInterval {
		used := now.Unix()
		err := s.writeLazy(ctx, func(tx *txn) error {
			return tx.exec("UPDATE access_tokens SET last_used = ?2 WHERE id = ?1 AND last_used <= ?3",
				t.ID, used, used-int64(store.AccessTokenUseInterval/time.Second))
		})
		if err != nil {
			return store.Account{}, store.AccessToken{}, fmt.Errorf("store: record the use of access token %d: %w", t.ID, err)
		}
		t.LastUsed = time.Unix(used, 0)
	}
	return acct, t, nil
}
