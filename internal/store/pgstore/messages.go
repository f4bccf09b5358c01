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

// Message lists, flags, expunges, copies and moves: sqlitestore's
// messages.go on PostgreSQL. Writes lock the mailbox row first (see
// deliver.go), so that what they read of its messages stays true until
// they commit, whichever node writes next.

func joinKeywords(kw []string) string { return strings.Join(kw, " ") }

const metaColumns = "uid, flags, modseq, msgid, content_id, size, internal_date, keywords, thread_id"

// scanMetas reads rows of metaColumns.
func scanMetas(rows pgx.Rows, ki store.KeywordInterner, out []store.MessageMeta) ([]store.MessageMeta, error) {
	defer rows.Close()
	for rows.Next() {
		var uid, flags, modseq int64
		var kw string
		var m store.MessageMeta
		if err := rows.Scan(&uid, &flags, &modseq, &m.ID, &m.ContentID, &m.Size, &m.InternalDate, &kw, &m.ThreadID); err != nil {
			return nil, err
		}
		m.UID, m.Flags, m.ModSeq, m.Keywords = uint32(uid), store.Flags(flags), uint64(modseq), ki.Split(kw)
		out = append(out, m)
	}
	return out, rows.Err()
}

func listMessages(ctx context.Context, q querier, mailboxID int64, capHint int) ([]store.MessageMeta, error) {
	rows, err := q.Query(ctx, "SELECT "+metaColumns+" FROM messages WHERE mailbox_id = $1 ORDER BY uid", mailboxID)
	if err != nil {
		return nil, err
	}
	return scanMetas(rows, store.KeywordInterner{}, make([]store.MessageMeta, 0, min(capHint, 1<<16)))
}

// MessageList implements store.Messages: one range scan of the primary
// key (mailbox_id, uid).
func (s *Store) MessageList(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error) {
	out, err := listMessages(ctx, s.pool, mailboxID, 0)
	if err != nil {
		return nil, fmt.Errorf("store: message list: %w", err)
	}
	return out, nil
}

// LoadMailbox implements store.Messages: the record and the list from one
// REPEATABLE READ snapshot. The slice is sized from UIDNEXT (an upper
// bound, capped).
func (s *Store) LoadMailbox(ctx context.Context, mailboxID int64) (store.Mailbox, []store.MessageMeta, error) {
	var mb store.Mailbox
	var list []store.MessageMeta
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		if mb, err = mailboxWhere(ctx, tx, fmt.Sprint(mailboxID), "m.id = $1", mailboxID); err != nil {
			return err
		}
		list, err = listMessages(ctx, tx, mailboxID, int(mb.UIDNext))
		return err
	})
	if err != nil {
		return store.Mailbox{}, nil, fmt.Errorf("store: load mailbox: %w", err)
	}
	return mb, list, nil
}

// ChangesSince implements store.Messages, from one snapshot.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (store.Changes, error) {
	var ch store.Changes
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var highest int64
		err := tx.QueryRow(ctx, "SELECT highestmodseq, shared_seen FROM mailboxes WHERE id = $1", mailboxID).Scan(&highest, &ch.SharedSeen)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		ch.ModSeq = uint64(highest)
		rows, err := tx.Query(ctx, "SELECT "+metaColumns+" FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid", mailboxID, int64(modseq))
		if err != nil {
			return err
		}
		if ch.Changed, err = scanMetas(rows, store.KeywordInterner{}, nil); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid", mailboxID, int64(modseq))
		vanished, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		for _, u := range vanished {
			ch.Vanished = append(ch.Vanished, uint32(u))
		}
		return err
	})
	if err != nil {
		return store.Changes{}, fmt.Errorf("store: changes since %d: %w", modseq, err)
	}
	return ch, nil
}

// lockMailbox locks a mailbox row until the commit (see deliver.go) and
// returns its record.
func (tx *txn) lockMailbox(mailboxID int64) (store.Mailbox, error) {
	return mailboxWhere(tx.ctx, tx, fmt.Sprint(mailboxID), "m.id = $1 FOR UPDATE OF m", mailboxID)
}

// messages reads the rows of uids in a mailbox, in UID order.
func (tx *txn) messages(mailboxID int64, uids []int64) ([]store.MessageMeta, error) {
	rows, err := tx.Query(tx.ctx, "SELECT "+metaColumns+" FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid", mailboxID, uids)
	if err != nil {
		return nil, err
	}
	return scanMetas(rows, nil, nil)
}

