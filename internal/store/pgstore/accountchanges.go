package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

var _ store.AccountChanges = (*Store)(nil)

func accountState(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, accountID int64) (store.AccountState, error) {
	var modseq, next int64
	err := q.QueryRow(ctx, "SELECT modseq, next_msgid FROM accounts WHERE id = $1", accountID).Scan(&modseq, &next)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AccountState{}, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return store.AccountState{ModSeq: uint64(modseq), NextMessageID: next}, err
}

// AccountState implements store.AccountChanges. The counter is updated
// under the account's row lock held to each writer's commit (nextModSeq),
// so every commit with a modseq up to the value read is visible already.
func (s *Store) AccountState(ctx context.Context, accountID int64) (store.AccountState, error) {
	st, err := accountState(ctx, s.pool, accountID)
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

// MessageChangesSince implements store.AccountChanges, from one REPEATABLE
// READ snapshot: each mailbox's part is a range scan of messages_modseq,
// the vanished records one of their primary key.
func (s *Store) MessageChangesSince(ctx context.Context, accountID int64, since uint64, afterID int64, limit int) (store.MessageChanges, error) {
	var out store.MessageChanges
	if limit <= 0 {
		return out, fmt.Errorf("store: message changes: %w: limit %d", store.ErrInvalid, limit)
	}
	err := s.readSnapshot(ctx, func(tx pgx.Tx) (err error) {
		out = store.MessageChanges{}
		if out.State, err = accountState(ctx, tx, accountID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT m.uid, m.flags, m.modseq, m.msgid, m.content_id, m.size, m.internal_date, m.keywords, m.thread_id, m.mailbox_id, false AS gone
			FROM mailboxes b JOIN messages m ON m.mailbox_id = b.id
			WHERE b.account_id = $1 AND m.modseq >= $2 AND (m.modseq > $2 OR m.msgid > $3)
			UNION ALL
			SELECT 0, 0, modseq, msgid, 0, 0, 0, '', thread_id, 0, true FROM vanished
			WHERE account_id = $1 AND modseq >= $2 AND (modseq > $2 OR msgid > $3)
			ORDER BY 3, 4, 11 DESC LIMIT $4`, accountID, int64(since), afterKey(afterID), limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		ki := store.KeywordInterner{}
		for rows.Next() {
			if len(out.Changes) == limit {
				out.More = true
				break
			}
			var uid, flags, modseq int64
			var kw string
			var c store.MessageChange
			m := &c.Meta
			if err := rows.Scan(&uid, &flags, &modseq, &m.ID, &m.ContentID, &m.Size, &m.InternalDate, &kw, &m.ThreadID, &c.MailboxID, &c.Vanished); err != nil {
				return err
			}
			m.UID, m.Flags, m.ModSeq, m.Keywords = uint32(uid), store.Flags(flags), uint64(modseq), ki.Split(kw)
			out.Changes = append(out.Changes, c)
		}
		return rows.Err()
	})
	if err != nil {
		return store.MessageChanges{}, fmt.Errorf("store: message changes since %d: %w", since, err)
	}
	return out, nil
}

// MailboxChangesSince implements store.AccountChanges, from one REPEATABLE
// READ snapshot.
func (s *Store) MailboxChangesSince(ctx context.Context, accountID int64, since uint64) (store.MailboxChanges, error) {
	var out store.MailboxChanges
	err := s.readSnapshot(ctx, func(tx pgx.Tx) (err error) {
		out = store.MailboxChanges{}
		if out.State, err = accountState(ctx, tx, accountID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "SELECT "+mailboxColumns+` FROM mailboxes m
			WHERE m.account_id = $1 AND (m.highestmodseq > $2 OR m.created_modseq > $2 OR m.meta_modseq > $2) ORDER BY m.id`, accountID, int64(since))
		if out.Changed, err = pgx.CollectRows(rows, scanMailbox); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, "SELECT DISTINCT mailbox_id FROM mailbox_tombstones WHERE account_id = $1 AND modseq > $2 ORDER BY mailbox_id", accountID, int64(since))
		out.Deleted, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return store.MailboxChanges{}, fmt.Errorf("store: mailbox changes since %d: %w", since, err)
	}
	return out, nil
}
