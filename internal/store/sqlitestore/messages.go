package sqlitestore

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

func joinKeywords(kw []string) string { return strings.Join(kw, " ") }

const metaColumns = "uid, flags, modseq, msgid, content_id, size, internal_date, keywords, thread_id"

func scanMeta(st *sqlite.Stmt, ki store.KeywordInterner) store.MessageMeta {
	return store.MessageMeta{
		UID:          uint32(st.ColumnInt64(0)),
		Flags:        store.Flags(st.ColumnInt64(1)),
		ModSeq:       uint64(st.ColumnInt64(2)),
		ID:           st.ColumnInt64(3),
		ContentID:    st.ColumnInt64(4),
		Size:         st.ColumnInt64(5),
		InternalDate: st.ColumnInt64(6),
		Keywords:     ki.Split(st.ColumnText(7)),
		ThreadID:     st.ColumnInt64(8),
	}
}

// MessageList implements store.Messages. It is one range scan of the
// clustered (mailbox_id, uid) key.
func (s *Store) MessageList(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error) {
	var out []store.MessageMeta
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		n := 0
		if err := execConn(conn, "SELECT count(*) FROM messages WHERE mailbox_id = ?", func(st *sqlite.Stmt) error {
			n = st.ColumnInt(0)
			return nil
		}, mailboxID); err != nil {
			return err
		}
		out = make([]store.MessageMeta, 0, n)
		ki := store.KeywordInterner{}
		return execConn(conn, "SELECT "+metaColumns+" FROM messages WHERE mailbox_id = ? ORDER BY uid", func(st *sqlite.Stmt) error {
			out = append(out, scanMeta(st, ki))
			return nil
		}, mailboxID)
	})
	return out, err
}

// LoadMailbox implements store.Messages. A large mailbox is read in
// UID ranges on several connections at once (the scan is CPU-bound in
// SQLite); the parts are one snapshot of the mailbox when each saw the same
// highest modseq, which every change of its messages bumps, and are read
// again in one piece otherwise. The slice is sized from UIDNEXT (an upper
// bound), capped so that a mailbox with few messages left of many does not
// allocate for them all.
func (s *Store) LoadMailbox(ctx context.Context, mailboxID int64) (store.Mailbox, []store.MessageMeta, error) {
	mb, err := s.mailboxByID(ctx, mailboxID)
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	parts := 1
	if mb.UIDNext > parallelLoadMin {
		parts = min(runtime.NumCPU(), 4, s.opts.ReadConns/2)
	}
	if parts > 1 {
		if mb, list, ok, err := s.loadParallel(ctx, mailboxID, mb, parts); err != nil || ok {
			return mb, list, err
		}
	}
	var out []store.MessageMeta
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		// One read transaction: the record and the list agree.
		if err := execConn(conn, "BEGIN", nil); err != nil {
			return err
		}
		defer execConn(conn, "COMMIT", nil)
		if mb, err = mailboxRow(conn, mailboxID); err != nil {
			return err
		}
		out, err = scanRange(conn, mailboxID, 0, 1<<32, min(int(mb.UIDNext), 1<<16))
		return err
	})
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	return mb, out, nil
}

// parallelLoadMin is the UIDNEXT from which LoadMailbox splits the scan.
const parallelLoadMin = 20_000

// loadParallel reads the mailbox in parts UID ranges at once. ok is false
// when the parts did not see one snapshot.
func (s *Store) loadParallel(ctx context.Context, mailboxID int64, mb store.Mailbox, parts int) (store.Mailbox, []store.MessageMeta, bool, error) {
	type result struct {
		mb   store.Mailbox
		list []store.MessageMeta
		err  error
	}
	results := make([]result, parts)
	step := (int64(mb.UIDNext) + int64(parts) - 1) / int64(parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := int64(i)*step, int64(i+1)*step
		if i == parts-1 {
			hi = 1 << 32
		}
		wg.Go(func() {
			results[i].err = s.read(ctx, func(conn *sqlite.Conn) error {
				if err := execConn(conn, "BEGIN", nil); err != nil {
					return err
				}
				defer execConn(conn, "COMMIT", nil)
				var err error
				if results[i].mb, err = mailboxRow(conn, mailboxID); err != nil {
					return err
				}
				results[i].list, err = scanRange(conn, mailboxID, lo, hi, int(step))
				return err
			})
		})
	}
	wg.Wait()
	n := 0
	for _, r := range results {
		if r.err != nil {
			return store.Mailbox{}, nil, false, r.err
		}
		if r.mb.HighestModSeq != results[0].mb.HighestModSeq {
			return store.Mailbox{}, nil, false, nil
		}
		n += len(r.list)
	}
	out := make([]store.MessageMeta, 0, n)
	for _, r := range results {
		out = append(out, r.list...)
	}
	// The last part saw the latest UIDNEXT (all saw the same modseq, so
	// the same UIDNEXT too).
	return results[parts-1].mb, out, true, nil
}

