package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// Conversations (store.Threads; the rule is in internal/store/thread.go).
//
// thread_keys rows are only ever added while the account lives (and go
// with it): the rows of expunged messages stay. That is harmless: a stale
// row only ever sends a later message with the same id and subject into a
// thread id that was once that conversation's, which is what the user
// expects of a reply to a deleted message; and the rows are bounded by
// the ids ever delivered (at most ThreadRefsKept+2 per message).
// RethreadAccount rebuilds them from the messages present, which prunes.

var _ store.Threads = (*Store)(nil)

// assignThread decides the thread of a new message of the account whose
// ID is ownID and records its keys: the oldest thread that has one of its
// ids with the same subject, else a new thread, ownID. It costs one
// statement to read the ids' rows and, for the ids not yet in that
// thread (a reply's references mostly are), one to add them.
func (tx *txn) assignThread(accountID, ownID int64, keys store.ThreadKeys) (int64, error) {
	n := len(keys.IDs)
	if n == 0 {
		return ownID, nil
	}
	args := make([]any, 0, 1+n)
	args = append(args, accountID)
	for _, k := range keys.IDs {
		args = append(args, k)
	}
	type row struct{ key, thread int64 }
	var found []row
	thread := int64(0)
	// At most 12 ids, so at most 12 shapes of the statement in the
	// connection's cache.
	if err := tx.query("SELECT key, thread_id, subject FROM thread_keys WHERE account_id = ? AND key IN ("+
		strings.TrimSuffix(strings.Repeat("?,", n), ",")+")", func(st *sqlite.Stmt) error {
		r := row{st.ColumnInt64(0), st.ColumnInt64(1)}
		found = append(found, r)
		if st.ColumnInt64(2) == keys.Subject && (thread == 0 || r.thread < thread) {
			thread = r.thread
		}
		return nil
	}, args...); err != nil {
		return 0, err
	}
	if thread == 0 {
		thread = ownID
	}
	rows := make([]any, 0, 4*n)
	for _, k := range keys.IDs {
		if !slices.Contains(found, row{k, thread}) {
			rows = append(rows, accountID, k, thread, keys.Subject)
		}
	}
	if len(rows) == 0 {
		return thread, nil
	}
	if err := tx.exec("INSERT OR IGNORE INTO thread_keys (account_id, key, thread_id, subject) VALUES "+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", len(rows)/4), ","), rows...); err != nil {
		return 0, err
	}
	return thread, nil
}

const threadMessagesQuery = `SELECT mailbox_id, uid, msgid FROM messages
	WHERE thread_id = ? AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)
	ORDER BY msgid, mailbox_id, uid`

// ThreadMessages implements store.Threads: one seek of the
// (thread_id, mailbox_id) index per mailbox of the account.
func (s *Store) ThreadMessages(ctx context.Context, accountID, threadID int64) ([]store.ThreadMember, error) {
	var out []store.ThreadMember
	err := s.query(ctx, threadMessagesQuery, func(st *sqlite.Stmt) error {
		out = append(out, store.ThreadMember{MailboxID: st.ColumnInt64(0), UID: uint32(st.ColumnInt64(1)), ID: st.ColumnInt64(2)})
		return nil
	}, threadID, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: thread messages: %w", err)
	}
	return out, nil
}

// rethreadBatch is how many contents one write transaction of
// RethreadAccount handles: the writer is shared with deliveries, so one
// batch must not hold it long.
const rethreadBatch = 500

// RethreadAccount implements store.Threads. It reads the account's
// messages (their places, IDs and contents: 32 bytes each), then, in
// delivery order, one write transaction per batch of contents, decodes
// each content's stored structure, decides its thread as a delivery would
// and writes it to every message with that content. A message moved while
// it runs keeps its old thread id; one delivered while it runs gets its
// thread from the keys rebuilt so far.
func (s *Store) RethreadAccount(ctx context.Context, accountID int64, progress func(done, total int)) (int, error) {
	var rows []store.RethreadRow
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return execConn(conn, `SELECT m.mailbox_id, m.uid, m.msgid, m.content_id FROM messages m
			WHERE m.mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`, func(st *sqlite.Stmt) error {
			rows = append(rows, store.RethreadRow{MailboxID: st.ColumnInt64(0), UID: uint32(st.ColumnInt64(1)), ID: st.ColumnInt64(2), ContentID: st.ColumnInt64(3)})
			return nil
		}, accountID)
	})
	if err != nil {
		return 0, fmt.Errorf("store: rethread: %w", err)
	}
	groups := store.RethreadGroups(rows)
	if err := s.writeLazy(ctx, func(tx *txn) error {
		return tx.exec("DELETE FROM thread_keys WHERE account_id = ?", accountID)
	}); err != nil {
		return 0, fmt.Errorf("store: rethread: %w", err)
	}
	done := 0
	for start := 0; start < len(groups); start += rethreadBatch {
		batch := groups[start:min(start+rethreadBatch, len(groups))]
		err := s.write(ctx, func(tx *txn) error {
			for _, g := range batch {
				var structure []byte
				if err := tx.query("SELECT structure FROM contents WHERE id = ?", func(st *sqlite.Stmt) error {
					structure = columnBytes(st, 0)
					return nil
				}, g.ContentID); err != nil {
					return err
				}
				var keys store.ThreadKeys
				var msg mime.Message
				if structure != nil && msg.UnmarshalBinary(structure) == nil {
					keys = store.MessageThreadKeys(&msg)
				}
				keys = keys.OrContent(g.ContentID)
				thread, err := tx.assignThread(accountID, g.Rows[0].ID, keys)
				if err != nil {
					return err
				}
				for _, r := range g.Rows {
					if err := tx.exec("UPDATE messages SET thread_id = ? WHERE mailbox_id = ? AND uid = ?", thread, r.MailboxID, int64(r.UID)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("store: rethread: %w", err)
		}
		for _, g := range batch {
			done += len(g.Rows)
		}
		if progress != nil {
			progress(done, len(rows))
		}
	}
	return len(rows), nil
}
