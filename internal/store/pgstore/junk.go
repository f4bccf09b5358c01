package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// The junk filter's models (store.JunkStore), following
// sqlitestore/junk.go. A batch of hashes or UIDs goes to PostgreSQL as
// one bigint array (unnest, = ANY), so reading or training a message's
// few hundred tokens is one statement over the (account_id, hash) key.
//
// Across nodes: a training is a SERIALIZABLE write (see write), so two
// nodes training the same model at once cannot lose an update to its
// counts or its clock; the one that fails to serialize is retried on top
// of the other's result. What a message was trained as (junk_trained)
// changes in the same transaction as the counts.

var _ store.JunkStore = (*Store)(nil)

// readSnapshot runs fn in a read-only REPEATABLE READ transaction: every
// statement sees one snapshot.
func (s *Store) readSnapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Read only: ending it by rollback or commit is the same.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return fn(tx)
}

// junkModelHead reads a model's counts; a model never trained is empty.
func junkModelHead(ctx context.Context, tx pgx.Tx, accountID int64) (store.JunkModel, error) {
	m := store.JunkModel{AccountID: accountID}
	var spam, ham, tokens int64
	err := tx.QueryRow(ctx, "SELECT spam, ham, tokens FROM junk_models WHERE account_id = $1", accountID).Scan(&spam, &ham, &tokens)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, nil
	}
	m.Spam, m.Ham, m.Tokens = int(spam), int(ham), int(tokens)
	return m, err
}

// scanCounts adds the rows (hash, spam, ham) to counts.
func scanCounts(rows pgx.Rows, counts map[uint64]store.JunkCount) error {
	var h, spam, ham int64
	_, err := pgx.ForEachRow(rows, []any{&h, &spam, &ham}, func() error {
		counts[uint64(h)] = store.JunkCount{Spam: int32(spam), Ham: int32(ham)}
		return nil
	})
	return err
}

// JunkModels implements store.JunkStore: per model, its counts and one
// index lookup of the requested hashes, all from one snapshot.
func (s *Store) JunkModels(ctx context.Context, accountIDs []int64, hashes []uint64) ([]store.JunkModel, error) {
	keys := store.SortedKeys(hashes)
	out := make([]store.JunkModel, len(accountIDs))
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		for i, id := range accountIDs {
			m, err := junkModelHead(ctx, tx, id)
			if err != nil {
				return err
			}
			m.Counts = map[uint64]store.JunkCount{}
			if m.Tokens > 0 && len(keys) > 0 {
				rows, _ := tx.Query(ctx, "SELECT hash, spam, ham FROM junk_tokens WHERE account_id = $1 AND hash = ANY($2)", id, keys)
				if err := scanCounts(rows, m.Counts); err != nil {
					return err
				}
			}
			out[i] = m
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read junk models: %w", err)
	}
	return out, nil
}

// LoadJunkModel implements store.JunkStore: one range scan of the
// model's part of the primary key.
func (s *Store) LoadJunkModel(ctx context.Context, accountID int64) (store.JunkModel, error) {
	var m store.JunkModel
	err := s.readSnapshot(ctx, func(tx pgx.Tx) (err error) {
		if m, err = junkModelHead(ctx, tx, accountID); err != nil {
			return err
		}
		m.Counts = make(map[uint64]store.JunkCount, m.Tokens)
		rows, _ := tx.Query(ctx, "SELECT hash, spam, ham FROM junk_tokens WHERE account_id = $1", accountID)
		return scanCounts(rows, m.Counts)
	})
	if err != nil {
		return store.JunkModel{}, fmt.Errorf("store: load junk model: %w", err)
	}
	return m, nil
}