// mailboxRow reads one mailbox record on conn.
func mailboxRow(conn *sqlite.Conn, mailboxID int64) (store.Mailbox, error) {
	var mb store.Mailbox
	if err := execConn(conn, "SELECT "+mailboxColumns+" FROM mailboxes m WHERE m.id = ?", func(st *sqlite.Stmt) error {
		mb = scanMailbox(st)
		return nil
	}, mailboxID); err != nil {
		return mb, err
	}
	if mb.ID == 0 {
		return mb, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return mb, nil
}

// mailboxByID reads one mailbox record.
func (s *Store) mailboxByID(ctx context.Context, mailboxID int64) (store.Mailbox, error) {
	var mb store.Mailbox
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		var err error
		mb, err = mailboxRow(conn, mailboxID)
		return err
	})
	return mb, err
}

// scanRange reads the hot state of the messages with lo <= uid < hi.
func scanRange(conn *sqlite.Conn, mailboxID, lo, hi int64, capHint int) ([]store.MessageMeta, error) {
	out := make([]store.MessageMeta, 0, min(capHint, 1<<16))
	ki := store.KeywordInterner{}
	err := execConn(conn, "SELECT "+metaColumns+" FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid < ? ORDER BY uid", func(st *sqlite.Stmt) error {
		out = append(out, scanMeta(st, ki))
		return nil
	}, mailboxID, lo, hi)
	return out, err
}

// ChangesSince implements store.Messages.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (store.Changes, error) {
	var ch store.Changes
	err := s.read(ctx, func(conn *sqlite.Conn) (err error) {
		// One read transaction: the three queries see the same snapshot.
		if err := execConn(conn, "BEGIN", nil); err != nil {
			return err
		}
		defer execConn(conn, "COMMIT", nil)
		found := false
		if err := execConn(conn, "SELECT highestmodseq, shared_seen FROM mailboxes WHERE id = ?", func(st *sqlite.Stmt) error {
			ch.ModSeq, ch.SharedSeen, found = uint64(st.ColumnInt64(0)), st.ColumnBool(1), true
			return nil
		}, mailboxID); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		}
		ki := store.KeywordInterner{}
		if err := execConn(conn, "SELECT "+metaColumns+" FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", func(st *sqlite.Stmt) error {
			ch.Changed = append(ch.Changed, scanMeta(st, ki))
			return nil
		}, mailboxID, int64(modseq)); err != nil {
			return err
		}
		return execConn(conn, "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", func(st *sqlite.Stmt) error {
			ch.Vanished = append(ch.Vanished, uint32(st.ColumnInt64(0)))
			return nil
		}, mailboxID, int64(modseq))
	})
	return ch, err
}

// sortedUIDs returns uids sorted and without duplicates.
func sortedUIDs(uids []uint32) []uint32 {
	u := slices.Clone(uids)
	slices.Sort(u)
	return slices.Compact(u)
}

