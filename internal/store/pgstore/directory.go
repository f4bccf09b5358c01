package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/address"
	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// The Directory follows sqlitestore/directory.go query for query; the
// differences are PostgreSQL's syntax and that every write is a
// SERIALIZABLE transaction (see write), since other nodes write too.

var _ store.Directory = (*Store)(nil)

func invalid(err error) error { return fmt.Errorf("%w: %v", store.ErrInvalid, err) }

// CreateDomain implements store.Directory.
func (s *Store) CreateDomain(ctx context.Context, name string) (store.Domain, error) {
	name, err := address.ParseDomain(name)
	if err != nil {
		return store.Domain{}, invalid(err)
	}
	d := store.Domain{Name: name, Created: time.Now().Truncate(time.Second)}
	err = s.write(ctx, func(tx *txn) error {
		if ok, err := tx.exists("SELECT 1 FROM domains WHERE name = $1", name); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("domain %s: %w", name, store.ErrExists)
		}
		return tx.QueryRow(ctx, "INSERT INTO domains (name, created) VALUES ($1, $2) RETURNING id", name, d.Created.Unix()).Scan(&d.ID)
	})
	if err != nil {
		return store.Domain{}, fmt.Errorf("store: create domain: %w", err)
	}
	return d, nil
}

// DeleteDomain implements store.Directory.
func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	name, err := address.ParseDomain(name)
	if err != nil {
		return invalid(err)
	}
	err = s.write(ctx, func(tx *txn) error {
		id, err := tx.domainID(name)
		if err != nil {
			return err
		}
		if id == 0 {
			return fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
		}
		var accounts, aliases int
		if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM accounts WHERE domain_id = $1), (SELECT count(*) FROM aliases WHERE domain_id = $1)",
			id).Scan(&accounts, &aliases); err != nil {
			return err
		}
		if accounts > 0 || aliases > 0 {
			return fmt.Errorf("domain %s still has %d accounts and %d alias targets: delete them first: %w", name, accounts, aliases, store.ErrNotEmpty)
		}
		// Entries naming the domain are not for a domain of that name
		// created later.
		if _, err := tx.exec("DELETE FROM mailbox_acl WHERE identifier = $1", "@"+name); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM delegations WHERE grantee = $1", "@"+name); err != nil {
			return err
		}
		_, err = tx.exec("DELETE FROM domains WHERE id = $1", id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete domain: %w", err)
	}
	return nil
}

func scanDomain(row pgx.CollectableRow) (store.Domain, error) {
	var d store.Domain
	var created int64
	err := row.Scan(&d.ID, &d.Name, &created)
	d.Created = time.Unix(created, 0)
	return d, err
}

// Domains implements store.Directory.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	rows, _ := s.pool.Query(ctx, "SELECT id, name, created FROM domains ORDER BY name")
	out, err := pgx.CollectRows(rows, scanDomain)
	if err != nil {
		return nil, fmt.Errorf("store: domains: %w", err)
	}
	return out, nil
}

// Domain implements store.Directory.
func (s *Store) Domain(ctx context.Context, name string) (store.Domain, error) {
	name, err := address.ParseDomain(name)
	if err != nil {
		return store.Domain{}, invalid(err)
	}
	rows, _ := s.pool.Query(ctx, "SELECT id, name, created FROM domains WHERE name = $1", name)
	d, err := pgx.CollectExactlyOneRow(rows, scanDomain)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Domain{}, fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
	}
	if err != nil {
		return store.Domain{}, fmt.Errorf("store: domain %s: %w", name, err)
	}
	return d, nil
}