// bumpModSeq gives a locked mailbox a new highest modseq, its account's
// next (see nextModSeq), and returns it. One statement: the account's row
// is locked after the mailbox's, in the order every write takes them.
func (tx *txn) bumpModSeq(mailboxID int64) (uint64, error) {
	var modseq, prev int64
	err := tx.QueryRow(tx.ctx, `WITH a AS (
			UPDATE accounts SET modseq = modseq + 1 WHERE id = (SELECT account_id FROM mailboxes WHERE id = $1) RETURNING modseq),
		o AS (SELECT highestmodseq FROM mailboxes WHERE id = $1)
		UPDATE mailboxes m SET highestmodseq = a.modseq FROM a, o WHERE m.id = $1 RETURNING m.highestmodseq, o.highestmodseq`, mailboxID).Scan(&modseq, &prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	tx.notePrev(mailboxID, uint64(prev))
	return uint64(modseq), nil
}

// UpdateFlags implements store.Messages. All messages changed by one call
// share one new modseq (RFC 7162 allows it); a message whose flags end up
// unchanged keeps its modseq. Where upd.Account's \Seen is private, its
// \Seen is read from and written to private_seen (a change of it alone
// gives the message a new modseq too).
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, upd store.FlagUpdate) (store.FlagResult, error) {
	kw, err := store.NormalizeKeywords(upd.Keywords)
	if err != nil {
		return store.FlagResult{}, err
	}
	uids := store.SortedKeys(upd.UIDs)
	var res store.FlagResult
	err = s.writeMessages(ctx, func(tx *txn) error {
		res = store.FlagResult{}
		mb, err := tx.lockMailbox(mailboxID)
		if err != nil {
			return err
		}
		msgs, err := tx.messages(mailboxID, uids)
		if err != nil {
			return err
		}
		private := mb.PrivateSeenFor(upd.Account)
		var seenBefore map[uint32]bool
		if private {
			if seenBefore, err = tx.privateSeenOf(mailboxID, upd.Account, uids); err != nil {
				return err
			}
		}
		var modseq uint64
		var nowSeen, nowUnseen []int64 // private \Seen set and cleared
		for _, m := range msgs {
			if upd.UnchangedSince != 0 && m.ModSeq > upd.UnchangedSince {
				res.Modified = append(res.Modified, m.UID)
				continue
			}
			cur, seen := m.Flags, seenBefore[m.UID]
			if private {
				cur = store.WithSeen(m.Flags, seen)
			}
			flags, keywords := applyFlags(cur, m.Keywords, upd.Op, upd.Flags, kw)
			after := seen
			if private {
				flags, after = store.SplitSeen(flags, m.Flags&store.FlagSeen != 0)
			}
			if flags == m.Flags && slices.Equal(keywords, m.Keywords) && after == seen {
				continue
			}
			if modseq == 0 {
				if modseq, err = tx.bumpModSeq(mailboxID); err != nil {
					return err
				}
			}
			if _, err := tx.exec("UPDATE messages SET flags = $1, keywords = $2, modseq = $3 WHERE mailbox_id = $4 AND uid = $5",
				int64(flags), joinKeywords(keywords), int64(modseq), mailboxID, int64(m.UID)); err != nil {
				return err
			}
			var change store.SeenChange
			if after != seen {
				change = store.SeenChange{Account: upd.Account, Seen: after}
				if after {
					nowSeen = append(nowSeen, int64(m.UID))
				} else {
					nowUnseen = append(nowUnseen, int64(m.UID))
				}
			}
			m.Flags, m.Keywords, m.ModSeq = flags, keywords, modseq
			tx.publish(store.Event{Kind: store.EventFlagsChanged, AccountID: mb.AccountID, MailboxID: mailboxID, ModSeq: modseq, Message: m, Seen: change})
			if private {
				m.Flags = store.WithSeen(m.Flags, after) // as the account sees it
			}
			res.Updated = append(res.Updated, m)
		}
		if err := tx.setPrivateSeen(mailboxID, upd.Account, nowSeen, true); err != nil {
			return err
		}
		if err := tx.setPrivateSeen(mailboxID, upd.Account, nowUnseen, false); err != nil {
			return err
		}
		if modseq != 0 {
			return tx.changed(mb.AccountID, mailboxID, modseq, changeMessages)
		}
		return nil
	})
	if err != nil {
		return store.FlagResult{}, fmt.Errorf("store: update flags: %w", err)
	}
	return res, nil
}

