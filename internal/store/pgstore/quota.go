package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/address"
	"mailroom/internal/store"
)

// Quotas (store.Quotas; migration 11). Every message inserted or deleted
// adds to the attempt's usage deltas (tx.addUsage); writeOnce applies
// them before the commit, in one statement whatever the number of
// accounts (applyUsage). The UPDATE takes each usage row's lock until the
// commit, and in READ COMMITTED it adds to the newest committed usage,
// having waited for a concurrent writer of the same account: the check
// that follows sees every delivery committed before, so two deliveries at
// the edge, on one node or two, cannot both pass.

var _ store.Quotas = (*Store)(nil)

// addUsage records n messages of size octets (negative: removed) in
// accountID's usage.
func (tx *txn) addUsage(accountID, size, n int64) { tx.usage.Add(accountID, size, n) }

// exemptUsage marks the last message added to accountID as exempt from
// its limits (store.Target.QuotaExempt).
func (tx *txn) exemptUsage(accountID int64) { tx.usage.Exempt(accountID) }

// quotaLimitColumns are the limits of an account's three levels, for a
// row q of quota_accounts (the same order as sqlitestore's).
const quotaLimitColumns = `q.limit_storage, q.limit_messages,
	(SELECT qd.limit_storage FROM accounts a JOIN quota_domains qd ON qd.domain_id = a.domain_id WHERE a.id = q.account_id),
	(SELECT qd.limit_messages FROM accounts a JOIN quota_domains qd ON qd.domain_id = a.domain_id WHERE a.id = q.account_id),
	(SELECT limit_storage FROM quota_server WHERE id = 1),
	(SELECT limit_messages FROM quota_server WHERE id = 1)`

type quotaRow struct {
	usage          store.QuotaUsage
	warnedStorage  int
	warnedMessages int
}

// scanQuotaRow reads account_id, storage, messages, warned_storage,
// warned_messages and quotaLimitColumns.
func scanQuotaRow(row pgx.Row) (quotaRow, error) {
	var r quotaRow
	var lim [6]*int64
	u := &r.usage
	if err := row.Scan(&u.AccountID, &u.Storage, &u.Messages, &r.warnedStorage, &r.warnedMessages,
		&lim[0], &lim[1], &lim[2], &lim[3], &lim[4], &lim[5]); err != nil {
		return r, err
	}
	l := func(p *int64) store.QuotaLimit {
		if p == nil {
			return store.Inherit
		}
		return store.QuotaLimit(*p)
	}
	u.Own = store.QuotaLimits{Storage: l(lim[0]), Messages: l(lim[1])}
	u.Limits = store.EffectiveQuota(u.Own,
		store.QuotaLimits{Storage: l(lim[2]), Messages: l(lim[3])},
		store.QuotaLimits{Storage: l(lim[4]), Messages: l(lim[5])})
	return r, nil
}

func limitArg(l store.QuotaLimit) *int64 {
	if l == store.Inherit {
		return nil
	}
	v := int64(l)
	return &v
}

