package sqlitestore

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/address"
	"mailroom/internal/store"
)

// Quotas (store.Quotas; migration 18). Every message inserted or deleted
// adds to its request's usage deltas (tx.addUsage), which runBatch applies
// at the end of the request, inside its savepoint (applyUsage): the
// counters change in the same transaction as the messages, and a request
// that would take an account over a limit fails there and leaves nothing.
// The single writer makes the check and the write one step: two
// deliveries cannot both pass.

var _ store.Quotas = (*Store)(nil)

// addUsage records n messages of size octets (negative: removed) in
// accountID's usage.
func (tx *txn) addUsage(accountID, size, n int64) { tx.usage.Add(accountID, size, n) }

// exemptUsage marks the last message added to accountID as exempt from
// its limits (store.Target.QuotaExempt).
func (tx *txn) exemptUsage(accountID int64) { tx.usage.Exempt(accountID) }

// quotaRow is an account's usage row with the limits of its three levels.
const quotaRowSQL = `SELECT q.storage, q.messages, q.warned_storage, q.warned_messages,
	q.limit_storage, q.limit_messages, d.limit_storage, d.limit_messages, s.limit_storage, s.limit_messages
	FROM quota_accounts q JOIN accounts a ON a.id = q.account_id
	LEFT JOIN quota_domains d ON d.domain_id = a.domain_id
	LEFT JOIN quota_server s ON s.id = 1
	WHERE q.account_id = ?`

type quotaRow struct {
	usage          store.QuotaUsage
	warnedStorage  int
	warnedMessages int
}

func limitColumn(st *sqlite.Stmt, col int) store.QuotaLimit {
	if st.ColumnType(col) == sqlite.TypeNull {
		return store.Inherit
	}
	return store.QuotaLimit(st.ColumnInt64(col))
}

func limitArg(l store.QuotaLimit) any {
	if l == store.Inherit {
		return nil
	}
	return int64(l)
}

func scanQuotaRow(st *sqlite.Stmt, accountID int64) quotaRow {
	own := store.QuotaLimits{Storage: limitColumn(st, 4), Messages: limitColumn(st, 5)}
	dom := store.QuotaLimits{Storage: limitColumn(st, 6), Messages: limitColumn(st, 7)}
	srv := store.QuotaLimits{Storage: limitColumn(st, 8), Messages: limitColumn(st, 9)}
	return quotaRow{
		usage: store.QuotaUsage{
			AccountID: accountID,
			Storage:   st.ColumnInt64(0),
			Messages:  st.ColumnInt64(1),
			Own:       own,
			Limits:    store.EffectiveQuota(own, dom, srv),
		},
		warnedStorage:  st.ColumnInt(2),
		warnedMessages: st.ColumnInt(3),
	}
}

func (tx *txn) quotaRow(accountID int64) (quotaRow, bool, error) {
	var r quotaRow
	found := false
	err := tx.query(quotaRowSQL, func(st *sqlite.Stmt) error {
		r, found = scanQuotaRow(st, accountID), true
		return nil
	}, accountID)
	return r, found, err
}

// applyUsage writes the request's usage deltas, refuses (an
// *store.OverQuotaError) a request that grew an account past a limit
// with messages not all exempt, and re-arms the warnings of levels the
// usage fell below. Accounts in id order, so the work is the same
// whatever the map's order.
func (tx *txn) applyUsage() error {
	for _, id := range tx.usage.Changed() {
		d := tx.usage[id]
		if err := tx.exec("UPDATE quota_accounts SET storage = storage + ?, messages = messages + ? WHERE account_id = ?", d.Storage, d.Messages, id); err != nil {
			return fmt.Errorf("update quota usage: %w", err)
		}
		r, found, err := tx.quotaRow(id)
		if err != nil {
			return fmt.Errorf("read quota usage: %w", err)
		}
		if !found {
			continue // the account was deleted by this request
		}
		if d.Enforced() {
			if err := tx.checkLimits(r.usage, d); err != nil {
				return err
			}
		}
		if err := tx.rearm(r); err != nil {
			return err
		}
		if d.Storage > 0 || d.Messages > 0 {
			if store.WarningDue(r.usage, r.warnedStorage, r.warnedMessages) {
				tx.publish(store.Event{Kind: store.EventQuotaLevel, AccountID: id})
			}
		}
	}
	tx.usage = nil
	return nil
}

// checkLimits refuses usage that a request grew past a limit.
func (tx *txn) checkLimits(u store.QuotaUsage, d *store.QuotaDelta) error {
	e := store.QuotaExceeded(u, d.Storage, d.Messages)
	if e == nil {
		return nil
	}
	if err := tx.query("SELECT email FROM accounts WHERE id = ?", func(st *sqlite.Stmt) error { e.Email = st.ColumnText(0); return nil }, u.AccountID); err != nil {
		return fmt.Errorf("%w (and reading its account: %v)", e, err)
	}
	return e
}

// rearm lowers the remembered warning levels to those the usage is at.
func (tx *txn) rearm(r quotaRow) error {
	ls := min(r.warnedStorage, store.QuotaLevel(r.usage.Storage, r.usage.Limits.Storage))
	lm := min(r.warnedMessages, store.QuotaLevel(r.usage.Messages, r.usage.Limits.Messages))
	if ls == r.warnedStorage && lm == r.warnedMessages {
		return nil
	}
	if err := tx.exec("UPDATE quota_accounts SET warned_storage = ?, warned_messages = ? WHERE account_id = ?", ls, lm, r.usage.AccountID); err != nil {
		return fmt.Errorf("re-arm quota warnings: %w", err)
	}
	return nil
}

