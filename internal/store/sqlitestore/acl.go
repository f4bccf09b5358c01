package sqlitestore

import (
	"context"
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// MailboxByID implements store.ACLs.
func (s *Store) MailboxByID(ctx context.Context, id int64) (store.Mailbox, error) {
	var mb store.Mailbox
	err := s.read(ctx, func(conn *sqlite.Conn) (err error) {
		tx := txn{conn: conn}
		mb, err = tx.mailboxByID(id)
		return err
	})
	return mb, err
}

// MailboxACL implements store.ACLs.
func (s *Store) MailboxACL(ctx context.Context, mailboxID int64) ([]acl.Entry, error) {
	var out []acl.Entry
	found := false
	err := s.query(ctx, `SELECT a.identifier, a.rights FROM mailboxes m
		LEFT JOIN mailbox_acl a ON a.mailbox_id = m.id WHERE m.id = ? ORDER BY a.identifier`, func(st *sqlite.Stmt) error {
		found = true
		if st.ColumnType(0) != sqlite.TypeNull {
			out = append(out, acl.Entry{Identifier: st.ColumnText(0), Rights: acl.Rights(st.ColumnInt64(1))})
		}
		return nil
	}, mailboxID)
	if err == nil && !found {
		err = fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return out, err
}

// ModifyACL implements store.ACLs.
func (s *Store) ModifyACL(ctx context.Context, mailboxID int64, identifier string, mod acl.Modification, rights acl.Rights) (acl.Rights, error) {
	kind, err := store.CheckACLIdentifier(identifier)
	if err != nil {
		return 0, err
	}
	var now acl.Rights
	err = s.write(ctx, func(tx *txn) error {
		mb, err := tx.mailboxByID(mailboxID)
		if err != nil {
			return err
		}
		var owner string
		if err := tx.query("SELECT email FROM accounts WHERE id = ?", func(st *sqlite.Stmt) error { owner = st.ColumnText(0); return nil }, mb.AccountID); err != nil {
			return err
		}
		if err := tx.identifierExists(identifier, kind, owner); err != nil {
			return err
		}
		var old acl.Rights
		had := false
		if err := tx.query("SELECT rights FROM mailbox_acl WHERE mailbox_id = ? AND identifier = ?", func(st *sqlite.Stmt) error {
			old, had = acl.Rights(st.ColumnInt64(0)), true
			return nil
		}, mailboxID, identifier); err != nil {
			return err
		}
		now = mod.Apply(old, rights) & acl.All
		switch {
		case now == old && had:
			return nil
		case now == 0 && !had:
			return nil
		case now == 0:
			err = tx.exec("DELETE FROM mailbox_acl WHERE mailbox_id = ? AND identifier = ?", mailboxID, identifier)
		case had:
			err = tx.exec("UPDATE mailbox_acl SET rights = ? WHERE mailbox_id = ? AND identifier = ?", int64(now), mailboxID, identifier)
		default:
			var n int
			if err := tx.query("SELECT count(*) FROM mailbox_acl WHERE mailbox_id = ?", func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }, mailboxID); err != nil {
				return err
			}
			if n >= store.MaxACLEntries {
				return fmt.Errorf("%w: mailbox %q already has %d access control entries, the most there can be", store.ErrInvalid, mb.Name, n)
			}
			err = tx.exec("INSERT INTO mailbox_acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)", mailboxID, identifier, int64(now))
		}
		if err != nil {
			return err
		}
		modseq, err := tx.nextModSeq(mb.AccountID)
		if err != nil {
			return err
		}
		if err := tx.exec("UPDATE mailboxes SET meta_modseq = ? WHERE id = ?", int64(modseq), mb.ID); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventACLChanged, AccountID: mb.AccountID, MailboxID: mb.ID, Name: mb.Name})
		tx.changed(mb.AccountID, mb.ID, 0, changeACL)
		return nil
	})
	return now, err
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
			return fmt.Errorf("account %s: %w", identifier, err)
		}
	case acl.KindDomain:
		found := false
		if err := tx.query("SELECT 1 FROM domains WHERE name = ?", func(*sqlite.Stmt) error { found = true; return nil }, strings.TrimPrefix(identifier, "@")); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("domain %s: %w", strings.TrimPrefix(identifier, "@"), store.ErrNotFound)
		}
	}
	return nil
}

// SharedWith implements store.ACLs.
func (s *Store) SharedWith(ctx context.Context, accountID int64, identifiers []string) ([]store.SharedMailbox, error) {
	if len(identifiers) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(identifiers)+1)
	for _, id := range identifiers {
		args = append(args, id)
	}
	args = append(args, accountID)
	var out []store.SharedMailbox
	index := map[int64]int{}
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		// The mailboxes first, found from the identifier index (every
		// LIST asks, and almost always nothing is shared: the lookup must
		// cost that nothing, not a pass over every mailbox); then their
		// whole lists.
		if err := execConn(conn, "SELECT "+mailboxColumns+`, o.email, o.shared FROM (SELECT DISTINCT mailbox_id FROM mailbox_acl WHERE identifier IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(identifiers)), ",")+`)) a
			JOIN mailboxes m ON m.id = a.mailbox_id JOIN accounts o ON o.id = m.account_id
			WHERE m.account_id != ? ORDER BY o.email, m.name`, func(st *sqlite.Stmt) error {
			index[st.ColumnInt64(0)] = len(out)
			out = append(out, store.SharedMailbox{Mailbox: scanMailbox(st), Owner: st.ColumnText(mailboxColumnCount), OwnerShared: st.ColumnBool(mailboxColumnCount + 1)})
			return nil
		}, args...); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]any, 0, len(out))
		for _, m := range out {
			ids = append(ids, m.ID)
		}
		return execConn(conn, `SELECT mailbox_id, identifier, rights FROM mailbox_acl WHERE mailbox_id IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`) ORDER BY mailbox_id, identifier`, func(st *sqlite.Stmt) error {
			i := index[st.ColumnInt64(0)]
			out[i].ACL = append(out[i].ACL, acl.Entry{Identifier: st.ColumnText(1), Rights: acl.Rights(st.ColumnInt64(2))})
			return nil
		}, ids...)
	})
	return out, err
}