// applyUsage writes the attempt's usage deltas, refuses (an
// *store.OverQuotaError) an attempt that grew an account past a limit
// with messages not all exempt, and re-arms the warnings of levels the
// usage fell below.
func (tx *txn) applyUsage() error {
	ids := tx.usage.Changed()
	if len(ids) == 0 {
		return nil
	}
	storage := make([]int64, len(ids))
	messages := make([]int64, len(ids))
	for i, id := range ids {
		storage[i], messages[i] = tx.usage[id].Storage, tx.usage[id].Messages
	}
	rows, _ := tx.Query(tx.ctx, `UPDATE quota_accounts q SET storage = q.storage + d.storage, messages = q.messages + d.messages
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(account_id, storage, messages)
		WHERE q.account_id = d.account_id
		RETURNING q.account_id, q.storage, q.messages, q.warned_storage, q.warned_messages, `+quotaLimitColumns, ids, storage, messages)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (quotaRow, error) { return scanQuotaRow(row) })
	if err != nil {
		return fmt.Errorf("update quota usage: %w", err)
	}
	// Rows of accounts this attempt deleted are not there.
	for _, r := range list {
		d := tx.usage[r.usage.AccountID]
		if d.Enforced() {
			if e := store.QuotaExceeded(r.usage, d.Storage, d.Messages); e != nil {
				if err := tx.QueryRow(tx.ctx, "SELECT email FROM accounts WHERE id = $1", e.AccountID).Scan(&e.Email); err != nil {
					return fmt.Errorf("%w (and reading its account: %v)", e, err)
				}
				return e
			}
		}
		ls := min(r.warnedStorage, store.QuotaLevel(r.usage.Storage, r.usage.Limits.Storage))
		lm := min(r.warnedMessages, store.QuotaLevel(r.usage.Messages, r.usage.Limits.Messages))
		if ls != r.warnedStorage || lm != r.warnedMessages {
			if _, err := tx.exec("UPDATE quota_accounts SET warned_storage = $2, warned_messages = $3 WHERE account_id = $1", r.usage.AccountID, ls, lm); err != nil {
				return fmt.Errorf("re-arm quota warnings: %w", err)
			}
		}
		if d.Storage > 0 || d.Messages > 0 {
			if store.WarningDue(r.usage, r.warnedStorage, r.warnedMessages) {
				tx.publish(store.Event{Kind: store.EventQuotaLevel, AccountID: r.usage.AccountID})
			}
		}
	}
	tx.usage = nil
	return nil
}

// QuotaUsage implements store.Quotas.
func (s *Store) QuotaUsage(ctx context.Context, accountID int64) (store.QuotaUsage, error) {
	r, err := scanQuotaRow(s.pool.QueryRow(ctx, `SELECT q.account_id, q.storage, q.messages, q.warned_storage, q.warned_messages, `+
		quotaLimitColumns+` FROM quota_accounts q WHERE q.account_id = $1`, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return store.QuotaUsage{}, fmt.Errorf("store: quota usage: %w", unavailable(err))
	}
	return r.usage, nil
}

// QuotaLimits implements store.Quotas.
func (s *Store) QuotaLimits(ctx context.Context, scope store.QuotaScope) (store.QuotaLimits, error) {
	var st, ms *int64
	var err error
	inherit := store.QuotaLimits{Storage: store.Inherit, Messages: store.Inherit}
	switch {
	case scope.AccountID != 0:
		err = s.pool.QueryRow(ctx, "SELECT limit_storage, limit_messages FROM quota_accounts WHERE account_id = $1", scope.AccountID).Scan(&st, &ms)
		if errors.Is(err, pgx.ErrNoRows) {
			err = fmt.Errorf("account %d: %w", scope.AccountID, store.ErrNotFound)
		}
	case scope.Domain != "":
		name, perr := address.ParseDomain(scope.Domain)
		if perr != nil {
			return inherit, fmt.Errorf("store: quota limits: %w", invalid(perr))
		}
		var id int64
		if err = s.pool.QueryRow(ctx, "SELECT id FROM domains WHERE name = $1", name).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
			err = fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
		}
		if err == nil {
			err = s.pool.QueryRow(ctx, "SELECT limit_storage, limit_messages FROM quota_domains WHERE domain_id = $1", id).Scan(&st, &ms)
			if errors.Is(err, pgx.ErrNoRows) {
				err = nil
			}
		}
	default:
		err = s.pool.QueryRow(ctx, "SELECT limit_storage, limit_messages FROM quota_server WHERE id = 1").Scan(&st, &ms)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return store.QuotaLimits{}, fmt.Errorf("store: quota limits: %w", unavailable(err))
	}
	q := inherit
	if st != nil {
		q.Storage = store.QuotaLimit(*st)
	}
	if ms != nil {
		q.Messages = store.QuotaLimit(*ms)
	}
	if scope.AccountID == 0 && scope.Domain == "" {
		q = store.ServerQuota(q)
	}
	return q, nil
}

