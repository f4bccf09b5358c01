package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

const mailboxColumns = `m.id, m.account_id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,
	EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name), m.shared_seen,
	m.created_modseq, m.meta_modseq`

// mailboxColumnCount is the number of mailboxColumns: a query's own columns
// follow them.
const mailboxColumnCount = 11

func scanMailbox(st *sqlite.Stmt) store.Mailbox {
	return store.Mailbox{
		ID:            st.ColumnInt64(0),
		AccountID:     st.ColumnInt64(1),
		Name:          st.ColumnText(2),
		SpecialUse:    store.SpecialUse(st.ColumnText(3)),
		UIDValidity:   uint32(st.ColumnInt64(4)),
		UIDNext:       uint32(st.ColumnInt64(5)),
		HighestModSeq: uint64(st.ColumnInt64(6)),
		Subscribed:    st.ColumnBool(7),
		SharedSeen:    st.ColumnBool(8),
		CreatedModSeq: uint64(st.ColumnInt64(9)),
		MetaModSeq:    uint64(st.ColumnInt64(10)),
	}
}

// MailboxList implements store.Mailboxes.
func (s *Store) MailboxList(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	var out []store.Mailbox
	err := s.query(ctx, "SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.account_id = ? ORDER BY m.name", func(st *sqlite.Stmt) error {
		out = append(out, scanMailbox(st))
		return nil
	}, accountID)
	return out, err
}

// Mailbox implements store.Mailboxes.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error) {
	name, err := store.NormalizeMailboxName(name)
	if err != nil {
		return store.Mailbox{}, err
	}
	var mb store.Mailbox
	err = s.query(ctx, "SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.account_id = ? AND m.name = ?", func(st *sqlite.Stmt) error {
		mb = scanMailbox(st)
		return nil
	}, accountID, name)
	if err == nil && mb.ID == 0 {
		err = fmt.Errorf("mailbox %q: %w", name, store.ErrNotFound)
	}
	return mb, err
}

// MailboxStatus implements store.Mailboxes.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxStatus, error) {
	return s.mailboxStatus(ctx, mailboxID, 0)
}

// mailboxStatus is MailboxStatus as reader sees it (ReaderStatus): where
// reader's \Seen is private, Unseen counts the messages it has no
// private_seen row for. One read transaction.
func (s *Store) mailboxStatus(ctx context.Context, mailboxID, reader int64) (store.MailboxStatus, error) {
	var st store.MailboxStatus
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		if reader != 0 {
			// The mode and the count from one snapshot.
			if err := execConn(conn, "BEGIN", nil); err != nil {
				return err
			}
			defer execConn(conn, "COMMIT", nil)
		}
		if err := execConn(conn, "SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.id = ?", func(stmt *sqlite.Stmt) error {
			st.Mailbox = scanMailbox(stmt)
			return nil
		}, mailboxID); err != nil {
			return err
		}
		if st.ID == 0 {
			return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		}
		if err := execConn(conn, `SELECT count(*), coalesce(sum(flags & ?2 = 0), 0), coalesce(sum(flags & ?3 != 0), 0), coalesce(sum(size), 0)
			FROM messages WHERE mailbox_id = ?1`, func(stmt *sqlite.Stmt) error {
			st.Messages, st.Unseen, st.Deleted, st.Size = stmt.ColumnInt(0), stmt.ColumnInt(1), stmt.ColumnInt(2), stmt.ColumnInt64(3)
			return nil
		}, mailboxID, int64(store.FlagSeen), int64(store.FlagDeleted)); err != nil || !st.PrivateSeenFor(reader) {
			return err
		}
		// A private_seen row exists only with its message (written where
		// the message is, removed with it): what the reader has not seen
		// is the rest. Counting the reader index's entries costs a fraction
		// of a lookup per message.
		return execConn(conn, "SELECT count(*) FROM private_seen WHERE account_id = ? AND mailbox_id = ?", func(stmt *sqlite.Stmt) error {
			st.Unseen = st.Messages - stmt.ColumnInt(0)
			return nil
		}, reader, mailboxID)
	})
	return st, err
}

