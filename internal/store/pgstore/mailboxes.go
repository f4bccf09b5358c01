package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// The mailbox hierarchy follows sqlitestore/mailboxes.go. What SQLite gets
// from its single writer, here comes from write's SERIALIZABLE
// transactions: a check (does the name exist? has it children?) and the
// write it allows commit together or not at all, whichever node made them;
// a conflicting concurrent write is retried on top of the winner's result.
// The (account_id, name) unique key backs that up: two nodes creating the
// same name cannot both succeed.

var _ store.Mailboxes = (*Store)(nil)

const mailboxColumns = `m.id, m.account_id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,
	EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name), m.shared_seen,
	m.created_modseq, m.meta_modseq`

// mailboxScan holds one row of mailboxColumns as scanned; a query with
// columns of its own appends their destinations to dest().
type mailboxScan struct {
	mb                                           store.Mailbox
	use                                          string
	uidValidity, uidNext, modseq, created, metaM int64
}

func (m *mailboxScan) dest() []any {
	return []any{&m.mb.ID, &m.mb.AccountID, &m.mb.Name, &m.use, &m.uidValidity, &m.uidNext, &m.modseq, &m.mb.Subscribed, &m.mb.SharedSeen,
		&m.created, &m.metaM}
}

func (m *mailboxScan) mailbox() store.Mailbox {
	mb := m.mb
	mb.SpecialUse, mb.UIDValidity, mb.UIDNext, mb.HighestModSeq = store.SpecialUse(m.use), uint32(m.uidValidity), uint32(m.uidNext), uint64(m.modseq)
	mb.CreatedModSeq, mb.MetaModSeq = uint64(m.created), uint64(m.metaM)
	return mb
}

func scanMailbox(row pgx.CollectableRow) (store.Mailbox, error) {
	var m mailboxScan
	err := row.Scan(m.dest()...)
	return m.mailbox(), err
}

// querier is what reads need of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// mailboxWhere reads the one mailbox the condition selects (ErrNotFound,
// naming what, if none).
func mailboxWhere(ctx context.Context, q querier, what, cond string, args ...any) (store.Mailbox, error) {
	rows, _ := q.Query(ctx, "SELECT "+mailboxColumns+" FROM mailboxes m WHERE "+cond, args...)
	mb, err := pgx.CollectExactlyOneRow(rows, scanMailbox)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Mailbox{}, fmt.Errorf("mailbox %s: %w", what, store.ErrNotFound)
	}
	return mb, err
}

// mailbox looks a mailbox up by its (normalized) name inside a write.
func (tx *txn) mailbox(accountID int64, name string) (store.Mailbox, error) {
	return mailboxWhere(tx.ctx, tx, fmt.Sprintf("%q", name), "m.account_id = $1 AND m.name = $2", accountID, name)
}

// MailboxList implements store.Mailboxes.
func (s *Store) MailboxList(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.account_id = $1 ORDER BY m.name", accountID)
	out, err := pgx.CollectRows(rows, scanMailbox)
	if err != nil {
		return nil, fmt.Errorf("store: mailbox list: %w", err)
	}
	return out, nil
}

// Mailbox implements store.Mailboxes.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error) {
	name, err := store.NormalizeMailboxName(name)
	if err != nil {
		return store.Mailbox{}, err
	}
	mb, err := mailboxWhere(ctx, s.pool, fmt.Sprintf("%q", name), "m.account_id = $1 AND m.name = $2", accountID, name)
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("store: %w", err)
	}
	return mb, nil
}

// MailboxStatus implements store.Mailboxes. The mailbox row and the counts
// are read by one statement, so from one snapshot.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxStatus, error) {
	return s.mailboxStatus(ctx, mailboxID, 0)
}

