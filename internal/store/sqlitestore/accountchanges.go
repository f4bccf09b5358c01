package sqlitestore

import (
	"context"
	"fmt"
	"math"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.AccountChanges = (*Store)(nil)

// snapshot runs fn in one read transaction: what it reads is one state.
func (s *Store) snapshot(ctx context.Context, fn func(conn *sqlite.Conn) error) error {
	return s.read(ctx, func(conn *sqlite.Conn) error {
		if err := execConn(conn, "BEGIN", nil); err != nil {
			return err
		}
		defer execConn(conn, "COMMIT", nil)
		return fn(conn)
	})
}

func accountState(conn *sqlite.Conn, accountID int64) (store.AccountState, error) {
	var st store.AccountState
	found := false
	err := execConn(conn, "SELECT modseq, next_msgid FROM accounts WHERE id = ?", func(stmt *sqlite.Stmt) error {
		st, found = store.AccountState{ModSeq: uint64(stmt.ColumnInt64(0)), NextMessageID: stmt.ColumnInt64(1)}, true
		return nil
	}, accountID)
	if err == nil && !found {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return st, err
}

// AccountState implements store.AccountChanges.
func (s *Store) AccountState(ctx context.Context, accountID int64) (store.AccountState, error) {
	var st store.AccountState
	err := s.read(ctx, func(conn *sqlite.Conn) (err error) {
		st, err = accountState(conn, accountID)
		return err
	})
	if err != nil {
		return store.AccountState{}, fmt.Errorf("store: account state: %w", err)
	}
	return st, nil
}

// afterKey is the message ID after which changes at modseq since are
// returned: none unless the caller resumes a page inside one modseq.
func afterKey(afterID int64) int64 {
	if afterID <= 0 {
		return math.MaxInt64
	}
	return afterID
}

// MessageChangesSince implements store.AccountChanges. Each mailbox's part
// is a range scan of messages_modseq, the vanished records one of their
// primary key; the merge is sorted here, so the cost grows with the
// changes since, not with the account.
func (s *Store) MessageChangesSince(ctx context.Context, accountID int64, since uint64, afterID int64, limit int) (store.MessageChanges, error) {
	var out store.MessageChanges
	if limit <= 0 {
		return out, fmt.Errorf("store: message changes: %w: limit %d", store.ErrInvalid, limit)
	}
	err := s.snapshot(ctx, func(conn *sqlite.Conn) (err error) {
		out = store.MessageChanges{}
		if out.State, err = accountState(conn, accountID); err != nil {
			return err
		}
		ki := store.KeywordInterner{}
		return execConn(conn, `SELECT m.uid, m.flags, m.modseq, m.msgid, m.content_id, m.size, m.internal_date, m.keywords, m.thread_id, m.mailbox_id, 0 AS gone
			FROM mailboxes b JOIN messages m ON m.mailbox_id = b.id
			WHERE b.account_id = ?1 AND m.modseq >= ?2 AND (m.modseq > ?2 OR m.msgid > ?3)
			UNION ALL
			SELECT 0, 0, modseq, msgid, 0, 0, 0, '', thread_id, 0, 1 FROM vanished
			WHERE account_id = ?1 AND modseq >= ?2 AND (modseq > ?2 OR msgid > ?3)
			ORDER BY 3, 4, 11 DESC LIMIT ?4`, func(st *sqlite.Stmt) error {
			if len(out.Changes) == limit {
				out.More = true
				return nil
			}
			c := store.MessageChange{MailboxID: st.ColumnInt64(9), Vanished: st.ColumnBool(10)}
			if c.Vanished {
				c.Meta = store.MessageMeta{ModSeq: uint64(st.ColumnInt64(2)), ID: st.ColumnInt64(3), ThreadID: st.ColumnInt64(8)}
			} else {
				c.Meta = scanMeta(st, ki)
			}
			out.Changes = append(out.Changes, c)
			return nil
		}, accountID, int64(since), afterKey(afterID), limit+1)
	})
	if err != nil {
		return store.MessageChanges{}, fmt.Errorf("store: message changes since %d: %w", since, err)
	}
	return out, nil
}

// MailboxChangesSince implements store.AccountChanges.
func (s *Store) MailboxChangesSince(ctx context.Context, accountID int64, since uint64) (store.MailboxChanges, error) {
	var out store.MailboxChanges
	err := s.snapshot(ctx, func(conn *sqlite.Conn) (err error) {
		out = store.MailboxChanges{}
		if out.State, err = accountState(conn, accountID); err != nil {
			return err
		}
		if err := execConn(conn, "SELECT "+mailboxColumns+` FROM mailboxes m
			WHERE m.account_id = ?1 AND (m.highestmodseq > ?2 OR m.created_modseq > ?2 OR m.meta_modseq > ?2) ORDER BY m.id`, func(st *sqlite.Stmt) error {
			out.Changed = append(out.Changed, scanMailbox(st))
			return nil
		}, accountID, int64(since)); err != nil {
			return err
		}
		return execConn(conn, "SELECT DISTINCT mailbox_id FROM mailbox_tombstones WHERE account_id = ? AND modseq > ? ORDER BY mailbox_id", func(st *sqlite.Stmt) error {
			out.Deleted = append(out.Deleted, st.ColumnInt64(0))
			return nil
		}, accountID, int64(since))
	})
	if err != nil {
		return store.MailboxChanges{}, fmt.Errorf("store: mailbox changes since %d: %w", since, err)
	}
	return out, nil
}