// applyFlags computes a message's new flags and keywords (as sqlitestore).
func applyFlags(flags store.Flags, keywords []string, op store.StoreOp, f store.Flags, kw []string) (store.Flags, []string) {
	switch op {
	case store.FlagsReplace:
		return f, kw
	case store.FlagsAdd:
		out := slices.Clone(keywords)
		for _, k := range kw {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, k) }) {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return flags | f, out
	default:
		out := slices.DeleteFunc(slices.Clone(keywords), func(o string) bool {
			return slices.ContainsFunc(kw, func(k string) bool { return strings.EqualFold(o, k) })
		})
		if len(out) == 0 {
			out = nil
		}
		return flags &^ f, out
	}
}

// Expunge implements store.Messages.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	u := store.SortedKeys(uids)
	var gone []uint32
	err := s.writeMessages(ctx, func(tx *txn) error {
		mb, err := tx.lockMailbox(mailboxID)
		if err != nil {
			return err
		}
		gone, err = tx.removeMessages(mb, u, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: expunge: %w", err)
	}
	return gone, nil
}

// removeMessages deletes messages from a locked mailbox, records them in
// the expunge history and the account's vanished records under one new
// modseq (or modseq, when the caller took it already: a move), and
// releases their bodies.
func (tx *txn) removeMessages(mb store.Mailbox, uids []int64, modseq uint64) ([]uint32, error) {
	rows, err := tx.Query(tx.ctx, "DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) RETURNING uid, content_id, size, msgid, thread_id", mb.ID, uids)
	if err != nil {
		return nil, err
	}
	type removed struct{ uid, content, size, msgid, thread int64 }
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (removed, error) {
		var r removed
		err := row.Scan(&r.uid, &r.content, &r.size, &r.msgid, &r.thread)
		return r, err
	})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	// Everyone's own \Seen of them goes with them.
	if _, err := tx.exec("DELETE FROM private_seen WHERE mailbox_id = $1 AND uid = ANY($2)", mb.ID, uids); err != nil {
		return nil, err
	}
	for _, r := range list {
		tx.addUsage(mb.AccountID, -r.size, -1)
	}
	slices.SortFunc(list, func(a, b removed) int { return int(a.uid - b.uid) })
	if modseq == 0 {
		if modseq, err = tx.bumpModSeq(mb.ID); err != nil {
			return nil, err
		}
	}
	gone := make([]uint32, len(list))
	gone64 := make([]int64, len(list))
	ids, threads := make([]int64, len(list)), make([]int64, len(list))
	for i, r := range list {
		gone[i], gone64[i] = uint32(r.uid), r.uid
		ids[i], threads[i] = r.msgid, r.thread
	}
	if _, err := tx.exec(`INSERT INTO vanished (account_id, modseq, msgid, thread_id) SELECT $1, $2, i, t FROM unnest($3::bigint[], $4::bigint[]) AS v(i, t)
		ON CONFLICT DO NOTHING`, mb.AccountID, int64(modseq), ids, threads); err != nil {
		return nil, err
	}
	if _, err := tx.exec(`INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) u
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`, mb.ID, gone64, int64(modseq)); err != nil {
		return nil, err
	}
	contents := make([]int64, len(list))
	for i, r := range list {
		contents[i] = r.content
	}
	if err := tx.releaseContents(contents); err != nil {
		return nil, err
	}
	tx.publish(store.Event{Kind: store.EventExpunged, AccountID: mb.AccountID, MailboxID: mb.ID, ModSeq: modseq, UIDs: gone})
	return gone, tx.changed(mb.AccountID, mb.ID, modseq, changeMessages)
}

// Copy implements store.Messages.
func (s *Store) Copy(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64, keep store.Keep) (store.CopyResult, error) {
	return s.copyOrMove(ctx, srcMailboxID, uids, dstMailboxID, false, keep)
}

// Move implements store.Messages.
func (s *Store) Move(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64, keep store.Keep) (store.CopyResult, error) {
	return s.copyOrMove(ctx, srcMailboxID, uids, dstMailboxID, true, keep)
}

