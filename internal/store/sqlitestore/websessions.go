package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

func checkTokenHash(h []byte) error {
	if len(h) != store.WebSessionHashSize {
		return fmt.Errorf("%w: a web session's token hash has %d octets, not %d", store.ErrInvalid, len(h), store.WebSessionHashSize)
	}
	return nil
}

// CreateWebSession implements store.WebSessions. It is a durable write:
// the browser gets its cookie only once the session would survive a crash.
func (s *Store) CreateWebSession(ctx context.Context, ws store.WebSession) error {
	if err := checkTokenHash(ws.TokenHash); err != nil {
		return fmt.Errorf("store: create web session: %w", err)
	}
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(ws.AccountID); err != nil {
			return err
		}
		taken := false
		if err := tx.query("SELECT 1 FROM web_sessions WHERE token_hash = ?", func(*sqlite.Stmt) error { taken = true; return nil }, ws.TokenHash); err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("web session: %w", store.ErrExists)
		}
		if err := tx.exec("INSERT INTO web_sessions (token_hash, account_id, admin, created, last_seen) VALUES (?, ?, ?, ?, ?)",
			ws.TokenHash, ws.AccountID, ws.Admin, ws.Created.Unix(), ws.LastSeen.Unix()); err != nil {
			return err
		}
		// The new session counts among the kept ones even if its
		// LastSeen is older than others' (it was just created).
		return tx.exec(`DELETE FROM web_sessions WHERE account_id = ?1 AND token_hash <> ?2 AND token_hash NOT IN
			(SELECT token_hash FROM web_sessions WHERE account_id = ?1 AND token_hash <> ?2 ORDER BY last_seen DESC, created DESC LIMIT ?3)`,
			ws.AccountID, ws.TokenHash, store.MaxWebSessions-1)
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
	found := false
	err := s.query(ctx, `SELECT w.account_id, a.email, w.admin, w.created, w.last_seen
		FROM web_sessions w JOIN accounts a ON a.id = w.account_id WHERE w.token_hash = ?`, func(st *sqlite.Stmt) error {
		found = true
		ws.AccountID, ws.Email, ws.Admin = st.ColumnInt64(0), st.ColumnText(1), st.ColumnBool(2)
		ws.Created, ws.LastSeen = time.Unix(st.ColumnInt64(3), 0), time.Unix(st.ColumnInt64(4), 0)
		return nil
	}, tokenHash)
	if err != nil {
		return store.WebSession{}, fmt.Errorf("store: web session: %w", err)
	}
	if !found {
		return store.WebSession{}, fmt.Errorf("store: web session: %w", store.ErrNotFound)
	}
	return ws, nil
}

// TouchWebSession implements store.WebSessions. It is a lazy write (see
// writeLazy): a power loss that undoes it only makes the session look
// idle a minute longer.
func (s *Store) TouchWebSession(ctx context.Context, tokenHash []byte, lastSeen time.Time) error {
	if err := checkTokenHash(tokenHash); err != nil {
		return fmt.Errorf("store: touch web session: %w", err)
	}
	err := s.writeLazy(ctx, func(tx *txn) error {
		return tx.exec("UPDATE web_sessions SET last_seen = ?2 WHERE token_hash = ?1 AND last_seen < ?2", tokenHash, lastSeen.Unix())
	})
	if err != nil {
		return fmt.Errorf("store: touch web session: %w", err)
	}
	return nil
}

// DeleteWebSession implements store.WebSessions. A logout is a durable
// write: a crash must not bring back a session its user ended.
func (s *Store) DeleteWebSession(ctx context.Context, tokenHash []byte) error {
	if err := checkTokenHash(tokenHash); err != nil {
		return fmt.Errorf("store: delete web session: %w", err)
	}
	err := s.write(ctx, func(tx *txn) error {
		return tx.exec("DELETE FROM web_sessions WHERE token_hash = ?", tokenHash)
	})
	if err != nil {
		return fmt.Errorf("store: delete web session: %w", err)
	}
	return nil
}

// DeleteAccountWebSessions implements store.WebSessions.
func (s *Store) DeleteAccountWebSessions(ctx context.Context, accountID int64, keep []byte) error {
	if keep != nil {
		if err := checkTokenHash(keep); err != nil {
			return fmt.Errorf("store: delete web sessions: %w", err)
		}
	}
	err := s.write(ctx, func(tx *txn) error {
		if keep == nil {
			return tx.exec("DELETE FROM web_sessions WHERE account_id = ?", accountID)
		}
		return tx.exec("DELETE FROM web_sessions WHERE account_id = ? AND token_hash <> ?", accountID, keep)
	})
	if err != nil {
		return fmt.Errorf("store: delete web sessions of account %d: %w", accountID, err)
	}
	return nil
}

// DeleteExpiredWebSessions implements store.WebSessions. Lazy: an
// expired session brought back by a power loss is still expired.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	n := 0
	err := s.writeLazy(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM web_sessions WHERE last_seen < ? OR created < ?", idleBefore.Unix(), createdBefore.Unix()); err != nil {
			return err
		}
		n = tx.conn.Changes()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired web sessions: %w", err)
	}
	return n, nil
}
