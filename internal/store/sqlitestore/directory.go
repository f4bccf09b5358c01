package sqlitestore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/address"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

func (s *Store) query(ctx context.Context, query string, fn func(stmt *sqlite.Stmt) error, args ...any) error {
	return s.read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, query, &sqlitex.ExecOptions{Args: args, ResultFunc: fn})
	})
}

func invalid(err error) error { return fmt.Errorf("%w: %v", store.ErrInvalid, err) }

// CreateDomain implements store.Directory.
func (s *Store) CreateDomain(ctx context.Context, name string) (store.Domain, error) {
	name, err := address.ParseDomain(name)
	if err != nil {
		return store.Domain{}, invalid(err)
	}
	d := store.Domain{Name: name, Created: time.Now().Truncate(time.Second)}
	err = s.write(ctx, func(tx *txn) error {
		exists := false
		if err := tx.query("SELECT 1 FROM domains WHERE name = ?", func(*sqlite.Stmt) error { exists = true; return nil }, name); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("domain %s: %w", name, store.ErrExists)
		}
		if err := tx.exec("INSERT INTO domains (name, created) VALUES (?, ?)", name, d.Created.Unix()); err != nil {
			return err
		}
		d.ID = tx.conn.LastInsertRowID()
		return nil
	})
	return d, err
}

// DeleteDomain implements store.Directory.
func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	name, err := address.ParseDomain(name)
	if err != nil {
		return invalid(err)
	}
	return s.write(ctx, func(tx *txn) error {
		var id int64
		if err := tx.query("SELECT id FROM domains WHERE name = ?", func(st *sqlite.Stmt) error { id = st.ColumnInt64(0); return nil }, name); err != nil {
			return err
		}
		if id == 0 {
			return fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
		}
		var accounts, aliases int
		if err := tx.query("SELECT (SELECT count(*) FROM accounts WHERE domain_id = ?1), (SELECT count(*) FROM aliases WHERE domain_id = ?1)",
			func(st *sqlite.Stmt) error { accounts, aliases = st.ColumnInt(0), st.ColumnInt(1); return nil }, id); err != nil {
			return err
		}
		if accounts > 0 || aliases > 0 {
			return fmt.Errorf("domain %s still has %d accounts and %d alias targets: delete them first: %w", name, accounts, aliases, store.ErrNotEmpty)
		}
		if err := tx.exec("DELETE FROM mailbox_acl WHERE identifier = ?", "@"+name); err != nil {
			return err
		}
		if err := tx.exec("DELETE FROM delegations WHERE grantee = ?", "@"+name); err != nil {
			return err
		}
		return tx.exec("DELETE FROM domains WHERE id = ?", id)
	})
}

// Domains implements store.Directory.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	var out []store.Domain
	err := s.query(ctx, "SELECT id, name, created FROM domains ORDER BY name", func(st *sqlite.Stmt) error {
		out = append(out, store.Domain{ID: st.ColumnInt64(0), Name: st.ColumnText(1), Created: time.Unix(st.ColumnInt64(2), 0)})
		return nil
	})
	return out, err
}

// Domain implements store.Directory.
func (s *Store) Domain(ctx context.Context, name string) (store.Domain, error) {
	name, err := address.ParseDomain(name)
	if err != nil {
		return store.Domain{}, invalid(err)
	}
	var d store.Domain
	err = s.query(ctx, "SELECT id, name, created FROM domains WHERE name = ?", func(st *sqlite.Stmt) error {
		d = store.Domain{ID: st.ColumnInt64(0), Name: st.ColumnText(1), Created: time.Unix(st.ColumnInt64(2), 0)}
		return nil
	}, name)
	if err == nil && d.ID == 0 {
		err = fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
	}
	return d, err
}

// domainID returns the id of a local domain, 0 if it is not local.
func (tx *txn) domainID(name string) (int64, error) {
	var id int64
	err := tx.query("SELECT id FROM domains WHERE name = ?", func(st *sqlite.Stmt) error { id = st.ColumnInt64(0); return nil }, name)
	return id, err
}