// domainID returns the id of a local domain, 0 if it is not local.
func (tx *txn) domainID(name string) (int64, error) {
	var id int64
	err := tx.QueryRow(tx.ctx, "SELECT id FROM domains WHERE name = $1", name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// addressTaken reports what already uses a local address.
func (tx *txn) addressTaken(addr string) (string, error) {
	var what string
	err := tx.QueryRow(tx.ctx, "SELECT 'an account' FROM accounts WHERE email = $1 UNION ALL SELECT 'an alias' FROM aliases WHERE address = $1 LIMIT 1",
		addr).Scan(&what)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
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
		if err := tx.QueryRow(ctx, `INSERT INTO accounts (email, domain_id, argon2id, scram_sha256, apop_secret, next_uidvalidity, created, shared)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			acct.Email, domainID, cred.Argon2id, cred.SCRAMSHA256, cred.APOP, initialUIDValidity(tx.now), acct.Created.Unix(), shared).Scan(&acct.ID); err != nil {
			return err
		}
		if _, err := tx.exec("INSERT INTO quota_accounts (account_id) VALUES ($1)", acct.ID); err != nil {
			return err
		}
		for _, m := range store.DefaultMailboxes {
			if _, err := tx.createMailbox(acct.ID, m.Name, m.Use); err != nil {
				return err
			}
			if _, err := tx.exec("INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", acct.ID, m.Name); err != nil {
				return err
			}
		}
		return tx.changed(acct.ID, 0, 0, changeAccount)
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("store: create account: %w", err)
	}
	return acct, nil
}

// initialUIDValidity seeds an account's UIDVALIDITY counter from the clock,
// so that an account deleted and created again does not reuse old values.
func initialUIDValidity(now time.Time) int64 {
	return now.Unix() & 0x7fffffff
}

// createMailbox creates one mailbox with the account's next UIDVALIDITY.
// The counter is a row of accounts updated in the transaction, so two
// nodes creating mailboxes at once never draw the same value: the second
// update waits for the first and, SERIALIZABLE, is retried on top of it.
func (tx *txn) createMailbox(accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	var uidValidity int64
	err := tx.QueryRow(tx.ctx, "UPDATE accounts SET next_uidvalidity = next_uidvalidity + 1 WHERE id = $1 RETURNING next_uidvalidity - 1",
		accountID).Scan(&uidValidity)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Mailbox{}, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return store.Mailbox{}, err
	}
	// Its HIGHESTMODSEQ starts at 1 as ever; the account's modseq stamps
	// the record, for AccountChanges.
	modseq, err := tx.nextModSeq(accountID)
	if err != nil {
		return store.Mailbox{}, err
	}
	mb := store.Mailbox{AccountID: accountID, Name: name, SpecialUse: use, UIDValidity: uint32(uidValidity), UIDNext: 1, HighestModSeq: 1,
		CreatedModSeq: modseq, MetaModSeq: modseq}
	if err := tx.QueryRow(tx.ctx, "INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, created_modseq, meta_modseq) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
		accountID, name, string(use), uidValidity, int64(modseq)).Scan(&mb.ID); err != nil {
		return store.Mailbox{}, err
	}
	// A new mailbox inherits its parent's access control list (RFC 4314
	// 4), so a folder made inside a shared one is shared the same way,
	// and visible to whoever made it there. A parent created on the way
	// was created just before, and has inherited its own.
	if parents := store.ParentNames(name); len(parents) > 0 {
		if _, err := tx.exec(`INSERT INTO mailbox_acl (mailbox_id, identifier, rights)
			SELECT $1, a.identifier, a.rights FROM mailbox_acl a JOIN mailboxes p ON p.id = a.mailbox_id
			WHERE p.account_id = $2 AND p.name = $3`, mb.ID, accountID, parents[len(parents)-1]); err != nil {
			return store.Mailbox{}, err
		}
	}
	tx.publish(store.Event{Kind: store.EventMailboxCreated, AccountID: accountID, MailboxID: mb.ID, Name: name})
	return mb, tx.changed(accountID, mb.ID, 0, changeMailboxes)
}

// DeleteAccount implements store.Directory.
func (s *Store) DeleteAccount(ctx context.Context, email string) error {
	a, err := address.Parse(email)
	if err != nil {
		return invalid(err)
	}
	err = s.write(ctx, func(tx *txn) error {
		id, err := tx.accountID(a.String())
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "SELECT address FROM aliases WHERE target = $1 ORDER BY address", a.String())
		aliases, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(aliases) > 0 {
			return fmt.Errorf("account %s is a target of alias %s: remove it there first: %w", a, strings.Join(aliases, ", "), store.ErrNotEmpty)
		}
		if err := tx.dropAccountMail(id); err != nil {
			return err
		}
		if err := tx.dropJunkModel(id); err != nil {
			return err
		}
		// What others shared with the account is not for whoever gets
		// its address next. (The lists of its own mailboxes go with the
		// mailboxes.)
		if _, err := tx.exec("DELETE FROM mailbox_acl WHERE identifier = $1", a.String()); err != nil {
			return err
		}
		// Likewise what others let it send as. (Its own grants go with
		// its row.)
		if _, err := tx.exec("DELETE FROM delegations WHERE grantee = $1", a.String()); err != nil {
			return err
		}
		// Nor are its private annotations, on its own mailboxes or on
		// others'.
		if _, err := tx.exec("DELETE FROM mailbox_metadata WHERE owner_id = $1", id); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM server_metadata WHERE owner_id = $1", id); err != nil {
			return err
		}
		// Its uploads' rows would go with it (ON DELETE CASCADE), but
		// their bodies must go too, in this transaction.
		if _, err := tx.dropUploads("account_id = $1", id); err != nil {
			return err
		}
		// Mailboxes, subscriptions, settings, app passwords, POP3 marks
		// and vacation replies go with the account (ON DELETE CASCADE).
		if _, err := tx.exec("DELETE FROM accounts WHERE id = $1", id); err != nil {
			return err
		}
		return tx.changed(id, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: delete account: %w", err)
	}
	return nil
}

// dropAccountMail deletes the messages and expunge history of every
// mailbox of the account, releasing the bodies no other message uses.
func (tx *txn) dropAccountMail(accountID int64) error {
	return tx.dropMessages(accountID, "mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1)", accountID)
}

// dropMessages deletes the messages and expunge history of the mailboxes
// where (a condition on mailbox_id, with $1 = arg) names, and releases
// their bodies.
func (tx *txn) dropMessages(accountID int64, where string, arg int64) error {
	rows, _ := tx.Query(tx.ctx, "DELETE FROM messages WHERE "+where+" RETURNING content_id, size", arg)
	var contents []int64
	var content, size int64
	if _, err := pgx.ForEachRow(rows, []any{&content, &size}, func() error {
		contents = append(contents, content)
		tx.addUsage(accountID, -size, -1)
		return nil
	}); err != nil {
		return err
	}
	if err := tx.releaseContents(contents); err != nil {
		return err
	}
	_, err := tx.exec("DELETE FROM expunged WHERE "+where, arg)
	return err
}

// releaseContent drops one reference to a body (see releaseContents).
func (tx *txn) releaseContent(contentID int64) error {
	return tx.releaseContents([]int64{contentID})
}

// releaseContents drops one reference per id (an id may come several
// times: two messages of one body). The last reference deletes the
// content row and its junk training; an inline body goes with the row, a
// "pg:" body goes now, in this transaction, another store's body is
// trashed for after the commit. A few statements for the whole batch, not
// a round trip per message: an EXPUNGE or a mailbox deletion of thousands
// of messages stays a handful of queries.
func (tx *txn) releaseContents(ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	rows, _ := tx.Query(tx.ctx, `WITH dec AS (SELECT id, count(*) AS n FROM unnest($1::bigint[]) AS id GROUP BY id)
		UPDATE contents c SET refs = c.refs - dec.n FROM dec WHERE c.id = dec.id RETURNING c.id, c.refs, c.blob`, ids)
	type doomed struct {
		id   int64
		blob string
	}
	var gone []doomed
	var id, refs int64
	var blob string
	if _, err := pgx.ForEachRow(rows, []any{&id, &refs, &blob}, func() error {
		if refs <= 0 {
			gone = append(gone, doomed{id, blob})
		}
		return nil
	}); err != nil {
		return err
	}
	if len(gone) == 0 {
		return nil
	}
	goneIDs := make([]int64, len(gone))
	for i, d := range gone {
		goneIDs[i] = d.id
	}
	if _, err := tx.exec("DELETE FROM contents WHERE id = ANY($1)", goneIDs); err != nil {
		return err
	}
	if _, err := tx.exec("DELETE FROM junk_trained WHERE content_id = ANY($1)", goneIDs); err != nil {
		return err
	}
	for _, d := range gone {
		if err := tx.releaseBlob(d.blob); err != nil {
			return err
		}
	}
	return nil
}

// dropJunkModel deletes an account's junk filter model (no foreign keys
// there: account 0 is the shared model).
func (tx *txn) dropJunkModel(accountID int64) error {
	for _, q := range []string{
		"DELETE FROM junk_tokens WHERE account_id = $1",
		"DELETE FROM junk_models WHERE account_id = $1",
		"DELETE FROM junk_trained WHERE account_id = $1",
	} {
		if _, err := tx.exec(q, accountID); err != nil {
			return err
		}
	}
	return nil
}

func (tx *txn) accountID(email string) (int64, error) {
	var id int64
	err := tx.QueryRow(tx.ctx, "SELECT id FROM accounts WHERE email = $1", email).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("account %s: %w", email, store.ErrNotFound)
	}
	return id, err
}

func scanAccount(row pgx.CollectableRow) (store.Account, error) {
	var a store.Account
	var created int64
	err := row.Scan(&a.ID, &a.Email, &created, &a.Shared)
	a.Created = time.Unix(created, 0)
	return a, err
}

// Accounts implements store.Directory.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	rows, _ := s.pool.Query(ctx, "SELECT id, email, created, shared FROM accounts ORDER BY email")
	out, err := pgx.CollectRows(rows, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// Account implements store.Directory.
func (s *Store) Account(ctx context.Context, email string) (store.Account, error) {
	a, err := address.Parse(email)
	if err != nil {
		return store.Account{}, invalid(err)
	}
	rows, _ := s.pool.Query(ctx, "SELECT id, email, created, shared FROM accounts WHERE email = $1", a.String())
	acct, err := pgx.CollectExactlyOneRow(rows, scanAccount)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Account{}, fmt.Errorf("account %s: %w", a, store.ErrNotFound)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("store: account %s: %w", a, err)
	}
	return acct, nil
}

// SetCredentials implements store.Directory.
func (s *Store) SetCredentials(ctx context.Context, accountID int64, cred auth.Credentials) error {
	if cred.Argon2id == "" {
		return fmt.Errorf("%w: empty password hash", store.ErrInvalid)
	}
	err := s.write(ctx, func(tx *txn) error {
		tag, err := tx.exec("UPDATE accounts SET argon2id = $1, scram_sha256 = $2, apop_secret = $3 WHERE id = $4",
			cred.Argon2id, cred.SCRAMSHA256, cred.APOP, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: set credentials: %w", err)
	}
	return nil
}

// Credentials implements store.Directory.
func (s *Store) Credentials(ctx context.Context, accountID int64) (auth.Credentials, error) {
	var c auth.Credentials
	err := s.pool.QueryRow(ctx, "SELECT argon2id, scram_sha256, apop_secret FROM accounts WHERE id = $1", accountID).
		Scan(&c.Argon2id, &c.SCRAMSHA256, &c.APOP)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Credentials{}, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return auth.Credentials{}, fmt.Errorf("store: credentials: %w", err)
	}
	return c, nil
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
	rows, _ := s.pool.Query(ctx, `SELECT a.id, a.email, a.argon2id, p.argon2id FROM accounts a
		LEFT JOIN app_passwords p ON p.account_id = a.id
		WHERE a.email = $1 AND NOT a.shared ORDER BY p.id`, a.String())
	var id int64
	var email, main string
	var app *string
	if _, err := pgx.ForEachRow(rows, []any{&id, &email, &main, &app}, func() error {
		if p.AccountID == 0 {
			p = auth.Principal{AccountID: id, Email: email}
			hashes = append(hashes, main)
		}
		if app != nil {
			hashes = append(hashes, *app)
		}
		return nil
	}); err != nil {
		return auth.Principal{}, nil, fmt.Errorf("store: lookup credentials: %w", err)
	}
	if p.AccountID == 0 {
		return auth.Principal{}, nil, auth.ErrUnknownAccount
	}
	return p, hashes, nil
}

// Settings implements store.Directory.
func (s *Store) Settings(ctx context.Context, accountID int64) (store.Settings, error) {
	out := store.DefaultSettings()
	rows, _ := s.pool.Query(ctx, "SELECT key, value FROM account_settings WHERE account_id = $1", accountID)
	var key, value string
	if _, err := pgx.ForEachRow(rows, []any{&key, &value}, func() error {
		// A key no longer defined (a downgrade) is ignored, not fatal.
		if _, ok := store.LookupSetting(key); ok {
			out[key] = value
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: settings: %w", err)
	}
	return out, nil
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
	err := s.write(ctx, func(tx *txn) error {
		// A retried transaction starts from the caller's values again.
		norm, keys := maps.Clone(norm), slices.Clone(keys)
		if ok, err := tx.exists("SELECT 1 FROM accounts WHERE id = $1", accountID); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		// Switching POP3 on records when, for pop3.scope = since-enabled.
		if norm["pop3.enabled"] == "true" {
			was := "true"
			err := tx.QueryRow(ctx, "SELECT value FROM account_settings WHERE account_id = $1 AND key = 'pop3.enabled'", accountID).Scan(&was)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
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
			if _, err := tx.exec("INSERT INTO account_settings (account_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value",
				accountID, k, norm[k]); err != nil {
				return err
			}
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: set settings: %w", err)
	}
	return nil
}

// LookupAddress implements store.Directory. One statement, so it sees one
// snapshot of the directory.
func (s *Store) LookupAddress(ctx context.Context, addr string) (store.AddressInfo, error) {
	a, err := store.ParseAlias(addr)
	if err != nil {
		return store.AddressInfo{}, err
	}
	var info store.AddressInfo
	var acctID *int64
	var email *string
	var created *int64
	var shared *bool
	var targets []string
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1),
		a.id, a.email, a.created, a.shared,
		ARRAY(SELECT target FROM aliases WHERE address = $2 ORDER BY target)
		FROM (SELECT 1) one LEFT JOIN accounts a ON a.email = $2`, a.Domain, a.String()).
		Scan(&info.LocalDomain, &acctID, &email, &created, &shared, &targets)
	if err != nil {
		return store.AddressInfo{}, fmt.Errorf("store: lookup address: %w", err)
	}
	switch {
	case !info.LocalDomain:
	case acctID != nil:
		info.Account = &store.Account{ID: *acctID, Email: *email, Created: time.Unix(*created, 0), Shared: *shared}
	case len(targets) > 0:
		info.AliasTargets = targets
	}
	return info, nil
}

// AccountsWithSetting implements store.Directory.
func (s *Store) AccountsWithSetting(ctx context.Context, key, value string) ([]store.Account, error) {
	value, err := store.NormalizeSetting(key, value)
	if err != nil {
		return nil, err
	}
	def, _ := store.LookupSetting(key)
	rows, _ := s.pool.Query(ctx, `SELECT a.id, a.email, a.created, a.shared FROM accounts a
		LEFT JOIN account_settings s ON s.account_id = a.id AND s.key = $1
		WHERE coalesce(s.value, $2) = $3 ORDER BY a.id`, key, def.Default, value)
	out, err := pgx.CollectRows(rows, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("store: accounts with setting: %w", err)
	}
	return out, nil
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
	err = s.write(ctx, func(tx *txn) error {
		domainID, err := tx.domainID(a.Domain)
		if err != nil {
			return err
		}
		if domainID == 0 {
			return fmt.Errorf("domain %s of alias %s: %w", a.Domain, a, store.ErrUnknownDomain)
		}
		if ok, err := tx.exists("SELECT 1 FROM accounts WHERE email = $1", a.String()); err != nil {
			return err
		} else if ok {
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
			if _, err := tx.exec("INSERT INTO aliases (address, target, domain_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
				a.String(), t.String(), domainID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add alias: %w", err)
	}
	return nil
}

// DeleteAlias implements store.Directory.
func (s *Store) DeleteAlias(ctx context.Context, alias string) error {
	a, err := store.ParseAlias(alias)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx *txn) error {
		tag, err := tx.exec("DELETE FROM aliases WHERE address = $1", a.String())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("alias %s: %w", a, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete alias: %w", err)
	}
	return nil
}

// Aliases implements store.Directory.
func (s *Store) Aliases(ctx context.Context) ([]store.Alias, error) {
	var out []store.Alias
	rows, _ := s.pool.Query(ctx, "SELECT address, target FROM aliases ORDER BY address, target")
	var addr, target string
	if _, err := pgx.ForEachRow(rows, []any{&addr, &target}, func() error {
		if n := len(out); n > 0 && strings.EqualFold(out[n-1].Address, addr) {
			out[n-1].Targets = append(out[n-1].Targets, target)
		} else {
			out = append(out, store.Alias{Address: addr, Targets: []string{target}})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: aliases: %w", err)
	}
	return out, nil
}