// TrainJunk implements store.JunkStore.
func (s *Store) TrainJunk(ctx context.Context, ts []store.JunkTraining) ([]store.JunkClass, error) {
	if err := store.CheckJunkTrainings(ts); err != nil {
		return nil, fmt.Errorf("store: train junk: %w", err)
	}
	prev := make([]store.JunkClass, len(ts))
	err := s.write(ctx, func(tx *txn) error {
		for i, t := range ts {
			p, err := tx.trainJunk(t)
			if err != nil {
				return err
			}
			prev[i] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: train junk: %w", err)
	}
	return prev, nil
}

func (tx *txn) trainJunk(t store.JunkTraining) (store.JunkClass, error) {
	if t.AccountID != store.JunkBaseModel {
		if err := tx.accountExists(t.AccountID); err != nil {
			return 0, err
		}
	}
	prev := store.JunkUntrained
	if t.ContentID != 0 {
		var class int64
		err := tx.QueryRow(tx.ctx, "SELECT class FROM junk_trained WHERE content_id = $1 AND account_id = $2", t.ContentID, t.AccountID).Scan(&class)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return 0, err
		}
		if prev = store.JunkClass(class); prev == t.As {
			return prev, nil
		}
	}
	dSpam, dHam := store.JunkDelta(prev, t.As)
	keys := store.SortedKeys(t.Hashes)
	var clock int64
	if err := tx.QueryRow(tx.ctx, `INSERT INTO junk_models AS j (account_id, clock) VALUES ($1, 1)
		ON CONFLICT (account_id) DO UPDATE SET clock = j.clock + 1 RETURNING clock`, t.AccountID).Scan(&clock); err != nil {
		return 0, err
	}
	var added, removed int64
	if len(keys) > 0 && (dSpam > 0 || dHam > 0) {
		// Count the new tokens first: the model's token count is what
		// pruning checks, without a scan.
		if err := tx.QueryRow(tx.ctx, `SELECT count(*) FROM unnest($2::bigint[]) h(v)
			WHERE NOT EXISTS (SELECT 1 FROM junk_tokens WHERE account_id = $1 AND hash = h.v)`, t.AccountID, keys).Scan(&added); err != nil {
			return 0, err
		}
		if _, err := tx.exec(`INSERT INTO junk_tokens AS j (account_id, hash, spam, ham, stamp)
			SELECT $1, v, greatest($2::bigint, 0), greatest($3::bigint, 0), $4 FROM unnest($5::bigint[]) h(v)
			ON CONFLICT (account_id, hash) DO UPDATE SET spam = greatest(j.spam + $2, 0), ham = greatest(j.ham + $3, 0), stamp = $4`,
			t.AccountID, dSpam, dHam, clock, keys); err != nil {
			return 0, err
		}
	} else if len(keys) > 0 {
		if _, err := tx.exec(`UPDATE junk_tokens SET spam = greatest(spam + $2, 0), ham = greatest(ham + $3, 0)
			WHERE account_id = $1 AND hash = ANY($4)`, t.AccountID, dSpam, dHam, keys); err != nil {
			return 0, err
		}
	}
	if len(keys) > 0 && (dSpam < 0 || dHam < 0) {
		// Unlearning leaves tokens no message counts any more: drop them.
		tag, err := tx.exec(`DELETE FROM junk_tokens WHERE account_id = $1 AND spam = 0 AND ham = 0 AND hash = ANY($2)`, t.AccountID, keys)
		if err != nil {
			return 0, err
		}
		removed = tag.RowsAffected()
	}
	if _, err := tx.exec(`UPDATE junk_models SET spam = greatest(spam + $2, 0), ham = greatest(ham + $3, 0), tokens = greatest(tokens + $4, 0)
		WHERE account_id = $1`, t.AccountID, dSpam, dHam, added-removed); err != nil {
		return 0, err
	}
	if t.ContentID == 0 {
		return prev, nil
	}
	if t.As == store.JunkUntrained {
		_, err := tx.exec("DELETE FROM junk_trained WHERE content_id = $1 AND account_id = $2", t.ContentID, t.AccountID)
		return prev, err
	}
	_, err := tx.exec(`INSERT INTO junk_trained (content_id, account_id, class) VALUES ($1, $2, $3)
		ON CONFLICT (content_id, account_id) DO UPDATE SET class = excluded.class`, t.ContentID, t.AccountID, int64(t.As))
	return prev, err
}

// PruneJunk implements store.JunkStore. The check is a read; only a model
// over its bound costs a write, which sorts the model's tokens once.
func (s *Store) PruneJunk(ctx context.Context, accountID int64, maxTokens int) (int, error) {
	if maxTokens <= 0 {
		return 0, fmt.Errorf("store: prune junk: %w: max tokens %d", store.ErrInvalid, maxTokens)
	}
	var tokens int64
	err := s.pool.QueryRow(ctx, "SELECT tokens FROM junk_models WHERE account_id = $1", accountID).Scan(&tokens)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("store: prune junk: %w", err)
	}
	if tokens <= int64(maxTokens) {
		return 0, nil
	}
	dropped := 0
	err = s.write(ctx, func(tx *txn) error {
		dropped = 0 // a retried attempt starts over
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM junk_tokens WHERE account_id = $1", accountID).Scan(&n); err != nil {
			return err
		}
		keep := maxTokens - maxTokens/20
		if n > maxTokens {
			// Least useful first: tokens seen in the fewest messages (most
			// are seen once and never again), the longest untrained among
			// them.
			tag, err := tx.exec(`DELETE FROM junk_tokens WHERE account_id = $1 AND hash IN
				(SELECT hash FROM junk_tokens WHERE account_id = $1 ORDER BY spam + ham, stamp, hash LIMIT $2)`, accountID, n-keep)
			if err != nil {
				return err
			}
			dropped = int(tag.RowsAffected())
		}
		_, err := tx.exec("UPDATE junk_models SET tokens = $1 WHERE account_id = $2", n-dropped, accountID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune junk: %w", err)
	}
	return dropped, nil
}

// JunkMessages implements store.JunkStore: the mailbox and its messages
// among uids, with what each was trained as, from one snapshot.
func (s *Store) JunkMessages(ctx context.Context, mailboxID int64, uids []uint32) (store.Mailbox, []store.JunkMessage, error) {
	var mb store.Mailbox
	var out []store.JunkMessage
	err := s.readSnapshot(ctx, func(tx pgx.Tx) (err error) {
		if mb, err = mailboxWhere(ctx, tx, fmt.Sprint(mailboxID), "m.id = $1", mailboxID); err != nil {
			return err
		}
		if len(uids) == 0 {
			return nil
		}
		list := make([]int64, len(uids))
		for i, u := range uids {
			list[i] = int64(u)
		}
		rows, _ := tx.Query(ctx, `SELECT uid, flags, modseq, msgid, content_id, size, internal_date, keywords, thread_id,
			coalesce((SELECT class FROM junk_trained j WHERE j.content_id = m.content_id AND j.account_id = $1), 0)
			FROM messages m WHERE mailbox_id = $2 AND uid = ANY($3) ORDER BY uid`, mb.AccountID, mailboxID, list)
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.JunkMessage, error) {
			var m store.JunkMessage
			var uid, flags, modseq, class int64
			var keywords string
			err := row.Scan(&uid, &flags, &modseq, &m.ID, &m.ContentID, &m.Size, &m.InternalDate, &keywords, &m.ThreadID, &class)
			m.UID, m.Flags, m.ModSeq, m.Trained = uint32(uid), store.Flags(flags), uint64(modseq), store.JunkClass(class)
			if keywords != "" {
				m.Keywords = strings.Fields(keywords)
			}
			return m, err
		})
		return err
	})
	if err != nil {
		return store.Mailbox{}, nil, fmt.Errorf("store: junk messages: %w", err)
	}
	return mb, out, nil
}