// mailbox looks a mailbox up inside a write transaction.
func (tx *txn) mailbox(accountID int64, name string) (store.Mailbox, error) {
	var mb store.Mailbox
	err := tx.query("SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.account_id = ? AND m.name = ?", func(st *sqlite.Stmt) error {
		mb = scanMailbox(st)
		return nil
	}, accountID, name)
	if err == nil && mb.ID == 0 {
		err = fmt.Errorf("mailbox %q: %w", name, store.ErrNotFound)
	}
	return mb, err
}

func (tx *txn) mailboxByID(id int64) (store.Mailbox, error) {
	var mb store.Mailbox
	err := tx.query("SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.id = ?", func(st *sqlite.Stmt) error {
		mb = scanMailbox(st)
		return nil
	}, id)
	if err == nil && mb.ID == 0 {
		err = fmt.Errorf("mailbox %d: %w", id, store.ErrNotFound)
	}
	return mb, err
}

// createMailbox inserts one mailbox with a fresh UIDVALIDITY.
func (tx *txn) createMailbox(accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	var uidValidity int64
	if err := tx.query("UPDATE accounts SET next_uidvalidity = next_uidvalidity + 1 WHERE id = ? RETURNING next_uidvalidity - 1",
		func(st *sqlite.Stmt) error { uidValidity = st.ColumnInt64(0); return nil }, accountID); err != nil {
		return store.Mailbox{}, err
	}
	if uidValidity == 0 {
		return store.Mailbox{}, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	// Its HIGHESTMODSEQ starts at 1 as ever; the account's modseq stamps
	// the record, for AccountChanges.
	modseq, err := tx.nextModSeq(accountID)
	if err != nil {
		return store.Mailbox{}, err
	}
	if err := tx.exec("INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, created_modseq, meta_modseq) VALUES (?, ?, ?, ?, ?, ?)",
		accountID, name, string(use), uidValidity, int64(modseq), int64(modseq)); err != nil {
		return store.Mailbox{}, err
	}
	mb := store.Mailbox{ID: tx.conn.LastInsertRowID(), AccountID: accountID, Name: name, SpecialUse: use,
		UIDValidity: uint32(uidValidity), UIDNext: 1, HighestModSeq: 1, CreatedModSeq: modseq, MetaModSeq: modseq}
	// A new mailbox inherits its parent's access control list (RFC 4314
	// 4), so a folder made inside a shared one is shared the same way,
	// and visible to whoever made it there.
	if parents := store.ParentNames(name); len(parents) > 0 {
		if err := tx.exec(`INSERT INTO mailbox_acl (mailbox_id, identifier, rights)
			SELECT ?, a.identifier, a.rights FROM mailbox_acl a JOIN mailboxes p ON p.id = a.mailbox_id
			WHERE p.account_id = ? AND p.name = ?`, mb.ID, accountID, parents[len(parents)-1]); err != nil {
			return store.Mailbox{}, err
		}
	}
	tx.publish(store.Event{Kind: store.EventMailboxCreated, AccountID: accountID, MailboxID: mb.ID, Name: name})
	tx.changed(accountID, mb.ID, 0, changeMailboxes)
	return mb, nil
}

func validSpecialUse(use store.SpecialUse) bool {
	switch use {
	case "", store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk,
		store.SpecialArchive, store.SpecialAll, store.SpecialFlagged:
		return true
	}
	return false
}

// CreateMailbox implements store.Mailboxes.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name string, use store.SpecialUse) (store.Mailbox, error) {
	name, err := store.NormalizeMailboxName(name)
	if err != nil {
		return store.Mailbox{}, err
	}
	if !validSpecialUse(use) {
		return store.Mailbox{}, fmt.Errorf("%w: special use %q", store.ErrInvalid, use)
	}
	var mb store.Mailbox
	err = s.write(ctx, func(tx *txn) error {
		if _, err := tx.mailbox(accountID, name); err == nil {
			return fmt.Errorf("mailbox %q: %w", name, store.ErrExists)
		}
		for _, parent := range store.ParentNames(name) {
			if _, err := tx.mailbox(accountID, parent); err == nil {
				continue
			}
			if _, err := tx.createMailbox(accountID, parent, ""); err != nil {
				return err
			}
		}
		mb, err = tx.createMailbox(accountID, name, use)
		return err
	})
	return mb, err
}