// mailboxStatus is MailboxStatus as reader sees it (ReaderStatus): where
// reader's \Seen is private (decided in the statement, from the row it
// reads), Unseen counts the messages it has no private_seen row for.
func (s *Store) mailboxStatus(ctx context.Context, mailboxID, reader int64) (store.MailboxStatus, error) {
	var st store.MailboxStatus
	unseen, args := "c.unseen", []any{mailboxID, int64(store.FlagSeen), int64(store.FlagDeleted)}
	if reader != 0 {
		// A private_seen row exists only with its message (written where
		// the message is, removed with it): what the reader has not seen
		// is the rest, counted from the reader index.
		unseen = `CASE WHEN $4 <> m.account_id AND NOT m.shared_seen
			THEN c.n - (SELECT count(*) FROM private_seen p WHERE p.account_id = $4 AND p.mailbox_id = m.id)
			ELSE c.unseen END`
		args = append(args, reader)
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+mailboxColumns+`, c.n, `+unseen+`, c.deleted, c.size FROM mailboxes m,
		LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE flags & $2 = 0) AS unseen,
			count(*) FILTER (WHERE flags & $3 <> 0) AS deleted, coalesce(sum(size), 0)::bigint AS size
			FROM messages WHERE mailbox_id = m.id) c
		WHERE m.id = $1`, args...)
	st, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (store.MailboxStatus, error) {
		var st store.MailboxStatus
		var m mailboxScan
		var n, unseen, deleted int64
		err := row.Scan(append(m.dest(), &n, &unseen, &deleted, &st.Size)...)
		st.Mailbox = m.mailbox()
		st.Messages, st.Unseen, st.Deleted = int(n), int(unseen), int(deleted)
		return st, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("store: mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("store: mailbox status: %w", err)
	}
	return st, nil
}

func validSpecialUse(use store.SpecialUse) bool {
	switch use {
	case "", store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk,
		store.SpecialArchive, store.SpecialAll, store.SpecialFlagged:
		return true
	}
	return false
}

// createParents creates the missing parent levels of name.
func (tx *txn) createParents(accountID int64, name string) error {
	for _, parent := range store.ParentNames(name) {
		_, err := tx.mailbox(accountID, parent)
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.createMailbox(accountID, parent, ""); err != nil {
			return err
		}
	}
	return nil
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
	// Under the account's row lock at READ COMMITTED (writeAccount), not
	// SERIALIZABLE: a new mailbox takes a modseq from the account's
	// counter, which every delivery to the account updates, and a
	// serializable transaction updating that row after a delivery
	// committed fails, again and again while mail arrives. The account
	// lock orders the mailbox writes of an account, so the name checks
	// stay sound.
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		if _, err := tx.mailbox(accountID, name); err == nil {
			return fmt.Errorf("mailbox %q: %w", name, store.ErrExists)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.createParents(accountID, name); err != nil {
			return err
		}
		mb, err = tx.createMailbox(accountID, name, use)
		return err
	})
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("store: create mailbox: %w", err)
	}
	return mb, nil
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
	// Under the account's lock, as CreateMailbox is, and for its reason.
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		src, err := tx.mailbox(accountID, oldName)
		if err != nil {
			return err
		}
		if _, err := tx.mailbox(accountID, newName); err == nil {
			return fmt.Errorf("mailbox %q: %w", newName, store.ErrExists)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.createParents(accountID, newName); err != nil {
			return err
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
			if _, err := tx.exec(`INSERT INTO mailbox_metadata (mailbox_id, owner_id, name, value)
				SELECT $1, owner_id, name, value FROM mailbox_metadata WHERE mailbox_id = $2`, dst.ID, src.ID); err != nil {
				return err
			}
			return tx.moveAll(src, dst)
		}
		// starts_with, not left(name, n): PostgreSQL counts characters
		// where Go's len counts octets of UTF-8.
		rows, _ := tx.Query(ctx, "SELECT id, name FROM mailboxes WHERE account_id = $1 AND (name = $2 OR starts_with(name, $3)) ORDER BY name",
			accountID, oldName, oldName+store.Delimiter)
		type renamed struct {
			id        int64
			old, name string
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (renamed, error) {
			var r renamed
			err := row.Scan(&r.id, &r.old)
			r.name = newName + r.old[len(oldName):]
			return r, err
		})
		if err != nil {
			return err
		}
		// The mailbox and its children, one new modseq.
		modseq, err := tx.nextModSeq(accountID)
		if err != nil {
			return err
		}
		for _, r := range list {
			if _, err := tx.exec("UPDATE mailboxes SET name = $1, meta_modseq = $3 WHERE id = $2", r.name, r.id, int64(modseq)); err != nil {
				return err
			}
			// The subscription follows the mailbox, replacing one the
			// new name may already have.
			if _, err := tx.exec(`INSERT INTO subscriptions (account_id, name) SELECT account_id, $3 FROM subscriptions
				WHERE account_id = $1 AND name = $2 ON CONFLICT DO NOTHING`, accountID, r.old, r.name); err != nil {
				return err
			}
			if _, err := tx.exec("DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", accountID, r.old); err != nil {
				return err
			}
			tx.publish(store.Event{Kind: store.EventMailboxRenamed, AccountID: accountID, MailboxID: r.id, Name: r.name, OldName: r.old})
		}
		return tx.changed(accountID, src.ID, 0, changeMailboxes)
	})
	if err != nil {
		return fmt.Errorf("store: rename mailbox: %w", err)
	}
	return nil
}