// QuotaUsage implements store.Quotas.
func (s *Store) QuotaUsage(ctx context.Context, accountID int64) (store.QuotaUsage, error) {
	var r quotaRow
	found := false
	err := s.query(ctx, quotaRowSQL, func(st *sqlite.Stmt) error {
		r, found = scanQuotaRow(st, accountID), true
		return nil
	}, accountID)
	if err != nil {
		return store.QuotaUsage{}, fmt.Errorf("store: quota usage: %w", err)
	}
	if !found {
		return store.QuotaUsage{}, fmt.Errorf("store: quota usage: account %d: %w", accountID, store.ErrNotFound)
	}
	return r.usage, nil
}

// QuotaLimits implements store.Quotas.
func (s *Store) QuotaLimits(ctx context.Context, scope store.QuotaScope) (store.QuotaLimits, error) {
	var q store.QuotaLimits
	var err error
	found := false
	scan := func(st *sqlite.Stmt) error {
		q, found = store.QuotaLimits{Storage: limitColumn(st, 0), Messages: limitColumn(st, 1)}, true
		return nil
	}
	switch {
	case scope.AccountID != 0:
		err = s.query(ctx, "SELECT limit_storage, limit_messages FROM quota_accounts WHERE account_id = ?", scan, scope.AccountID)
		if err == nil && !found {
			err = fmt.Errorf("account %d: %w", scope.AccountID, store.ErrNotFound)
		}
	case scope.Domain != "":
		var name string
		if name, err = address.ParseDomain(scope.Domain); err != nil {
			return q, fmt.Errorf("store: quota limits: %w", invalid(err))
		}
		var id int64
		if err = s.query(ctx, "SELECT id FROM domains WHERE name = ?", func(st *sqlite.Stmt) error { id = st.ColumnInt64(0); return nil }, name); err == nil && id == 0 {
			err = fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
		}
		if err == nil {
			err = s.query(ctx, "SELECT limit_storage, limit_messages FROM quota_domains WHERE domain_id = ?", scan, id)
		}
		if !found {
			q = store.QuotaLimits{Storage: store.Inherit, Messages: store.Inherit}
		}
	default:
		err = s.query(ctx, "SELECT limit_storage, limit_messages FROM quota_server WHERE id = 1", scan)
		if !found {
			q = store.QuotaLimits{Storage: store.Inherit, Messages: store.Inherit}
		}
		q = store.ServerQuota(q)
	}
	if err != nil {
		return store.QuotaLimits{}, fmt.Errorf("store: quota limits: %w", err)
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
			found := false
			if err := tx.query("UPDATE quota_accounts SET limit_storage = ?, limit_messages = ? WHERE account_id = ? RETURNING 1",
				func(*sqlite.Stmt) error { found = true; return nil }, limitArg(q.Storage), limitArg(q.Messages), scope.AccountID); err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("account %d: %w", scope.AccountID, store.ErrNotFound)
			}
			tx.changed(scope.AccountID, 0, 0, changeAccount)
			return nil
		case domain != "":
			id, err := tx.domainID(domain)
			if err != nil {
				return err
			}
			if id == 0 {
				return fmt.Errorf("domain %s: %w", domain, store.ErrUnknownDomain)
			}
			return tx.exec(`INSERT INTO quota_domains (domain_id, limit_storage, limit_messages) VALUES (?1, ?2, ?3)
				ON CONFLICT (domain_id) DO UPDATE SET limit_storage = ?2, limit_messages = ?3`, id, limitArg(q.Storage), limitArg(q.Messages))
		default:
			return tx.exec(`INSERT INTO quota_server (id, limit_storage, limit_messages) VALUES (1, ?1, ?2)
				ON CONFLICT (id) DO UPDATE SET limit_storage = ?1, limit_messages = ?2`, int64(q.Storage), int64(q.Messages))
		}
	})
	if err != nil {
		return fmt.Errorf("store: set quota limits: %w", err)
	}
	return nil
}

// ClaimQuotaWarnings implements store.Quotas. Every delivery asks, so
// it reads first and writes only when a level changed (rarely); the write
// decides again under the writer. A lazy write: a claim lost to a power
// loss only means the warning is sent once more.
func (s *Store) ClaimQuotaWarnings(ctx context.Context, accountID int64) ([]store.QuotaWarning, error) {
	var r quotaRow
	found := false
	if err := s.query(ctx, quotaRowSQL, func(st *sqlite.Stmt) error {
		r, found = scanQuotaRow(st, accountID), true
		return nil
	}, accountID); err != nil {
		return nil, fmt.Errorf("store: claim quota warnings: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("store: claim quota warnings: account %d: %w", accountID, store.ErrNotFound)
	}
	if ls, lm, _ := store.ClaimQuotaLevels(r.usage, r.warnedStorage, r.warnedMessages); ls == r.warnedStorage && lm == r.warnedMessages {
		return nil, nil
	}
	var out []store.QuotaWarning
	err := s.writeLazy(ctx, func(tx *txn) error {
		out = nil
		r, found, err := tx.quotaRow(accountID)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		var ls, lm int
		ls, lm, out = store.ClaimQuotaLevels(r.usage, r.warnedStorage, r.warnedMessages)
		if ls == r.warnedStorage && lm == r.warnedMessages {
			return nil
		}
		return tx.exec("UPDATE quota_accounts SET warned_storage = ?, warned_messages = ? WHERE account_id = ?", ls, lm, accountID)
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim quota warnings: %w", err)
	}
	return out, nil
}