// message reads one message's row inside a write transaction.
func (tx *txn) message(mailboxID int64, uid uint32) (store.MessageMeta, bool, error) {
	var m store.MessageMeta
	found := false
	err := tx.query("SELECT "+metaColumns+" FROM messages WHERE mailbox_id = ? AND uid = ?", func(st *sqlite.Stmt) error {
		m, found = scanMeta(st, nil), true
		return nil
	}, mailboxID, int64(uid))
	return m, found, err
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
	uids := sortedUIDs(upd.UIDs)
	var res store.FlagResult
	err = s.writeLazy(ctx, func(tx *txn) error {
		res = store.FlagResult{}
		mb, err := tx.mailboxByID(mailboxID)
		if err != nil {
			return err
		}
		private := mb.PrivateSeenFor(upd.Account)
		var modseq uint64
		for _, uid := range uids {
			m, found, err := tx.message(mailboxID, uid)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			if upd.UnchangedSince != 0 && m.ModSeq > upd.UnchangedSince {
				res.Modified = append(res.Modified, uid)
				continue
			}
			cur, seen := m.Flags, false
			if private {
				if seen, err = tx.privateSeen(mailboxID, upd.Account, uid); err != nil {
					return err
				}
				cur = store.WithSeen(m.Flags, seen)
			}
			flags, keywords := applyFlags(cur, m.Keywords, upd.Op, upd.Flags, kw)
			nowSeen := seen
			if private {
				flags, nowSeen = store.SplitSeen(flags, m.Flags&store.FlagSeen != 0)
			}
			if flags == m.Flags && slices.Equal(keywords, m.Keywords) && nowSeen == seen {
				continue
			}
			if modseq == 0 {
				if modseq, err = tx.bumpModSeq(mailboxID); err != nil {
					return err
				}
			}
			if err := tx.exec("UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
				int64(flags), joinKeywords(keywords), int64(modseq), mailboxID, int64(uid)); err != nil {
				return err
			}
			var change store.SeenChange
			if nowSeen != seen {
				if err := tx.setPrivateSeen(mailboxID, upd.Account, uid, nowSeen); err != nil {
					return err
				}
				change = store.SeenChange{Account: upd.Account, Seen: nowSeen}
			}
			m.Flags, m.Keywords, m.ModSeq = flags, keywords, modseq
			tx.publish(store.Event{Kind: store.EventFlagsChanged, AccountID: mb.AccountID, MailboxID: mailboxID, ModSeq: modseq, Message: m, Seen: change})
			if private {
				m.Flags = store.WithSeen(m.Flags, nowSeen) // as the account sees it
			}
			res.Updated = append(res.Updated, m)
		}
		if modseq != 0 {
			tx.changed(mb.AccountID, mailboxID, modseq, changeMessages)
		}
		return nil
	})
	return res, err
}

// applyFlags computes a message's new flags and keywords.
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
	uids = sortedUIDs(uids)
	var gone []uint32
	err := s.writeLazy(ctx, func(tx *txn) error {
		gone = nil
		mb, err := tx.mailboxByID(mailboxID)
		if err != nil {
			return err
		}
		gone, err = tx.removeMessages(mb, uids, 0)
		return err
	})
	return gone, err
}

// removeMessages deletes messages from mb, records them in the expunge
// history and the account's vanished records under one new modseq (or
// modseq, when the caller took it already: a move), and releases their
// bodies.
func (tx *txn) removeMessages(mb store.Mailbox, uids []uint32, modseq uint64) ([]uint32, error) {
	var gone []uint32
	for _, uid := range uids {
		var contentID, size, msgid, thread int64
		found := false
		if err := tx.query("DELETE FROM messages WHERE mailbox_id = ? AND uid = ? RETURNING content_id, size, msgid, thread_id", func(st *sqlite.Stmt) error {
			contentID, size, found = st.ColumnInt64(0), st.ColumnInt64(1), true
			msgid, thread = st.ColumnInt64(2), st.ColumnInt64(3)
			return nil
		}, mb.ID, int64(uid)); err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		// Everyone's own \Seen of it goes with it.
		if err := tx.exec("DELETE FROM private_seen WHERE mailbox_id = ? AND uid = ?", mb.ID, int64(uid)); err != nil {
			return nil, err
		}
		tx.addUsage(mb.AccountID, -size, -1)
		if modseq == 0 {
			var err error
			if modseq, err = tx.bumpModSeq(mb.ID); err != nil {
				return nil, err
			}
		}
		if err := tx.exec("INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)", mb.ID, int64(uid), int64(modseq)); err != nil {
			return nil, err
		}
		if err := tx.exec("INSERT OR IGNORE INTO vanished (account_id, modseq, msgid, thread_id) VALUES (?, ?, ?, ?)",
			mb.AccountID, int64(modseq), msgid, thread); err != nil {
			return nil, err
		}
		if err := tx.releaseContent(contentID); err != nil {
			return nil, err
		}
		gone = append(gone, uid)
	}
	if len(gone) > 0 {
		tx.publish(store.Event{Kind: store.EventExpunged, AccountID: mb.AccountID, MailboxID: mb.ID, ModSeq: modseq, UIDs: gone})
		tx.changed(mb.AccountID, mb.ID, modseq, changeMessages)
	}
	return gone, nil
}

func (tx *txn) allUIDs(mailboxID int64) ([]uint32, error) {
	var uids []uint32
	err := tx.query("SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", func(st *sqlite.Stmt) error {
		uids = append(uids, uint32(st.ColumnInt64(0)))
		return nil
	}, mailboxID)
	return uids, err
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
	uids = sortedUIDs(uids)
	var res store.CopyResult
	err := s.writeLazy(ctx, func(tx *txn) error {
		src, err := tx.mailboxByID(srcID)
		if err != nil {
			return err
		}
		dst, err := tx.mailboxByID(dstID)
		if err != nil {
			return err
		}
		if move {
			res, err = tx.move(src, uids, dst, keep)
		} else {
			res, _, err = tx.transfer(src, uids, dst, false, keep)
		}
		return err
	})
	return res, err
}