// SetQuotaLimits implements store.Quotas.
func (s *Store) SetQuotaLimits(ctx context.Context, scope store.QuotaScope, q store.QuotaLimits) error {
	if err := q.Check(scope.AccountID != 0 || scope.Domain != ""); err != nil {
		return fmt.Errorf("store: set quota limits: %w", err)
	}
	var domain string
	if scope.AccountID == 0 && scope.Domain != "" {
		var err error
		if domain, err = address.ParseDomain(scope.Domain); err != nil {
			return fmt.Errorf("store: set quota limits: %w", invalid(err))
		}
	}
	err := s.write(ctx, func(tx *txn) error {
		switch {
		case scope.AccountID != 0:
			tag, err := tx.exec("UPDATE quota_accounts SET limit_storage = $2, limit_messages = $3 WHERE account_id = $1",
				scope.AccountID, limitArg(q.Storage), limitArg(q.Messages))
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("account %d: %w", scope.AccountID, store.ErrNotFound)
			}
			return tx.changed(scope.AccountID, 0, 0, changeAccount)
		case domain != "":
			id, err := tx.domainID(domain)
			if err != nil {
				return err
			}
			if id == 0 {
				return fmt.Errorf("domain %s: %w", domain, store.ErrUnknownDomain)
			}
			_, err = tx.exec(`INSERT INTO quota_domains (domain_id, limit_storage, limit_messages) VALUES ($1, $2, $3)
				ON CONFLICT (domain_id) DO UPDATE SET limit_storage = $2, limit_messages = $3`, id, limitArg(q.Storage), limitArg(q.Messages))
			return err
		default:
			_, err := tx.exec(`INSERT INTO quota_server (id, limit_storage, limit_messages) VALUES (1, $1, $2)
				ON CONFLICT (id) DO UPDATE SET limit_storage = $1, limit_messages = $2`, int64(q.Storage), int64(q.Messages))
			return err
		}
	})
	if err != nil {
		return fmt.Errorf("store: set quota limits: %w", err)
	}
	return nil
}

// ClaimQuotaWarnings implements store.Quotas: the row lock (FOR UPDATE)
// makes the read and the write one step against a concurrent claim.
// Every delivery asks, so it reads first and locks and writes only when a
// level changed (rarely).
func (s *Store) ClaimQuotaWarnings(ctx context.Context, accountID int64) ([]store.QuotaWarning, error) {
	r, err := scanQuotaRow(s.pool.QueryRow(ctx, `SELECT q.account_id, q.storage, q.messages, q.warned_storage, q.warned_messages, `+
		quotaLimitColumns+` FROM quota_accounts q WHERE q.account_id = $1`, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim quota warnings: %w", unavailable(err))
	}
	if ls, lm, _ := store.ClaimQuotaLevels(r.usage, r.warnedStorage, r.warnedMessages); ls == r.warnedStorage && lm == r.warnedMessages {
		return nil, nil
	}
	var out []store.QuotaWarning
	err = s.writeMessages(ctx, func(tx *txn) error {
		r, err := scanQuotaRow(tx.QueryRow(tx.ctx, `SELECT q.account_id, q.storage, q.messages, q.warned_storage, q.warned_messages, `+
			quotaLimitColumns+` FROM quota_accounts q WHERE q.account_id = $1 FOR UPDATE`, accountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var ls, lm int
		ls, lm, out = store.ClaimQuotaLevels(r.usage, r.warnedStorage, r.warnedMessages)
		if ls == r.warnedStorage && lm == r.warnedMessages {
			return nil
		}
		_, err = tx.exec("UPDATE quota_accounts SET warned_storage = $2, warned_messages = $3 WHERE account_id = $1", accountID, ls, lm)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim quota warnings: %w", err)
	}
	return out, nil
}
