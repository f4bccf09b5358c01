package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Access control lists (store.ACLs) follow sqlitestore/acl.go. What
// SQLite gets from its single writer, ModifyACL gets from write's
// SERIALIZABLE transaction: the checks it makes (the account or domain
// named exists, the list has room for one more) and the change commit
// together or not at all, whichever node changed the list, an account or
// a domain at the same time (DeleteAccount and DeleteDomain remove the
// entries naming them, in SERIALIZABLE transactions too).

var _ store.ACLs = (*Store)(nil)

// MailboxByID implements store.ACLs.
func (s *Store) MailboxByID(ctx context.Context, id int64) (store.Mailbox, error) {
	mb, err := mailboxWhere(ctx, s.pool, fmt.Sprint(id), "m.id = $1", id)
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("store: %w", err)
	}
	return mb, nil
}

// MailboxACL implements store.ACLs. The mailbox and its entries are read
// by one statement, so a mailbox without entries is told apart from one
// that does not exist.
func (s *Store) MailboxACL(ctx context.Context, mailboxID int64) ([]acl.Entry, error) {
	rows, _ := s.pool.Query(ctx, `SELECT a.identifier, a.rights FROM mailboxes m
		LEFT JOIN mailbox_acl a ON a.mailbox_id = m.id WHERE m.id = $1 ORDER BY a.identifier`, mailboxID)
	var out []acl.Entry
	found := false
	var identifier *string
	var rights *int64
	_, err := pgx.ForEachRow(rows, []any{&identifier, &rights}, func() error {
		found = true
		if identifier != nil {
			out = append(out, acl.Entry{Identifier: *identifier, Rights: acl.Rights(*rights)})
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: mailbox ACL: %w", err)
	}
	return out, nil
}

// ModifyACL implements store.ACLs.
func (s *Store) ModifyACL(ctx context.Context, mailboxID int64, identifier string, mod acl.Modification, rights acl.Rights) (acl.Rights, error) {
	kind, err := store.CheckACLIdentifier(identifier)
	if err != nil {
		return 0, fmt.Errorf("store: modify ACL: %w", err)
	}
	var now acl.Rights
	err = s.write(ctx, func(tx *txn) error {
		now = 0
		// The mailbox row locked until the commit, as every write that
		// publishes events of a mailbox holds it: that is what puts the
		// events in commit order (events.go). The checks below need no
		// lock: SERIALIZABLE aborts one of two writes that would each
		// invalidate the other's.
		var mb store.Mailbox
		var owner string
		err := tx.QueryRow(tx.ctx, `SELECT m.account_id, m.name, o.email FROM mailboxes m JOIN accounts o ON o.id = m.account_id
			WHERE m.id = $1 FOR NO KEY UPDATE OF m`, mailboxID).Scan(&mb.AccountID, &mb.Name, &owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		mb.ID = mailboxID
		if err := tx.identifierExists(identifier, kind, owner); err != nil {
			return err
		}
		var old int64
		had := true
		err = tx.QueryRow(tx.ctx, "SELECT rights FROM mailbox_acl WHERE mailbox_id = $1 AND identifier = $2", mailboxID, identifier).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			had, err = false, nil
		}
		if err != nil {
			return err
		}
		now = mod.Apply(acl.Rights(old), rights) & acl.All
		switch {
		case now == acl.Rights(old) && had:
			return nil
		case now == 0 && !had:
			return nil
		case now == 0:
			_, err = tx.exec("DELETE FROM mailbox_acl WHERE mailbox_id = $1 AND identifier = $2", mailboxID, identifier)
		case had:
			_, err = tx.exec("UPDATE mailbox_acl SET rights = $3 WHERE mailbox_id = $1 AND identifier = $2", mailboxID, identifier, int64(now))
		default:
			// Counted only for a new entry: a count reads the whole
			// list, which would make every other change of it running
			// at the same time a serialization conflict to retry.
			var n int
			if err := tx.QueryRow(tx.ctx, "SELECT count(*) FROM mailbox_acl WHERE mailbox_id = $1", mailboxID).Scan(&n); err != nil {
				return err
			}
			if n >= store.MaxACLEntries {
				return fmt.Errorf("%w: mailbox %q already has %d access control entries, the most there can be", store.ErrInvalid, mb.Name, n)
			}
			_, err = tx.exec("INSERT INTO mailbox_acl (mailbox_id, identifier, rights) VALUES ($1, $2, $3)", mailboxID, identifier, int64(now))
		}
		if err != nil {
			return err
		}
		modseq, err := tx.nextModSeq(mb.AccountID)
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE mailboxes SET meta_modseq = $2 WHERE id = $1", mb.ID, int64(modseq)); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventACLChanged, AccountID: mb.AccountID, MailboxID: mb.ID, Name: mb.Name})
		return tx.changed(mb.AccountID, mb.ID, 0, changeACL)
	})
	if err != nil {
		return 0, fmt.Errorf("store: modify ACL: %w", err)
	}
	return now, nil
}

// identifierExists checks that the account or domain an identifier names
// exists and is not the owner.
func (tx *txn) identifierExists(identifier string, kind acl.Kind, owner string) error {
	switch kind {
	case acl.KindAccount:
		if identifier == owner {
			return fmt.Errorf("%w: %s owns the mailbox and always has every right", store.ErrInvalid, owner)
		}
		if _, err := tx.accountID(identifier); err != nil {
			return err
		}
	case acl.KindDomain:
		domain := strings.TrimPrefix(identifier, "@")
		id, err := tx.domainID(domain)
		if err != nil {
			return err
		}
		if id == 0 {
			return fmt.Errorf("domain %s: %w", domain, store.ErrNotFound)
		}
	}
	return nil
}

// SharedWith implements store.ACLs: one statement, so the mailboxes and
// their lists come from one snapshot; each mailbox's whole list rides
// along as two arrays, not as a row per entry repeating the mailbox.
func (s *Store) SharedWith(ctx context.Context, accountID int64, identifiers []string) ([]store.SharedMailbox, error) {
	if len(identifiers) == 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, "SELECT "+mailboxColumns+`, o.email, o.shared, l.identifiers, l.rights
		FROM mailboxes m JOIN accounts o ON o.id = m.account_id,
		LATERAL (SELECT array_agg(identifier ORDER BY identifier) AS identifiers, array_agg(rights ORDER BY identifier) AS rights
			FROM mailbox_acl WHERE mailbox_id = m.id) l
		WHERE m.account_id <> $1 AND m.id IN (SELECT mailbox_id FROM mailbox_acl WHERE identifier = ANY($2))
		ORDER BY o.email, m.name`, accountID, identifiers)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SharedMailbox, error) {
		var sm store.SharedMailbox
		var m mailboxScan
		var ids []string
		var rights []int64
		err := row.Scan(append(m.dest(), &sm.Owner, &sm.OwnerShared, &ids, &rights)...)
		sm.Mailbox = m.mailbox()
		sm.ACL = make([]acl.Entry, len(ids))
		for i, id := range ids {
			sm.ACL[i] = acl.Entry{Identifier: id, Rights: acl.Rights(rights[i])}
		}
		return sm, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: shared with: %w", err)
	}
	return out, nil
}
