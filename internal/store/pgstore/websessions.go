package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Web sessions follow sqlitestore/websessions.go. They are what lets every
// node behind a load balancer accept a browser's cookie, whichever node
// logged it in.

var _ store.WebSessions = (*Store)(nil)

func checkTokenHash(h []byte) error {
	if len(h) != store.WebSessionHashSize {
		return fmt.Errorf("%w: a web session's token hash has %d octets, not %d", store.ErrInvalid, len(h), store.WebSessionHashSize)
	}
	return nil
}

// CreateWebSession implements store.WebSessions. The bound per account is
// enforced in the same transaction as the insert, under the account's row
// lock (writeAccount), so logins of one account on several nodes at once
// cannot leave more than MaxWebSessions: each trims after the one before.
func (s *Store) CreateWebSession(ctx context.Context, ws store.WebSession) error {
	if err := checkTokenHash(ws.TokenHash); err != nil {
		return fmt.Errorf("store: create web session: %w", err)
	}
	err := s.writeAccount(ctx, ws.AccountID, func(tx *txn) error {
		if taken, err := tx.exists("SELECT 1 FROM web_sessions WHERE token_hash = $1", ws.TokenHash); err != nil {
			return err
		} else if taken {
			return fmt.Errorf("web session: %w", store.ErrExists)
		}
		if _, err := tx.exec("INSERT INTO web_sessions (token_hash, account_id, admin, created, last_seen) VALUES ($1, $2, $3, $4, $5)",
			ws.TokenHash, ws.AccountID, ws.Admin, ws.Created.Unix(), ws.LastSeen.Unix()); err != nil {
			return err
		}
		// The new session counts among the kept ones even if its
		// LastSeen is older than others' (it was just created).
		_, err := tx.exec(`DELETE FROM web_sessions WHERE account_id = $1 AND token_hash <> $2 AND token_hash NOT IN
			(SELECT token_hash FROM web_sessions WHERE account_id = $1 AND token_hash <> $2 ORDER BY last_seen DESC, created DESC LIMIT $3)`,
			ws.AccountID, ws.TokenHash, store.MaxWebSessions-1)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create web session: %w", err)
	}
	return nil
}

// WebSession implements store.WebSessions: one lookup by primary key.
func (s *Store) WebSession(ctx context.Context, tokenHash []byte) (store.WebSession, error) {
	if err := checkTokenHash(tokenHash); err != nil {
		return store.WebSession{}, fmt.Errorf("store: web session: %w", err)
	}
	ws := store.WebSession{TokenHash: append([]byte(nil), tokenHash...)}
	var created, lastSeen int64
	err := s.pool.QueryRow(ctx, `SELECT w.account_id, a.email, w.admin, w.created, w.last_seen
		FROM web_sessions w JOIN accounts a ON a.id = w.account_id WHERE w.token_hash = $1`, tokenHash).
		Scan(&ws.AccountID, &ws.Email, &ws.Admin, &created, &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.WebSession{}, fmt.Errorf("store: web session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.WebSession{}, fmt.Errorf("store: web session: %w", err)
	}
	ws.Created, ws.LastSeen = time.Unix(created, 0), time.Unix(lastSeen, 0)
	return ws, nil
}

// TouchWebSession implements store.WebSessions. One statement outside
// write's SERIALIZABLE transaction: the condition last_seen < $2 is
// checked again on the newest row version after any concurrent update
// (READ COMMITTED), so two nodes touching one session never move it back,
// and a hot session's touches never fail to serialize.
func (s *Store) TouchWebSession(ctx context.Context, tokenHash []byte, lastSeen time.Time) error {
	if err := checkTokenHash(tokenHash); err != nil {
		return fmt.Errorf("store: touch web session: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "UPDATE web_sessions SET last_seen = $2 WHERE token_hash = $1 AND last_seen < $2", tokenHash, lastSeen.Unix()); err != nil {
		return fmt.Errorf("store: touch web session: %w", err)
	}
	return nil
}

// DeleteWebSession implements store.WebSessions.
func (s *Store) DeleteWebSession(ctx context.Context, tokenHash []byte) error {
	if err := checkTokenHash(tokenHash); err != nil {
		return fmt.Errorf("store: delete web session: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM web_sessions WHERE token_hash = $1", tokenHash); err != nil {
		return fmt.Errorf("store: delete web session: %w", err)
	}
	return nil
}

// DeleteAccountWebSessions implements store.WebSessions. One statement:
// a session another node creates at the same time either commits first
// and is deleted, or commits after and stays, as if created later.
func (s *Store) DeleteAccountWebSessions(ctx context.Context, accountID int64, keep []byte) error {
	if keep != nil {
		if err := checkTokenHash(keep); err != nil {
			return fmt.Errorf("store: delete web sessions: %w", err)
		}
	}
	var err error
	if keep == nil {
		_, err = s.pool.Exec(ctx, "DELETE FROM web_sessions WHERE account_id = $1", accountID)
	} else {
		_, err = s.pool.Exec(ctx, "DELETE FROM web_sessions WHERE account_id = $1 AND token_hash <> $2", accountID, keep)
	}
	if err != nil {
		return fmt.Errorf("store: delete web sessions of account %d: %w", accountID, err)
	}
	return nil
}

// DeleteExpiredWebSessions implements store.WebSessions. Every node's
// sweeper may run it at once: each deletes what is still there.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM web_sessions WHERE last_seen < $1 OR created < $2", idleBefore.Unix(), createdBefore.Unix())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired web sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
