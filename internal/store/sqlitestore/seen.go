package sqlitestore

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// Per-user \Seen in shared mailboxes (store.PrivateSeen): the
// private_seen table of migration 19. Writes that change flags, append
// or copy decide with Mailbox.PrivateSeenFor, on the mailbox row they
// read in their transaction, whether \Seen goes to the message or to the
// acting account's own rows (messages.go, deliver.go).

var _ store.PrivateSeen = (*Store)(nil)

// privateSeen reports whether accountID has seen the message, inside a
// write.
func (tx *txn) privateSeen(mailboxID, accountID int64, uid uint32) (bool, error) {
	seen := false
	err := tx.query("SELECT 1 FROM private_seen WHERE mailbox_id = ? AND uid = ? AND account_id = ?", func(*sqlite.Stmt) error {
		seen = true
		return nil
	}, mailboxID, int64(uid), accountID)
	return seen, err
}

// setPrivateSeen records or removes accountID's \Seen of a message.
func (tx *txn) setPrivateSeen(mailboxID, accountID int64, uid uint32, seen bool) error {
	if seen {
		return tx.exec("INSERT OR IGNORE INTO private_seen (mailbox_id, account_id, uid) VALUES (?, ?, ?)", mailboxID, accountID, int64(uid))
	}
	return tx.exec("DELETE FROM private_seen WHERE mailbox_id = ? AND uid = ? AND account_id = ?", mailboxID, int64(uid), accountID)
}

// PrivateSeen implements store.PrivateSeen: one read transaction, so the
// UIDs and the modseq agree.
func (s *Store) PrivateSeen(ctx context.Context, mailboxID, accountID int64, from, to uint32) (store.SeenSet, error) {
	var set store.SeenSet
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		if err := execConn(conn, "BEGIN", nil); err != nil {
			return err
		}
		defer execConn(conn, "COMMIT", nil)
		found := false
		if err := execConn(conn, "SELECT highestmodseq FROM mailboxes WHERE id = ?", func(st *sqlite.Stmt) error {
			set.ModSeq, found = uint64(st.ColumnInt64(0)), true
			return nil
		}, mailboxID); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		}
		return execConn(conn, "SELECT uid FROM private_seen WHERE account_id = ? AND mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid", func(st *sqlite.Stmt) error {
			set.UIDs = append(set.UIDs, uint32(st.ColumnInt64(0)))
			return nil
		}, accountID, mailboxID, int64(from), int64(to))
	})
	if err != nil {
		return store.SeenSet{}, fmt.Errorf("store: private seen: %w", err)
	}
	return set, nil
}

// ReaderStatus implements store.PrivateSeen.
func (s *Store) ReaderStatus(ctx context.Context, mailboxID, accountID int64) (store.MailboxStatus, error) {
	return s.mailboxStatus(ctx, mailboxID, accountID)
}

// SetSharedSeen implements store.PrivateSeen. Every message gets the new
// modseq in one statement; the mailbox service learns of the switch from
// an EventMailboxChanged (it reads the mailbox's changes again, the new
// mode with them) rather than an event per message.
func (s *Store) SetSharedSeen(ctx context.Context, mailboxID int64, shared bool) error {
	err := s.write(ctx, func(tx *txn) error {
		mb, err := tx.mailboxByID(mailboxID)
		if err != nil {
			return err
		}
		if mb.SharedSeen == shared {
			return nil
		}
		if err := tx.exec("UPDATE mailboxes SET shared_seen = ? WHERE id = ?", shared, mailboxID); err != nil {
			return err
		}
		if err := tx.exec("DELETE FROM private_seen WHERE mailbox_id = ?", mailboxID); err != nil {
			return err
		}
		modseq, err := tx.bumpModSeq(mailboxID)
		if err != nil {
			return err
		}
		if err := tx.exec("UPDATE messages SET modseq = ? WHERE mailbox_id = ?", int64(modseq), mailboxID); err != nil {
			return err
		}
		if err := tx.exec("UPDATE mailboxes SET meta_modseq = ? WHERE id = ?", int64(modseq), mailboxID); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventMailboxChanged, AccountID: mb.AccountID, MailboxID: mailboxID, ModSeq: modseq})
		tx.changed(mb.AccountID, mailboxID, modseq, changeMessages)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set shared seen: %w", err)
	}
	return nil
}