// move moves messages of src into dst: copies, then the source rows
// removed. The removal's modseq is taken before the copies', so that to
// AccountChanges a message moved within the account shows its vanished
// record first and its new row after it.
func (tx *txn) move(src store.Mailbox, uids []uint32, dst store.Mailbox, keep store.Keep) (store.CopyResult, error) {
	res, modseq, err := tx.transfer(src, uids, dst, true, keep)
	if err != nil || modseq == 0 {
		return res, err
	}
	_, err = tx.removeMessages(src, res.SourceUIDs, modseq)
	return res, err
}

// transfer inserts copies of messages of src into dst. A copy is a new
// message to POP3 and gets a new ID; a move within the account keeps it,
// so POP3 UIDLs survive it (the caller removes the source rows). Into
// another account's mailbox both get an ID and a conversation of that
// account. Either way the new row holds a reference to the body (a
// move's source row releases its own when removed). The copies carry
// \Seen as keep.Account sees the source, into its own \Seen where that
// is private in dst.
//
// For a move it returns the modseq src's removal is to take, given to src
// before the first copy (0 if no message was found).
func (tx *txn) transfer(src store.Mailbox, uids []uint32, dst store.Mailbox, move bool, keep store.Keep) (store.CopyResult, uint64, error) {
	res := store.CopyResult{UIDValidity: dst.UIDValidity}
	across := src.AccountID != dst.AccountID
	var removal uint64
	for _, uid := range uids {
		m, found, err := tx.message(src.ID, uid)
		if err != nil {
			return res, 0, err
		}
		if !found {
			continue
		}
		if move && removal == 0 {
			if removal, err = tx.bumpModSeq(src.ID); err != nil {
				return res, 0, err
			}
		}
		var prefix, structure []byte
		if err := tx.query(`SELECT m.prefix, CASE WHEN ?3 THEN c.structure END FROM messages m JOIN contents c ON c.id = m.content_id
			WHERE m.mailbox_id = ?1 AND m.uid = ?2`, func(st *sqlite.Stmt) error {
			prefix, structure = columnBytes(st, 0), columnBytes(st, 1)
			return nil
		}, src.ID, int64(uid), across); err != nil {
			return res, 0, err
		}
		if !move || across {
			if m.ID, err = tx.allocMessageIDs(dst.AccountID, 1); err != nil {
				return res, 0, err
			}
		}
		if across {
			// A conversation of the destination account, decided as a
			// delivery's is.
			keys, err := store.StoredThreadKeys(m.ContentID, structure)
			if err != nil {
				return res, 0, err
			}
			if m.ThreadID, err = tx.assignThread(dst.AccountID, m.ID, keys); err != nil {
				return res, 0, err
			}
		}
		if src.PrivateSeenFor(keep.Account) {
			seen, err := tx.privateSeen(src.ID, keep.Account, uid)
			if err != nil {
				return res, 0, err
			}
			m.Flags = store.WithSeen(m.Flags, seen)
		}
		keep.Apply(&m)
		if err := tx.insertMessage(dst, &m, prefix, keep.Account); err != nil {
			return res, 0, err
		}
		if err := tx.exec("UPDATE contents SET refs = refs + 1 WHERE id = ?", m.ContentID); err != nil {
			return res, 0, err
		}
		res.SourceUIDs = append(res.SourceUIDs, uid)
		res.DestUIDs = append(res.DestUIDs, m.UID)
	}
	return res, removal, nil
}

// HideFromPOP3 implements store.Messages.
func (s *Store) HideFromPOP3(ctx context.Context, accountID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *txn) error {
		for _, id := range ids {
			if err := tx.exec("INSERT OR IGNORE INTO pop3_hidden (account_id, msgid) VALUES (?, ?)", accountID, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// HiddenFromPOP3 implements store.Messages.
func (s *Store) HiddenFromPOP3(ctx context.Context, accountID int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	err := s.query(ctx, "SELECT msgid FROM pop3_hidden WHERE account_id = ?", func(st *sqlite.Stmt) error {
		out[st.ColumnInt64(0)] = true
		return nil
	}, accountID)
	return out, err
}
