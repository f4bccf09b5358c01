package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/address"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// App passwords and the vacation log follow sqlitestore/apppasswords.go.

var (
	_ store.AppPasswordStore = (*Store)(nil)
	_ store.VacationLog      = (*Store)(nil)
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
	ok, err := tx.exists("SELECT 1 FROM accounts WHERE id = $1", id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("account %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// CreateAppPassword implements store.AppPasswordStore. The bound is a
// count followed by an insert, under the account's row lock
// (writeAccount): of two nodes adding the account's last allowed password
// at once, the second counts the first's.
func (s *Store) CreateAppPassword(ctx context.Context, accountID int64, name string, cred auth.Credentials) (store.AppPassword, error) {
	name, err := appPasswordName(name)
	if err != nil {
		return store.AppPassword{}, err
	}
	if cred.Argon2id == "" {
		return store.AppPassword{}, fmt.Errorf("%w: empty password hash", store.ErrInvalid)
	}
	p := store.AppPassword{Name: name}
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		var n int
		var taken bool
		if err := tx.QueryRow(ctx, "SELECT count(*), coalesce(bool_or(name = $2), false) FROM app_passwords WHERE account_id = $1",
			accountID, name).Scan(&n, &taken); err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("app password %q: %w", name, store.ErrExists)
		}
		if n >= store.MaxAppPasswords {
			return fmt.Errorf("%w: an account has at most %d app passwords: delete one first", store.ErrInvalid, store.MaxAppPasswords)
		}
		p.Created = tx.now.Truncate(time.Second)
		if err := tx.QueryRow(ctx, "INSERT INTO app_passwords (account_id, name, argon2id, created) VALUES ($1, $2, $3, $4) RETURNING id",
			accountID, name, cred.Argon2id, p.Created.Unix()).Scan(&p.ID); err != nil {
			return err
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return store.AppPassword{}, fmt.Errorf("store: create app password: %w", err)
	}
	return p, nil
}

// AppPasswords implements store.AppPasswordStore.
func (s *Store) AppPasswords(ctx context.Context, accountID int64) ([]store.AppPassword, error) {
	rows, _ := s.pool.Query(ctx, "SELECT id, name, created, last_used FROM app_passwords WHERE account_id = $1 ORDER BY id", accountID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AppPassword, error) {
		var p store.AppPassword
		var created, used int64
		err := row.Scan(&p.ID, &p.Name, &created, &used)
		p.Created = time.Unix(created, 0)
		if used != 0 {
			p.LastUsed = time.Unix(used, 0)
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list app passwords: %w", err)
	}
	return out, nil
}

// DeleteAppPassword implements store.AppPasswordStore.
func (s *Store) DeleteAppPassword(ctx context.Context, accountID, id int64) error {
	err := s.write(ctx, func(tx *txn) error {
		tag, err := tx.exec("DELETE FROM app_passwords WHERE id = $1 AND account_id = $2", id, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("app password %d of account %d: %w", id, accountID, store.ErrNotFound)
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: delete app password: %w", err)
	}
	return nil
}

// ClaimVacationReply implements store.VacationLog. The upsert only
// overwrites a reply older than the interval. Across nodes, of two
// concurrent claims for one sender the second waits for the first's row
// lock and, SERIALIZABLE, fails to serialize; retried, it sees the fresh
// reply and its upsert changes nothing: only one claim succeeds.
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
		tag, err := tx.exec(`INSERT INTO vacation_replies AS v (account_id, sender, sent) VALUES ($1, $2, $3)
			ON CONFLICT (account_id, sender) DO UPDATE SET sent = excluded.sent WHERE v.sent <= $4`,
			accountID, a.String(), now.Unix(), now.Add(-interval).Unix())
		if err != nil {
			return err
		}
		claimed = tag.RowsAffected() > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: vacation reply: %w", err)
	}
	return claimed, nil
}