func (s *Store) copyOrMove(ctx context.Context, srcID int64, uids []uint32, dstID int64, move bool, keep store.Keep) (store.CopyResult, error) {
	u := store.SortedKeys(uids)
	var res store.CopyResult
	err := s.writeMessages(ctx, func(tx *txn) error {
		// Both rows locked, the lower id first, so that a copy each way
		// between two mailboxes cannot deadlock. Into another account's
		// mailbox, insertMessage then locks that account's row: after
		// the mailboxes, in the order every write takes them.
		var src, dst store.Mailbox
		var err error
		for _, id := range []int64{min(srcID, dstID), max(srcID, dstID)} {
			mb, err := tx.lockMailbox(id)
			if err != nil {
				return err
			}
			if id == srcID {
				src = mb
			}
			if id == dstID {
				dst = mb
			}
		}
		if src.AccountID != dst.AccountID {
			// Both accounts' modseqs are taken: their rows in id order.
			if err := tx.lockAccounts([]int64{srcID, dstID}); err != nil {
				return err
			}
		}
		var removal uint64
		if res, removal, err = tx.transfer(src, u, dst, move, keep); err != nil || removal == 0 {
			return err
		}
		src64 := make([]int64, len(res.SourceUIDs))
		for i, x := range res.SourceUIDs {
			src64[i] = int64(x)
		}
		_, err = tx.removeMessages(src, src64, removal)
		return err
	})
	if err != nil {
		op := "copy"
		if move {
			op = "move"
		}
		return store.CopyResult{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return res, nil
}

// transfer inserts copies of messages of src into dst. A copy is a new
// message to POP3 and gets a new ID; a move within the account keeps it,
// so POP3 UIDLs survive it (the caller removes the source rows). Into
// another account's mailbox both get an ID and a conversation of that
// account, the conversation decided as a delivery's is. Either way the
// new row holds a reference to the body (a move's source row releases its
// own when removed). keep filters the flags and keywords the copies get;
// \Seen is as keep.Account sees the source, and its own where that is
// private in dst.
//
// For a move it returns the modseq src's removal is to take, given to src
// before the first copy (0 if no message was found), so that to
// AccountChanges a message moved within the account shows its vanished
// record first and its new row after it.
func (tx *txn) transfer(src store.Mailbox, uids []int64, dst store.Mailbox, move bool, keep store.Keep) (store.CopyResult, uint64, error) {
	res := store.CopyResult{UIDValidity: dst.UIDValidity}
	across := src.AccountID != dst.AccountID
	msgs, err := tx.messages(src.ID, uids)
	if err != nil {
		return res, 0, err
	}
	var srcSeen map[uint32]bool
	if src.PrivateSeenFor(keep.Account) {
		if srcSeen, err = tx.privateSeenOf(src.ID, keep.Account, uids); err != nil {
			return res, 0, err
		}
	}
	var removal uint64
	if move && len(msgs) > 0 {
		if removal, err = tx.bumpModSeq(src.ID); err != nil {
			return res, 0, err
		}
	}
	for _, m := range msgs {
		// The structure only when it is needed for the thread: it can be
		// large, and a copy within the account keeps the thread it has.
		var prefix, structure []byte
		if err := tx.QueryRow(tx.ctx, `SELECT m.prefix, CASE WHEN $3 THEN c.structure END FROM messages m JOIN contents c ON c.id = m.content_id
			WHERE m.mailbox_id = $1 AND m.uid = $2`, src.ID, int64(m.UID), across).Scan(&prefix, &structure); err != nil {
			return res, 0, err
		}
		srcUID, id := m.UID, int64(0)
		if move && !across {
			id = m.ID
		}
		var keys store.ThreadKeys
		if across {
			m.ThreadID = 0 // insertMessage decides it from keys
			if keys, err = store.StoredThreadKeys(m.ContentID, structure); err != nil {
				return res, 0, err
			}
		}
		if srcSeen != nil {
			m.Flags = store.WithSeen(m.Flags, srcSeen[m.UID])
		}
		keep.Apply(&m)
		seen := dst.PrivateSeenFor(keep.Account)
		if seen {
			m.Flags, seen = store.SplitSeen(m.Flags, false)
		}
		if _, err := tx.insertMessage(dst.ID, id, &m, prefix, keys, ownSeen(keep.Account, seen)); err != nil {
			return res, 0, err
		}
		if _, err := tx.exec("UPDATE contents SET refs = refs + 1 WHERE id = $1", m.ContentID); err != nil {
			return res, 0, err
		}
		res.SourceUIDs = append(res.SourceUIDs, srcUID)
		res.DestUIDs = append(res.DestUIDs, m.UID)
	}
	return res, removal, nil
}

// HideFromPOP3 implements store.Messages.
func (s *Store) HideFromPOP3(ctx context.Context, accountID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.writeMessages(ctx, func(tx *txn) error {
		_, err := tx.exec("INSERT INTO pop3_hidden (account_id, msgid) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING", accountID, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: hide from POP3: %w", err)
	}
	return nil
}

// HiddenFromPOP3 implements store.Messages.
func (s *Store) HiddenFromPOP3(ctx context.Context, accountID int64) (map[int64]bool, error) {
	rows, _ := s.pool.Query(ctx, "SELECT msgid FROM pop3_hidden WHERE account_id = $1", accountID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: hidden from POP3: %w", err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