// addressTaken reports what already uses a local address.
func (tx *txn) addressTaken(addr string) (string, error) {
	what := ""
	err := tx.query("SELECT 'an account' FROM accounts WHERE email = ?1 UNION ALL SELECT 'an alias' FROM aliases WHERE address = ?1 LIMIT 1",
		func(st *sqlite.Stmt) error { what = st.ColumnText(0); return nil }, addr)
	return what, err
}

// CreateAccount implements store.Directory.
func (s *Store) CreateAccount(ctx context.Context, email string, cred auth.Credentials) (store.Account, error) {
	if cred.Argon2id == "" {
		return store.Account{}, fmt.Errorf("%w: account %s needs a password", store.ErrInvalid, email)
	}
	return s.createAccount(ctx, email, cred, false)
}

// CreateSharedAccount implements store.Directory.
func (s *Store) CreateSharedAccount(ctx context.Context, email string) (store.Account, error) {
	return s.createAccount(ctx, email, auth.Credentials{}, true)
}

func (s *Store) createAccount(ctx context.Context, email string, cred auth.Credentials, shared bool) (store.Account, error) {
	a, err := address.Parse(email)
	if err != nil {
		return store.Account{}, invalid(err)
	}
	acct := store.Account{Email: a.String(), Created: time.Now().Truncate(time.Second), Shared: shared}
	err = s.write(ctx, func(tx *txn) error {
		domainID, err := tx.domainID(a.Domain)
		if err != nil {
			return err
		}
		if domainID == 0 {
			return fmt.Errorf("domain %s of %s: %w", a.Domain, a, store.ErrUnknownDomain)
		}
		if what, err := tx.addressTaken(acct.Email); err != nil {
			return err
		} else if what != "" {
			return fmt.Errorf("%s is already %s: %w", acct.Email, what, store.ErrExists)
		}
		if err := tx.exec(`INSERT INTO accounts (email, domain_id, argon2id, scram_sha256, apop_secret, next_uidvalidity, created, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			acct.Email, domainID, cred.Argon2id, cred.SCRAMSHA256, cred.APOP, initialUIDValidity(tx.now), acct.Created.Unix(), shared); err != nil {
			return err
		}
		acct.ID = tx.conn.LastInsertRowID()
		if err := tx.exec("INSERT INTO quota_accounts (account_id) VALUES (?)", acct.ID); err != nil {
			return err
		}
		for _, m := range store.DefaultMailboxes {
			if _, err := tx.createMailbox(acct.ID, m.Name, m.Use); err != nil {
				return err
			}
			if err := tx.exec("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", acct.ID, m.Name); err != nil {
				return err
			}
		}
		tx.changed(acct.ID, 0, 0, changeAccount)
		return nil
	})
	return acct, err
}

// initialUIDValidity seeds an account's UIDVALIDITY counter from the clock,
// so that an account deleted and created again does not reuse old values.
func initialUIDValidity(now time.Time) int64 {
	return now.Unix() & 0x7fffffff
}

// DeleteAccount implements store.Directory.
func (s *Store) DeleteAccount(ctx context.Context, email string) error {
	a, err := address.Parse(email)
	if err != nil {
		return invalid(err)
	}
	return s.write(ctx, func(tx *txn) error {
		id, err := tx.accountID(a.String())
		if err != nil {
			return err
		}
		var aliases []string
		if err := tx.query("SELECT address FROM aliases WHERE target = ? ORDER BY address", func(st *sqlite.Stmt) error {
			aliases = append(aliases, st.ColumnText(0))
			return nil
		}, a.String()); err != nil {
			return err
		}
		if len(aliases) > 0 {
			return fmt.Errorf("account %s is a target of alias %s: remove it there first: %w", a, strings.Join(aliases, ", "), store.ErrNotEmpty)
		}
		var boxes []int64
		if err := tx.query("SELECT id FROM mailboxes WHERE account_id = ?", func(st *sqlite.Stmt) error {
			boxes = append(boxes, st.ColumnInt64(0))
			return nil
		}, id); err != nil {
			return err
		}
		for _, mb := range boxes {
			if err := tx.dropMailboxContents(id, mb, 0); err != nil {
				return err
			}
		}
		if err := tx.exec("DELETE FROM mailboxes WHERE account_id = ?", id); err != nil {
			return err
		}
		if err := tx.dropJunkModel(id); err != nil {
			return err
		}
		// What others shared with the account is not for whoever gets
		// its address next.
		if err := tx.exec("DELETE FROM mailbox_acl WHERE identifier = ?", a.String()); err != nil {
			return err
		}
		// Likewise what others let it send as. (Its own grants go with
		// it: ON DELETE CASCADE.)
		if err := tx.exec("DELETE FROM delegations WHERE grantee = ?", a.String()); err != nil {
			return err
		}
		// Nor are its private annotations, on its own mailboxes (gone
		// above) or on others'.
		if err := tx.exec("DELETE FROM mailbox_metadata WHERE owner_id = ?", id); err != nil {
			return err
		}
		if err := tx.exec("DELETE FROM server_metadata WHERE owner_id = ?", id); err != nil {
			return err
		}
		// Its uploads' rows would go with it (ON DELETE CASCADE), but
		// their files must go too, after the commit as a message's do.
		if err := tx.dropUploads("account_id = ?", id, nil); err != nil {
			return err
		}
		if err := tx.exec("DELETE FROM accounts WHERE id = ?", id); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: id})
		tx.changed(id, 0, 0, changeAccount)
		return nil
	})
}

func (tx *txn) accountID(email string) (int64, error) {
	var id int64
	if err := tx.query("SELECT id FROM accounts WHERE email = ?", func(st *sqlite.Stmt) error { id = st.ColumnInt64(0); return nil }, email); err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, fmt.Errorf("account %s: %w", email, store.ErrNotFound)
	}
	return id, nil
}

// scanAccount reads the columns id, email, created, shared.
func scanAccount(st *sqlite.Stmt) store.Account {
	return store.Account{ID: st.ColumnInt64(0), Email: st.ColumnText(1), Created: time.Unix(st.ColumnInt64(2), 0), Shared: st.ColumnBool(3)}
}

// Accounts implements store.Directory.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	var out []store.Account
	err := s.query(ctx, "SELECT id, email, created, shared FROM accounts ORDER BY email", func(st *sqlite.Stmt) error {
		out = append(out, scanAccount(st))
		return nil
	})
	return out, err
}

// Account implements store.Directory.
func (s *Store) Account(ctx context.Context, email string) (store.Account, error) {
	a, err := address.Parse(email)
	if err != nil {
		return store.Account{}, invalid(err)
	}
	var acct store.Account
	err = s.query(ctx, "SELECT id, email, created, shared FROM accounts WHERE email = ?", func(st *sqlite.Stmt) error {
		acct = scanAccount(st)
		return nil
	}, a.String())
	if err == nil && acct.ID == 0 {
		err = fmt.Errorf("account %s: %w", a, store.ErrNotFound)
	}
	return acct, err
}

// SetCredentials implements store.Directory.
func (s *Store) SetCredentials(ctx context.Context, accountID int64, cred auth.Credentials) error {
	if cred.Argon2id == "" {
		return fmt.Errorf("%w: empty password hash", store.ErrInvalid)
	}
	return s.write(ctx, func(tx *txn) error {
		if err := tx.exec("UPDATE accounts SET argon2id = ?, scram_sha256 = ?, apop_secret = ? WHERE id = ?", cred.Argon2id, cred.SCRAMSHA256, cred.APOP, accountID); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: accountID})
		tx.changed(accountID, 0, 0, changeAccount)
		return nil
	})
}

// Credentials implements store.Directory.
func (s *Store) Credentials(ctx context.Context, accountID int64) (auth.Credentials, error) {
	var c auth.Credentials
	found := false
	err := s.query(ctx, "SELECT argon2id, scram_sha256, apop_secret FROM accounts WHERE id = ?", func(st *sqlite.Stmt) error {
		c, found = auth.Credentials{Argon2id: st.ColumnText(0), SCRAMSHA256: st.ColumnText(1), APOP: st.ColumnText(2)}, true
		return nil
	}, accountID)
	if err == nil && !found {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return c, err
}

// LookupCredentials implements auth.CredentialLookup.
func (s *Store) LookupCredentials(ctx context.Context, username string) (auth.Principal, []string, error) {
	a, err := address.Parse(username)
	if err != nil {
		return auth.Principal{}, nil, auth.ErrUnknownAccount
	}
	var p auth.Principal
	var hashes []string
	// The main password first, then the app passwords, oldest first: one
	// row per app password (or one row with NULLs if there is none).
	err = s.query(ctx, `SELECT a.id, a.email, a.argon2id, p.argon2id FROM accounts a
		LEFT JOIN app_passwords p ON p.account_id = a.id
		WHERE a.email = ? AND NOT a.shared ORDER BY p.id`, func(st *sqlite.Stmt) error {
		if p.AccountID == 0 {
			p = auth.Principal{AccountID: st.ColumnInt64(0), Email: st.ColumnText(1)}
			hashes = append(hashes, st.ColumnText(2))
		}
		if st.ColumnType(3) != sqlite.TypeNull {
			hashes = append(hashes, st.ColumnText(3))
		}
		return nil
	}, a.String())
	if err != nil {
		return auth.Principal{}, nil, err
	}
	if p.AccountID == 0 {
		return auth.Principal{}, nil, auth.ErrUnknownAccount
	}
	return p, hashes, nil
}

// Settings implements store.Directory.
func (s *Store) Settings(ctx context.Context, accountID int64) (store.Settings, error) {
	out := store.DefaultSettings()
	err := s.query(ctx, "SELECT key, value FROM account_settings WHERE account_id = ?", func(st *sqlite.Stmt) error {
		// A key no longer defined (a downgrade) is ignored, not fatal.
		if _, ok := store.LookupSetting(st.ColumnText(0)); ok {
			out[st.ColumnText(0)] = st.ColumnText(1)
		}
		return nil
	}, accountID)
	return out, err
}

// SetSettings implements store.Directory.
func (s *Store) SetSettings(ctx context.Context, accountID int64, values map[string]string) error {
	norm := make(map[string]string, len(values))
	keys := make([]string, 0, len(values))
	for k, v := range values {
		n, err := store.NormalizeSetting(k, v)
		if err != nil {
			return err
		}
		norm[k] = n
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return s.write(ctx, func(tx *txn) error {
		exists := false
		if err := tx.query("SELECT 1 FROM accounts WHERE id = ?", func(*sqlite.Stmt) error { exists = true; return nil }, accountID); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		// Switching POP3 on records when, for pop3.scope = since-enabled.
		if norm["pop3.enabled"] == "true" {
			was := "true"
			if err := tx.query("SELECT value FROM account_settings WHERE account_id = ? AND key = 'pop3.enabled'", func(st *sqlite.Stmt) error {
				was = st.ColumnText(0)
				return nil
			}, accountID); err != nil {
				return err
			}
			if was == "false" {
				if _, set := norm["pop3.enabled_at"]; !set {
					norm["pop3.enabled_at"] = strconv.FormatInt(tx.now.Unix(), 10)
					keys = append(keys, "pop3.enabled_at")
				}
			}
		}
		for _, k := range keys {
			if err := tx.exec("INSERT INTO account_settings (account_id, key, value) VALUES (?, ?, ?) ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value",
				accountID, k, norm[k]); err != nil {
				return err
			}
		}
		tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: accountID})
		tx.changed(accountID, 0, 0, changeAccount)
		return nil
	})
}

// LookupAddress implements store.Directory.
func (s *Store) LookupAddress(ctx context.Context, addr string) (store.AddressInfo, error) {
	a, err := store.ParseAlias(addr)
	if err != nil {
		return store.AddressInfo{}, err
	}
	var info store.AddressInfo
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		if err := execConn(conn, "SELECT 1 FROM domains WHERE name = ?", func(*sqlite.Stmt) error { info.LocalDomain = true; return nil }, a.Domain); err != nil {
			return err
		}
		if !info.LocalDomain {
			return nil
		}
		if err := execConn(conn, "SELECT id, email, created, shared FROM accounts WHERE email = ?", func(st *sqlite.Stmt) error {
			acct := scanAccount(st)
			info.Account = &acct
			return nil
		}, a.String()); err != nil || info.Account != nil {
			return err
		}
		return execConn(conn, "SELECT target FROM aliases WHERE address = ? ORDER BY target", func(st *sqlite.Stmt) error {
			info.AliasTargets = append(info.AliasTargets, st.ColumnText(0))
			return nil
		}, a.String())
	})
	return info, err
}

// AccountsWithSetting implements store.Directory.
func (s *Store) AccountsWithSetting(ctx context.Context, key, value string) ([]store.Account, error) {
	value, err := store.NormalizeSetting(key, value)
	if err != nil {
		return nil, err
	}
	def, _ := store.LookupSetting(key)
	var out []store.Account
	err = s.query(ctx, `SELECT a.id, a.email, a.created, a.shared FROM accounts a
		LEFT JOIN account_settings s ON s.account_id = a.id AND s.key = ?1
		WHERE coalesce(s.value, ?2) = ?3 ORDER BY a.id`, func(st *sqlite.Stmt) error {
		out = append(out, scanAccount(st))
		return nil
	}, key, def.Default, value)
	return out, err
}

// AddAlias implements store.Directory.
func (s *Store) AddAlias(ctx context.Context, alias string, targets []string) error {
	a, err := store.ParseAlias(alias)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: alias %s needs at least one target", store.ErrInvalid, a)
	}
	parsed := make([]address.Address, 0, len(targets))
	for _, t := range targets {
		ta, err := address.Parse(t)
		if err != nil {
			return invalid(fmt.Errorf("alias target: %w", err))
		}
		if ta == a {
			return fmt.Errorf("%w: alias %s cannot point to itself", store.ErrInvalid, a)
		}
		parsed = append(parsed, ta)
	}
	return s.write(ctx, func(tx *txn) error {
		domainID, err := tx.domainID(a.Domain)
		if err != nil {
			return err
		}
		if domainID == 0 {
			return fmt.Errorf("domain %s of alias %s: %w", a.Domain, a, store.ErrUnknownDomain)
		}
		var isAccount bool
		if err := tx.query("SELECT 1 FROM accounts WHERE email = ?", func(*sqlite.Stmt) error { isAccount = true; return nil }, a.String()); err != nil {
			return err
		}
		if isAccount {
			return fmt.Errorf("%s is already an account: %w", a, store.ErrExists)
		}
		for _, t := range parsed {
			// A target in a local domain must exist, or mail to the alias would bounce.
			if local, err := tx.domainID(t.Domain); err != nil {
				return err
			} else if local != 0 {
				if what, err := tx.addressTaken(t.String()); err != nil {
					return err
				} else if what == "" {
					return fmt.Errorf("alias target %s: no such local account or alias: %w", t, store.ErrNotFound)
				}
			}
			if err := tx.exec("INSERT OR IGNORE INTO aliases (address, target, domain_id) VALUES (?, ?, ?)", a.String(), t.String(), domainID); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteAlias implements store.Directory.
func (s *Store) DeleteAlias(ctx context.Context, alias string) error {
	a, err := store.ParseAlias(alias)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM aliases WHERE address = ?", a.String()); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return fmt.Errorf("alias %s: %w", a, store.ErrNotFound)
		}
		return nil
	})
}

// Aliases implements store.Directory.
func (s *Store) Aliases(ctx context.Context) ([]store.Alias, error) {
	var out []store.Alias
	err := s.query(ctx, "SELECT address, target FROM aliases ORDER BY address, target", func(st *sqlite.Stmt) error {
		addr, target := st.ColumnText(0), st.ColumnText(1)
		if n := len(out); n > 0 && strings.EqualFold(out[n-1].Address, addr) {
			out[n-1].Targets = append(out[n-1].Targets, target)
		} else {
			out = append(out, store.Alias{Address: addr, Targets: []string{target}})
		}
		return nil
	})
	return out, err
}