// RenameMailbox implements store.Mailboxes.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error {
	oldName, err := store.NormalizeMailboxName(oldName)
	if err != nil {
		return err
	}
	newName, err = store.NormalizeMailboxName(newName)
	if err != nil {
		return err
	}
	if newName == "INBOX" {
		return fmt.Errorf("cannot rename to INBOX: %w", store.ErrProtected)
	}
	if strings.HasPrefix(newName, oldName+store.Delimiter) {
		return fmt.Errorf("%w: cannot rename %q into itself", store.ErrInvalid, oldName)
	}
	return s.write(ctx, func(tx *txn) error {
		src, err := tx.mailbox(accountID, oldName)
		if err != nil {
			return err
		}
		if _, err := tx.mailbox(accountID, newName); err == nil {
			return fmt.Errorf("mailbox %q: %w", newName, store.ErrExists)
		}
		for _, parent := range store.ParentNames(newName) {
			if _, err := tx.mailbox(accountID, parent); err != nil {
				if _, err := tx.createMailbox(accountID, parent, ""); err != nil {
					return err
				}
			}
		}
		if oldName == "INBOX" {
			// RFC 3501 6.3.5: INBOX's messages move to the new mailbox and
			// INBOX stays, empty; its children are not renamed.
			dst, err := tx.createMailbox(accountID, newName, "")
			if err != nil {
				return err
			}
			// Its annotations are copied and stay on INBOX too (RFC 5464
			// 4.1).
			if err := tx.exec(`INSERT INTO mailbox_metadata (mailbox_id, owner_id, name, value)
				SELECT ?, owner_id, name, value FROM mailbox_metadata WHERE mailbox_id = ?`, dst.ID, src.ID); err != nil {
				return err
			}
			uids, err := tx.allUIDs(src.ID)
			if err != nil {
				return err
			}
			_, err = tx.move(src, uids, dst, store.KeepAll)
			return err
		}
		type renamed struct {
			id        int64
			old, name string
		}
		var list []renamed
		if err := tx.query("SELECT id, name FROM mailboxes WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)", func(st *sqlite.Stmt) error {
			old := st.ColumnText(1)
			list = append(list, renamed{st.ColumnInt64(0), old, newName + old[len(oldName):]})
			return nil
		}, accountID, oldName, prefixChars(oldName), oldName+store.Delimiter); err != nil {
			return err
		}
		// The mailbox and its children, one new modseq.
		modseq, err := tx.nextModSeq(accountID)
		if err != nil {
			return err
		}
		for _, r := range list {
			if err := tx.exec("UPDATE mailboxes SET name = ?, meta_modseq = ? WHERE id = ?", r.name, int64(modseq), r.id); err != nil {
				return err
			}
			if err := tx.exec("UPDATE OR REPLACE subscriptions SET name = ? WHERE account_id = ? AND name = ?", r.name, accountID, r.old); err != nil {
				return err
			}
			tx.publish(store.Event{Kind: store.EventMailboxRenamed, AccountID: accountID, MailboxID: r.id, Name: r.name, OldName: r.old})
		}
		tx.changed(accountID, src.ID, 0, changeMailboxes)
		return nil
	})
}

// prefixChars is the length of name+Delimiter as SQLite's substr counts
// it on text: in characters, not octets, which differ in a non-ASCII name.
func prefixChars(name string) int {
	return utf8.RuneCountInString(name) + 1
}

