package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/address"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// appPasswordName trims and checks an app password's name.
func appPasswordName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > store.MaxAppPasswordName || !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: an app password's name must be 1 to %d octets of UTF-8", store.ErrInvalid, store.MaxAppPasswordName)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%w: app password name %q has a control character", store.ErrInvalid, name)
	}
	return name, nil
}

// accountExists fails with ErrNotFound if there is no account id.
func (tx *txn) accountExists(id int64) error {
	exists := false
	if err := tx.query("SELECT 1 FROM accounts WHERE id = ?", func(*sqlite.Stmt) error { exists = true; return nil }, id); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("account %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// CreateAppPassword implements store.AppPasswordStore.
func (s *Store) CreateAppPassword(ctx context.Context, accountID int64, name string, cred auth.Credentials) (store.AppPassword, error) {
	name, err := appPasswordName(name)
	if err != nil {
		return store.AppPassword{}, err
	}
	if cred.Argon2id == "" {
		return store.AppPassword{}, fmt.Errorf("%w: empty password hash", store.ErrInvalid)
	}
	p := store.AppPassword{Name: name}
	err = s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		n, taken := 0, false
		if err := tx.query("SELECT name = ?2 FROM app_passwords WHERE account_id = ?1", func(st *sqlite.Stmt) error {
			n++
			taken = taken || st.ColumnBool(0)
			return nil
		}, accountID, name); err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("app password %q: %w", name, store.ErrExists)
		}
		if n >= store.MaxAppPasswords {
			return fmt.Errorf("%w: an account has at most %d app passwords: delete one first", store.ErrInvalid, store.MaxAppPasswords)
		}
		p.Created = tx.now.Truncate(time.Second)
		if err := tx.exec("INSERT INTO app_passwords (account_id, name, argon2id, created) VALUES (?, ?, ?, ?)",
			accountID, name, cred.Argon2id, p.Created.Unix()); err != nil {
			return err
		}
		p.ID = tx.conn.LastInsertRowID()
		tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: accountID})
		tx.changed(accountID, 0, 0, changeAccount)
		return nil
	})
	if err != nil {
		return store.AppPassword{}, fmt.Errorf("store: create app password: %w", err)
	}
	return p, nil
}

// AppPasswords implements store.AppPasswordStore.
func (s *Store) AppPasswords(ctx context.Context, accountID int64) ([]store.AppPassword, error) {
	var out []store.AppPassword
	err := s.query(ctx, "SELECT id, name, created, last_used FROM app_passwords WHERE account_id = ? ORDER BY id", func(st *sqlite.Stmt) error {
		p := store.AppPassword{ID: st.ColumnInt64(0), Name: st.ColumnText(1), Created: time.Unix(st.ColumnInt64(2), 0)}
		if used := st.ColumnInt64(3); used != 0 {
			p.LastUsed = time.Unix(used, 0)
		}
		out = append(out, p)
		return nil
	}, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: list app passwords: %w", err)
	}
	return out, nil
}

// DeleteAppPassword implements store.AppPasswordStore.
func (s *Store) DeleteAppPassword(ctx context.Context, accountID, id int64) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM app_passwords WHERE id = ? AND account_id = ?", id, accountID); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return fmt.Errorf("app password %d of account %d: %w", id, accountID, store.ErrNotFound)
		}
		tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: accountID})
		tx.changed(accountID, 0, 0, changeAccount)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete app password: %w", err)
	}
	return nil
}

// ClaimVacationReply implements store.VacationLog. The upsert only
// overwrites a reply older than the interval, and the writer runs one
// request at a time, so two claims can never both succeed.
func (s *Store) ClaimVacationReply(ctx context.Context, accountID int64, sender string, now time.Time, interval time.Duration) (bool, error) {
	a, err := address.Parse(sender)
	if err != nil {
		return false, fmt.Errorf("store: vacation reply: %w", invalid(err))
	}
	claimed := false
	err = s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		if err := tx.exec(`INSERT INTO vacation_replies (account_id, sender, sent) VALUES (?1, ?2, ?3)
			ON CONFLICT (account_id, sender) DO UPDATE SET sent = excluded.sent WHERE sent <= ?4`,
			accountID, a.String(), now.Unix(), now.Add(-interval).Unix()); err != nil {
			return err
		}
		claimed = tx.conn.Changes() > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: vacation reply: %w", err)
	}
	return claimed, nil
}

// pruneVacationReplies forgets replies no interval can still need.
func (s *Store) pruneVacationReplies(ctx context.Context, now time.Time) error {
	return s.write(ctx, func(tx *txn) error {
		return tx.exec("DELETE FROM vacation_replies WHERE sent < ?", now.Add(-store.MaxVacationInterval).Unix())
	})
}
