package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// Indexing off the delivery's path. FTS5's trigram insert is the costliest
// part of a delivery by far (imaptest stress: a third of the throughput),
// and it ran in the writer that every other change waits for. So a
// delivery now writes its message's text to content_text_pending, a plain
// table (one B-tree insert, in the same transaction as the message), and
// its content_indexed row; the indexer moves pending text into content_text
// and content_grams a batch at a time, shortly after. That is cheaper as a
// whole: one FTS5 segment per batch instead of per message, and mail
// expunged before the indexer gets to it (a client that deletes what it
// just fetched, a filter moving to Trash and emptying it) is never
// tokenized, nor tokenized again to be deleted.
//
// Removing a content is the same story the other way: FTS5 tokenizes a
// row again to delete it, so an expunge only unlinks the entry (its
// content_indexed row) and lists it in content_text_dead; the indexer
// deletes it later. An unlinked entry matches no message (every lookup
// joins the mailbox's messages, and content ids are never reused).
//
// The indexer works when the writer is idle, so that a busy server's
// deliveries and flag changes do not wait for it, or when its backlog
// grows past indexBacklog / deadBacklog, so that it keeps up with a
// server that is never idle.
//
// Searches see no difference: SearchText answers pending contents by
// scanning their text, which is folded exactly as the index's is, so every
// delivered message is found at once (read-your-writes), without reading
// it. The move is one transaction, so a search sees a content either
// pending or indexed, never neither or both; a crash leaves the text
// pending, and the next start indexes it.

const (
	// indexDelay lets a burst of deliveries gather before the indexer
	// runs, and mail deleted at once go without ever being indexed.
	indexDelay = 200 * time.Millisecond
	// indexIdle: the indexer works while the writer has had nothing else
	// to do for this long, so that it does not slow the deliveries and
	// flag changes of a busy server, which it would on a small machine.
	indexIdle = 100 * time.Millisecond
	// indexBacklog is how much text may wait for an idle moment: beyond
	// it the indexer works whether or not the writer is busy, so that a
	// server that is never idle keeps up, and searches never scan more
	// than about this much pending text.
	indexBacklog = 32 << 20
	// deadBacklog is the same for index entries of removed contents:
	// they match nothing, but take space and slow lookups.
	deadBacklog = 20000
	// deadBatch bounds the entries one batch deletes (each is tokenized
	// again).
	deadBatch = 256
	// indexBatchRows and indexBatchBytes bound one move, and so how long
	// the writer is held by the indexer at a time.
	indexBatchRows  = 256
	indexBatchBytes = 1 << 20
	// indexPoll is how often an idle indexer looks (a read) for text that
	// another process (an import, an admin command) left pending.
	indexPoll = 30 * time.Second
)

// textSize is the bytes a document adds to the backlog.
func textSize(d *store.TextDoc) int {
	return len(d.Header) + len(d.Body)
}

// stageText writes a new content's text to be indexed, its header fields
// (content_fields, searched by scanning: no indexing to wait for) and its
// content_indexed row: what the entry covers is known now.
func (tx *txn) stageText(contentID int64, d *store.TextDoc, grams string) error {
	if err := tx.exec("INSERT INTO content_text_pending (content_id, hdr, body, grams) VALUES (?, ?, ?, ?)", contentID, d.Header, d.Body, grams); err != nil {
		return err
	}
	if err := tx.insertFields(contentID, d); err != nil {
		return err
	}
	return tx.exec("INSERT INTO content_indexed (content_id, full_body, text_format, grams) VALUES (?, ?, ?, 1)", contentID, d.BodyComplete, store.TextFormat)
}

// kickIndexer tells the indexer that there is text to index.
func (s *Store) kickIndexer() {
	select {
	case s.textKick <- struct{}{}:
	default: // already told
	}
}

// textIndexer moves pending text into the index, and deletes the entries
// of removed contents, until the store closes.
func (s *Store) textIndexer(ctx context.Context) {
	defer s.wg.Done()
	poll := time.NewTicker(indexPoll)
	defer poll.Stop()
	delay := time.NewTimer(0)
	<-delay.C
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.textKick:
		case <-poll.C:
			// A read, not a write: an idle server's writer stays idle.
			if !s.textWaiting(ctx) {
				continue
			}
		}
		delay.Reset(indexDelay)
		select {
		case <-ctx.Done():
			delay.Stop()
			return
		case <-delay.C:
		}
		for {
			if wait := s.indexWait(); wait > 0 {
				delay.Reset(wait)
				select {
				case <-ctx.Done():
					delay.Stop()
					return
				case <-delay.C:
				}
				continue
			}
			more, err := s.indexPending(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("full-text index: indexing new mail failed; it is searched without the index meanwhile", "err", err)
				}
				break
			}
			if !more {
				break
			}
		}
	}
}

