package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// Conversations (store.Threads; the rule is in internal/store/thread.go),
// as sqlitestore's threads.go. A delivery decides its thread inside
// insertMessage's one statement (deliver.go). thread_keys rows are only
// added while the account lives: the rows of expunged messages stay,
// harmlessly (see sqlitestore's threads.go); RethreadAccount rebuilds them.
//
// Concurrency: a delivery's thread lookup runs in a statement that starts
// once the delivery holds the account's row lock (insertMessage), and
// every delivery to the account takes that lock, so of two related
// messages delivered at once the second sees the first's keys
// (ThreadConcurrent in the conformance suite).

var _ store.Threads = (*Store)(nil)

// keyIDs is the keys' id hashes as a non-nil array parameter.
func keyIDs(k store.ThreadKeys) []int64 {
	if k.IDs == nil {
		return []int64{}
	}
	return k.IDs
}

// ThreadMessages implements store.Threads: one range of the (thread_id,
// mailbox_id) index per mailbox of the account.
func (s *Store) ThreadMessages(ctx context.Context, accountID, threadID int64) ([]store.ThreadMember, error) {
	rows, _ := s.pool.Query(ctx, `SELECT mailbox_id, uid, msgid FROM messages
		WHERE thread_id = $1 AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $2)
		ORDER BY msgid, mailbox_id, uid`, threadID, accountID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ThreadMember, error) {
		var m store.ThreadMember
		var uid int64
		err := row.Scan(&m.MailboxID, &uid, &m.ID)
		m.UID = uint32(uid)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: thread messages: %w", err)
	}
	return out, nil
}

// rethreadBatch is how many contents one transaction of RethreadAccount
// handles, their statements sent as one pipelined batch.
const rethreadBatch = 500

// rethreadOne decides one content's thread as insertMessage does ($4 is
// the first copy's ID, the new thread's id), records its keys and writes
// the thread to every copy ($5, $6: their mailboxes and UIDs).
const rethreadOne = `WITH th AS (
		SELECT coalesce((SELECT min(thread_id) FROM thread_keys WHERE account_id = $1 AND key = ANY($2::bigint[]) AND subject = $3), $4::bigint) AS thread_id),
	k AS (
		INSERT INTO thread_keys (account_id, key, thread_id, subject)
		SELECT $1, k, th.thread_id, $3 FROM th, unnest($2::bigint[]) k
		ON CONFLICT DO NOTHING)
	UPDATE messages m SET thread_id = th.thread_id FROM th, unnest($5::bigint[], $6::bigint[]) AS p(mb, uid)
	WHERE m.mailbox_id = p.mb AND m.uid = p.uid`

// RethreadAccount implements store.Threads: sqlitestore's, with each
// batch's statements pipelined (one round trip per batch, not per
// message). A message moved while it runs keeps its old thread id.
func (s *Store) RethreadAccount(ctx context.Context, accountID int64, progress func(done, total int)) (int, error) {
	rows, _ := s.pool.Query(ctx, `SELECT mailbox_id, uid, msgid, content_id FROM messages
		WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1)`, accountID)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.RethreadRow, error) {
		var r store.RethreadRow
		var uid int64
		err := row.Scan(&r.MailboxID, &uid, &r.ID, &r.ContentID)
		r.UID = uint32(uid)
		return r, err
	})
	if err != nil {
		return 0, fmt.Errorf("store: rethread: %w", err)
	}
	total := len(list)
	groups := store.RethreadGroups(list)
	if err := s.writeMessages(ctx, func(tx *txn) error {
		_, err := tx.exec("DELETE FROM thread_keys WHERE account_id = $1", accountID)
		return err
	}); err != nil {
		return 0, fmt.Errorf("store: rethread: %w", err)
	}
	done := 0
	for start := 0; start < len(groups); start += rethreadBatch {
		batch := groups[start:min(start+rethreadBatch, len(groups))]
		ids := make([]int64, len(batch))
		for i, g := range batch {
			ids[i] = g.ContentID
		}
		err := s.writeMessages(ctx, func(tx *txn) error {
			structures := make(map[int64][]byte, len(batch))
			rows, _ := tx.Query(tx.ctx, "SELECT id, structure FROM contents WHERE id = ANY($1)", ids)
			var id int64
			var b []byte
			if _, err := pgx.ForEachRow(rows, []any{&id, &b}, func() error {
				structures[id] = b
				return nil
			}); err != nil {
				return err
			}
			var pb pgx.Batch
			for _, g := range batch {
				var keys store.ThreadKeys
				var msg mime.Message
				if b := structures[g.ContentID]; b != nil && msg.UnmarshalBinary(b) == nil {
					keys = store.MessageThreadKeys(&msg)
				}
				keys = keys.OrContent(g.ContentID)
				mbs := make([]int64, len(g.Rows))
				uids := make([]int64, len(g.Rows))
				for i, r := range g.Rows {
					mbs[i], uids[i] = r.MailboxID, int64(r.UID)
				}
				pb.Queue(rethreadOne, accountID, keyIDs(keys), keys.Subject, g.Rows[0].ID, mbs, uids)
			}
			return tx.SendBatch(tx.ctx, &pb).Close()
		})
		if err != nil {
			return done, fmt.Errorf("store: rethread: %w", err)
		}
		for _, g := range batch {
			done += len(g.Rows)
		}
		if progress != nil {
			progress(done, total)
		}
	}
	return total, nil
}
