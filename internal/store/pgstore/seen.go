package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Per-user \Seen in shared mailboxes (store.PrivateSeen): the
// private_seen table of migration 12, as sqlitestore/seen.go. The writes
// that decide where \Seen goes do so on the mailbox row they lock, so a
// concurrent SetSharedSeen (which locks it too) comes wholly before or
// after them.

var _ store.PrivateSeen = (*Store)(nil)

// privateSeenOf returns which of uids accountID has seen, inside a write.
func (tx *txn) privateSeenOf(mailboxID, accountID int64, uids []int64) (map[uint32]bool, error) {
	rows, _ := tx.Query(tx.ctx, "SELECT uid FROM private_seen WHERE mailbox_id = $1 AND account_id = $2 AND uid = ANY($3)", mailboxID, accountID, uids)
	seen, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]bool, len(seen))
	for _, u := range seen {
		out[uint32(u)] = true
	}
	return out, nil
}

// setPrivateSeen records (seen) or removes accountID's \Seen of uids.
func (tx *txn) setPrivateSeen(mailboxID, accountID int64, uids []int64, seen bool) error {
	if len(uids) == 0 {
		return nil
	}
	var err error
	if seen {
		_, err = tx.exec(`INSERT INTO private_seen (mailbox_id, account_id, uid) SELECT $1, $2, unnest($3::bigint[])
			ON CONFLICT DO NOTHING`, mailboxID, accountID, uids)
	} else {
		_, err = tx.exec("DELETE FROM private_seen WHERE mailbox_id = $1 AND account_id = $2 AND uid = ANY($3)", mailboxID, accountID, uids)
	}
	return err
}

// PrivateSeen implements store.PrivateSeen: one statement, so the UIDs and
// the modseq come from one snapshot.
func (s *Store) PrivateSeen(ctx context.Context, mailboxID, accountID int64, from, to uint32) (store.SeenSet, error) {
	var modseq int64
	var uids []int64
	err := s.pool.QueryRow(ctx, `SELECT m.highestmodseq, coalesce((SELECT array_agg(p.uid ORDER BY p.uid) FROM private_seen p
		WHERE p.account_id = $2 AND p.mailbox_id = m.id AND p.uid BETWEEN $3 AND $4), '{}')
		FROM mailboxes m WHERE m.id = $1`, mailboxID, accountID, int64(from), int64(to)).Scan(&modseq, &uids)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.SeenSet{}, fmt.Errorf("store: private seen: mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return store.SeenSet{}, fmt.Errorf("store: private seen: %w", err)
	}
	set := store.SeenSet{ModSeq: uint64(modseq), UIDs: make([]uint32, len(uids))}
	for i, u := range uids {
		set.UIDs[i] = uint32(u)
	}
	return set, nil
}

// ReaderStatus implements store.PrivateSeen.
func (s *Store) ReaderStatus(ctx context.Context, mailboxID, accountID int64) (store.MailboxStatus, error) {
	return s.mailboxStatus(ctx, mailboxID, accountID)
}

// SetSharedSeen implements store.PrivateSeen, as sqlitestore: every
// message gets the new modseq in one statement, and this node's mailbox
// service learns of the switch from an EventMailboxChanged (other nodes
// from the change log row, as always).
func (s *Store) SetSharedSeen(ctx context.Context, mailboxID int64, shared bool) error {
	err := s.writeMessages(ctx, func(tx *txn) error {
		mb, err := tx.lockMailbox(mailboxID)
		if err != nil {
			return err
		}
		if mb.SharedSeen == shared {
			return nil
		}
		if _, err := tx.exec("UPDATE mailboxes SET shared_seen = $2 WHERE id = $1", mailboxID, shared); err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM private_seen WHERE mailbox_id = $1", mailboxID); err != nil {
			return err
		}
		modseq, err := tx.bumpModSeq(mailboxID)
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE messages SET modseq = $2 WHERE mailbox_id = $1", mailboxID, int64(modseq)); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE mailboxes SET meta_modseq = $2 WHERE id = $1", mailboxID, int64(modseq)); err != nil {
			return err
		}
		tx.publish(store.Event{Kind: store.EventMailboxChanged, AccountID: mb.AccountID, MailboxID: mailboxID, ModSeq: modseq})
		return tx.changed(mb.AccountID, mailboxID, modseq, changeMessages)
	})
	if err != nil {
		return fmt.Errorf("store: set shared seen: %w", err)
	}
	return nil
}