// textWaiting reports whether there is pending text or a dead entry to
// delete (false when the store cannot tell: the next poll asks again).
func (s *Store) textWaiting(ctx context.Context) bool {
	waiting := false
	s.read(ctx, func(conn *sqlite.Conn) error {
		return execConn(conn, `SELECT EXISTS (SELECT 1 FROM content_text_pending) OR EXISTS (SELECT 1 FROM content_text_dead)`, func(st *sqlite.Stmt) error {
			waiting = st.ColumnInt(0) != 0
			return nil
		})
	})
	return waiting
}

// indexWait says how long the indexer should wait before its next batch:
// zero when the writer is idle or the backlog is too large to wait.
func (s *Store) indexWait() time.Duration {
	if s.pendingBytes.Load() >= indexBacklog || s.deadText.Load() >= deadBacklog {
		return 0
	}
	busy := time.Duration(time.Now().UnixNano() - s.lastWrite.Load())
	if busy >= indexIdle {
		return 0
	}
	return indexIdle - busy
}

// indexPending deletes one batch of the index entries of removed contents
// and moves one batch of pending text into the index, and reports whether
// more of either is left. The move acknowledges nothing, so it commits
// lazily: a power loss can only undo it, leaving the text pending.
func (s *Store) indexPending(ctx context.Context) (more bool, err error) {
	var moved, deleted int64
	err = s.queueWrite(ctx, &writeReq{lazy: true, background: true, fn: func(tx *txn) error {
		more, moved, deleted = false, 0, 0
		var dead []int64
		if err := tx.query("SELECT content_id FROM content_text_dead ORDER BY content_id LIMIT ?", func(st *sqlite.Stmt) error {
			dead = append(dead, st.ColumnInt64(0))
			return nil
		}, deadBatch+1); err != nil {
			return err
		}
		if len(dead) > deadBatch {
			more, dead = true, dead[:deadBatch]
		}
		if len(dead) > 0 {
			lo, hi := dead[0], dead[len(dead)-1]
			for _, q := range []string{
				"DELETE FROM content_text WHERE rowid IN (SELECT content_id FROM content_text_dead WHERE content_id BETWEEN ?1 AND ?2)",
				"DELETE FROM content_grams WHERE rowid IN (SELECT content_id FROM content_text_dead WHERE content_id BETWEEN ?1 AND ?2)",
				"DELETE FROM content_text_dead WHERE content_id BETWEEN ?1 AND ?2",
			} {
				if err := tx.exec(q, lo, hi); err != nil {
					return err
				}
			}
			deleted = int64(len(dead))
		}
		var first, last int64
		rows, size := 0, int64(0)
		if err := tx.query(`SELECT content_id, octet_length(hdr) + octet_length(body)
			FROM content_text_pending ORDER BY content_id LIMIT ?`, func(st *sqlite.Stmt) error {
			if rows > 0 && (rows == indexBatchRows || size >= indexBatchBytes) {
				more = true
				return nil
			}
			if rows == 0 {
				first = st.ColumnInt64(0)
			}
			last = st.ColumnInt64(0)
			rows++
			size += st.ColumnInt64(1)
			return nil
		}, indexBatchRows+1); err != nil {
			return err
		}
		if rows == 0 {
			return nil
		}
		// The ids are the first pending ones in order, so the range holds
		// exactly them among the pending. A content_text row left under a
		// reused id (none should be: deleteText removes it with the
		// content) must not fail the batch.
		for _, q := range []string{
			"DELETE FROM content_text WHERE rowid IN (SELECT content_id FROM content_text_pending WHERE content_id BETWEEN ?1 AND ?2)",
			`INSERT INTO content_text (rowid, hdr, body)
				SELECT content_id, hdr, body FROM content_text_pending
				WHERE content_id BETWEEN ?1 AND ?2`,
			// No row for a content without CJK text: nothing to look up.
			`INSERT INTO content_grams (rowid, grams) SELECT content_id, grams FROM content_text_pending
				WHERE content_id BETWEEN ?1 AND ?2 AND grams != ''`,
			"DELETE FROM content_text_pending WHERE content_id BETWEEN ?1 AND ?2",
		} {
			if err := tx.exec(q, first, last); err != nil {
				return err
			}
		}
		moved = size
		return nil
	}})
	if err != nil {
		return false, fmt.Errorf("store: index pending text: %w", storageFull(err))
	}
	// The counts are estimates (text expunged while pending is never
	// subtracted): a run that found no more resets them.
	if s.pendingBytes.Add(-moved) < 0 || !more {
		s.pendingBytes.Store(0)
	}
	if s.deadText.Add(-deleted) < 0 || !more {
		s.deadText.Store(0)
	}
	return more, nil
}

// FlushText implements store.TextIndexer: the pending text, all of it,
// now, whether or not the writer is busy.
func (s *Store) FlushText(ctx context.Context) error {
	for {
		more, err := s.indexPending(ctx)
		if err != nil || !more {
			return err
		}
	}
}