// moveAll moves every message of src into dst, a mailbox just created
// (UIDNEXT 1, HIGHESTMODSEQ 1), keeping their IDs: what renaming INBOX
// does. It gives the same result, and publishes the same events, as
// sqlitestore's message-by-message move, in a few statements: src's
// removal takes the account's next modseq r (its expunge history and the
// vanished records), then the n messages get UIDs 1…n in their old order
// and modseqs r+1…r+n, and the bodies keep their reference counts (each
// moves with its message).
func (tx *txn) moveAll(src, dst store.Mailbox) error {
	var n int64
	if err := tx.QueryRow(tx.ctx, "SELECT count(*) FROM messages WHERE mailbox_id = $1", src.ID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	var top, prev int64
	if err := tx.QueryRow(tx.ctx, "UPDATE accounts SET modseq = modseq + 1 + $2 WHERE id = $1 RETURNING modseq", src.AccountID, n).Scan(&top); err != nil {
		return err
	}
	modseq := top - n
	if err := tx.QueryRow(tx.ctx, `UPDATE mailboxes m SET highestmodseq = $2 FROM (SELECT highestmodseq FROM mailboxes WHERE id = $1) o
		WHERE m.id = $1 RETURNING o.highestmodseq`, src.ID, modseq).Scan(&prev); err != nil {
		return err
	}
	tx.notePrev(src.ID, uint64(prev))
	tx.notePrev(dst.ID, dst.HighestModSeq)
	if _, err := tx.exec(`INSERT INTO vanished (account_id, modseq, msgid, thread_id) SELECT $1, $2, msgid, thread_id FROM messages WHERE mailbox_id = $3
		ON CONFLICT DO NOTHING`, src.AccountID, modseq, src.ID); err != nil {
		return err
	}
	rows, err := tx.Query(tx.ctx, `INSERT INTO messages (mailbox_id, uid, msgid, content_id, modseq, flags, keywords, internal_date, size, prefix, thread_id)
		SELECT $2, n, msgid, content_id, $3 + n, flags, keywords, internal_date, size, prefix, thread_id
		FROM (SELECT *, row_number() OVER (ORDER BY uid) AS n FROM messages WHERE mailbox_id = $1) m
		RETURNING `+metaColumns, src.ID, dst.ID, modseq)
	if err != nil {
		return err
	}
	moved, err := scanMetas(rows, store.KeywordInterner{}, nil)
	if err != nil {
		return err
	}
	// RETURNING gives no order.
	slices.SortFunc(moved, func(a, b store.MessageMeta) int { return int(a.UID) - int(b.UID) })
	for _, m := range moved {
		tx.addUsage(dst.AccountID, m.Size, 1)
		tx.addUsage(src.AccountID, -m.Size, -1)
	}
	if _, err := tx.exec("UPDATE mailboxes SET uidnext = $2 + 1, highestmodseq = $3 WHERE id = $1", dst.ID, len(moved), top); err != nil {
		return err
	}
	if _, err := tx.exec(`INSERT INTO expunged (mailbox_id, uid, modseq) SELECT mailbox_id, uid, $2 FROM messages WHERE mailbox_id = $1
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`, src.ID, modseq); err != nil {
		return err
	}
	// Everyone's own \Seen of them stays behind and goes, as in a move.
	if _, err := tx.exec("DELETE FROM private_seen WHERE mailbox_id = $1", src.ID); err != nil {
		return err
	}
	rows, _ = tx.Query(tx.ctx, "DELETE FROM messages WHERE mailbox_id = $1 RETURNING uid", src.ID)
	gone64, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	slices.Sort(gone64)
	gone := make([]uint32, len(gone64))
	for i, u := range gone64 {
		gone[i] = uint32(u)
	}
	for _, m := range moved {
		tx.publish(store.Event{Kind: store.EventMessageAdded, AccountID: dst.AccountID, MailboxID: dst.ID, ModSeq: m.ModSeq, Message: m})
	}
	tx.publish(store.Event{Kind: store.EventExpunged, AccountID: src.AccountID, MailboxID: src.ID, ModSeq: uint64(modseq), UIDs: gone})
	// SQLite logs one row per message moved; one per mailbox, at its
	// highest modseq, tells another node the same: re-read both.
	if err := tx.changed(dst.AccountID, dst.ID, uint64(top), changeMessages); err != nil {
		return err
	}
	return tx.changed(src.AccountID, src.ID, uint64(modseq), changeMessages)
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
	// Under the account's lock, as CreateMailbox is, and for its reason.
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		mb, err := tx.mailbox(accountID, name)
		if err != nil {
			return err
		}
		// A child created by another node concurrently makes this
		// transaction fail to serialize; its retry sees the child.
		if ok, err := tx.exists("SELECT 1 FROM mailboxes WHERE account_id = $1 AND starts_with(name, $2) LIMIT 1",
			accountID, name+store.Delimiter); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("mailbox %q: %w", name, store.ErrHasChildren)
		}
		// Its messages vanish and it leaves a tombstone, under one new
		// modseq (AccountChanges): its row locked before the account's,
		// in the order message writes take them.
		if _, err := tx.lockMailbox(mb.ID); err != nil {
			return err
		}
		modseq, err := tx.nextModSeq(accountID)
		if err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO vanished (account_id, modseq, msgid, thread_id) SELECT $1, $2, msgid, thread_id FROM messages WHERE mailbox_id = $3
			ON CONFLICT DO NOTHING`, accountID, int64(modseq), mb.ID); err != nil {
			return err
		}
		if err := tx.dropMailboxContents(accountID, mb.ID); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM mailboxes WHERE id = $1", mb.ID); err != nil {
			return err
		}
		if _, err := tx.exec("INSERT INTO mailbox_tombstones (account_id, modseq, mailbox_id) VALUES ($1, $2, $3)", accountID, int64(modseq), mb.ID); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventMailboxDeleted, AccountID: accountID, MailboxID: mb.ID, Name: name})
		return tx.changed(accountID, mb.ID, 0, changeMailboxes)
	})
	if err != nil {
		return fmt.Errorf("store: delete mailbox: %w", err)
	}
	return nil
}

// dropMailboxContents deletes every message of a mailbox and its expunge
// history, releasing bodies no other message uses.
func (tx *txn) dropMailboxContents(accountID, mailboxID int64) error {
	return tx.dropMessages(accountID, "mailbox_id = $1", mailboxID)
}

// SetSubscribed implements store.Mailboxes. Subscriptions are names: IMAP
// lets a client subscribe to a name that does not exist (yet).
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	name, err := store.NormalizeMailboxName(name)
	if err != nil {
		return err
	}
	// READ COMMITTED, not SERIALIZABLE: a subscription is a name, checked
	// against nothing, and the account's counter is a hot row (every
	// delivery to the account updates it), which a SERIALIZABLE write
	// could fail to update over and over while mail arrives. The mailbox
	// row first, then the account's, as every write takes them.
	err = s.writeMessages(ctx, func(tx *txn) error {
		// The mailbox of that name, if there is one, shows the change
		// (AccountChanges).
		if ok, err := tx.exists("SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2 FOR NO KEY UPDATE", accountID, name); err != nil {
			return err
		} else if ok {
			modseq, err := tx.nextModSeq(accountID)
			if err != nil {
				return err
			}
			if _, err := tx.exec("UPDATE mailboxes SET meta_modseq = $3 WHERE account_id = $1 AND name = $2", accountID, name, int64(modseq)); err != nil {
				return err
			}
		}
		if subscribed {
			if _, err := tx.exec("INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", accountID, name); err != nil {
				return err
			}
		} else if _, err := tx.exec("DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", accountID, name); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventMailboxSubscribed, AccountID: accountID, Name: name})
		return tx.changed(accountID, 0, 0, changeMailboxes)
	})
	if err != nil {
		return fmt.Errorf("store: subscribe: %w", err)
	}
	return nil
}

// Subscriptions implements store.Mailboxes.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	rows, _ := s.pool.Query(ctx, "SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name", accountID)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	return out, nil
}