// DeleteMailbox implements store.Mailboxes.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	name, err := store.NormalizeMailboxName(name)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return fmt.Errorf("cannot delete INBOX: %w", store.ErrProtected)
	}
	return s.write(ctx, func(tx *txn) error {
		mb, err := tx.mailbox(accountID, name)
		if err != nil {
			return err
		}
		children := 0
		if err := tx.query("SELECT count(*) FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ?", func(st *sqlite.Stmt) error {
			children = st.ColumnInt(0)
			return nil
		}, accountID, prefixChars(name), name+store.Delimiter); err != nil {
			return err
		}
		if children > 0 {
			return fmt.Errorf("mailbox %q: %w", name, store.ErrHasChildren)
		}
		// Its messages vanish and it leaves a tombstone, under one new
		// modseq (AccountChanges).
		modseq, err := tx.nextModSeq(accountID)
		if err != nil {
			return err
		}
		if err := tx.dropMailboxContents(accountID, mb.ID, modseq); err != nil {
			return err
		}
		if err := tx.exec("DELETE FROM mailboxes WHERE id = ?", mb.ID); err != nil {
			return err
		}
		if err := tx.exec("INSERT INTO mailbox_tombstones (account_id, modseq, mailbox_id) VALUES (?, ?, ?)", accountID, int64(modseq), mb.ID); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventMailboxDeleted, AccountID: accountID, MailboxID: mb.ID, Name: name})
		tx.changed(accountID, mb.ID, 0, changeMailboxes)
		return nil
	})
}

// dropMailboxContents deletes every message of a mailbox and its expunge
// history, releasing bodies no other message uses. With a modseq, the
// messages are recorded as vanished under it (not when the account goes).
func (tx *txn) dropMailboxContents(accountID, mailboxID int64, modseq uint64) error {
	var contents []int64
	type gone struct{ msgid, thread int64 }
	var list []gone
	if err := tx.query("DELETE FROM messages WHERE mailbox_id = ? RETURNING content_id, size, msgid, thread_id", func(st *sqlite.Stmt) error {
		contents = append(contents, st.ColumnInt64(0))
		tx.addUsage(accountID, -st.ColumnInt64(1), -1)
		list = append(list, gone{st.ColumnInt64(2), st.ColumnInt64(3)})
		return nil
	}, mailboxID); err != nil {
		return err
	}
	if modseq != 0 {
		for _, g := range list {
			if err := tx.exec("INSERT OR IGNORE INTO vanished (account_id, modseq, msgid, thread_id) VALUES (?, ?, ?, ?)",
				accountID, int64(modseq), g.msgid, g.thread); err != nil {
				return err
			}
		}
	}
	for _, c := range contents {
		if err := tx.releaseContent(c); err != nil {
			return err
		}
	}
	return tx.exec("DELETE FROM expunged WHERE mailbox_id = ?", mailboxID)
}

// SetSubscribed implements store.Mailboxes. Subscriptions are names: IMAP
// lets a client subscribe to a name that does not exist (yet).
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	name, err := store.NormalizeMailboxName(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *txn) error {
		// The mailbox of that name, if there is one, shows the change
		// (AccountChanges).
		if _, err := tx.mailbox(accountID, name); err == nil {
			modseq, err := tx.nextModSeq(accountID)
			if err != nil {
				return err
			}
			if err := tx.exec("UPDATE mailboxes SET meta_modseq = ? WHERE account_id = ? AND name = ?", int64(modseq), accountID, name); err != nil {
				return err
			}
		}
		if subscribed {
			if err := tx.exec("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", accountID, name); err != nil {
				return err
			}
		} else if err := tx.exec("DELETE FROM subscriptions WHERE account_id = ? AND name = ?", accountID, name); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventMailboxSubscribed, AccountID: accountID, Name: name})
		tx.changed(accountID, 0, 0, changeMailboxes)
		return nil
	})
}

func execConn(conn *sqlite.Conn, query string, fn func(*sqlite.Stmt) error, args ...any) error {
	tx := txn{conn: conn}
	return tx.query(query, fn, args...)
}

// Subscriptions implements store.Mailboxes.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	var out []string
	err := s.query(ctx, "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", func(st *sqlite.Stmt) error {
		out = append(out, st.ColumnText(0))
		return nil
	}, accountID)
	return out, err
}
