package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// Messages follow sqlitestore (deliver.go, messages.go, body.go): one
// contents row per stored body, shared by every copy and recipient (refs
// counts them), small bodies inline in that row, larger ones a blob in
// Blobs(); one messages row per copy, with its own header prefix.
//
// Concurrency across nodes. Every write that changes a mailbox's messages
// first updates (or locks) the mailbox row, and holds that lock until it
// commits: UIDs and modseqs are handed out one writer at a time, in commit
// order, and never twice, whichever node writes. With that lock these
// writes run at READ COMMITTED (writeMessages) rather than SERIALIZABLE:
// under SERIALIZABLE, every writer that waited for the lock would be
// aborted when it got it (the row changed since its snapshot) and retried,
// so concurrent deliveries into one mailbox would mostly fail over; at
// READ COMMITTED the waiting UPDATE continues on the row the other
// committed, and every later statement sees that writer's messages.

var _ store.Messages = (*Store)(nil)

// DefaultInlineMax is the default Options.InlineMax: sqlitestore's, so
// both backends store the same mail alike. An inline body costs no blob
// rows nor extra round trips and transactions, and most mail is smaller.
const DefaultInlineMax = 64 << 10

// writeMessages runs fn in a READ COMMITTED transaction, retried on
// deadlocks and serialization failures (see the comment at the top).
func (s *Store) writeMessages(ctx context.Context, fn func(tx *txn) error) error {
	return s.writeIso(ctx, pgx.ReadCommitted, fn)
}

// staged is a scanned body: in memory (small, stored inline at delivery)
// or a committed blob (ref).
type staged struct {
	s         *Store
	ref       string // "" when inline
	inline    []byte
	size      int64
	structure *mime.Message
	encoded   []byte

	mu        sync.Mutex
	text      *store.TextDoc // the index text, if the mailbox service gave it
	grams     string         // its short grams (textindex.go)
	contentID int64          // set once delivered; later deliveries share the row
	discarded bool
	keys      *store.ThreadKeys // computed on first delivery
}

// threadKeys returns the message's thread keys, computed once.
func (m *staged) threadKeys() store.ThreadKeys {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		k := store.MessageThreadKeys(m.structure)
		m.keys = &k
	}
	return *m.keys
}

func (m *staged) Size() int64              { return m.size }
func (m *staged) Structure() *mime.Message { return m.structure }

func (m *staged) delivered() (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.contentID, m.discarded
}

func (m *staged) setDelivered(contentID int64) { m.mu.Lock(); m.contentID = contentID; m.mu.Unlock() }

// Open implements store.Staged. store.Staged's Open takes no context; the
// blob is read with a background one, each ReadAt a short query.
func (m *staged) Open() (io.ReadCloser, error) {
	m.mu.Lock()
	discarded := m.discarded
	m.mu.Unlock()
	if discarded {
		return nil, fmt.Errorf("%w: staged message was discarded", store.ErrInvalid)
	}
	if m.ref == "" {
		return io.NopCloser(bytes.NewReader(m.inline)), nil
	}
	r, err := m.s.Blobs().Open(context.Background(), m.ref)
	if err != nil {
		return nil, fmt.Errorf("store: open staged message: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(r, 0, r.Size()), r}, nil
}

// Discard implements store.Staged: a body never delivered is removed
// (once delivered, the contents row owns it).
func (m *staged) Discard() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.contentID != 0 || m.discarded {
		return nil
	}
	m.discarded = true
	m.inline = nil
	if m.ref == "" {
		return nil
	}
	if err := m.s.Blobs().Remove(context.Background(), m.ref); err != nil {
		return fmt.Errorf("store: discard staged message: %w", err)
	}
	return nil
}

// Stage implements store.Messages: one pass scans the MIME structure and
// keeps the body in memory if it is small, else streams it into a blob
// (one chunk in memory at a time). On an error, what is left of r is not
// read: the caller's protocol decides how to skip it.
func (s *Store) Stage(ctx context.Context, r io.Reader) (store.Staged, error) {
	sc := mime.NewScanner(mime.Limits{})
	r = store.ContextReader(ctx, r)
	var buf bytes.Buffer
	if limit := int64(s.opts.InlineMax); limit > 0 {
		n, err := io.Copy(io.MultiWriter(&buf, sc), io.LimitReader(r, limit+1))
		if err != nil {
			return nil, fmt.Errorf("store: stage: %w", err)
		}
		if n <= limit {
			return s.finishStage(sc, buf.Bytes(), "", n)
		}
	}
	w, err := s.Blobs().Create(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	buf = bytes.Buffer{} // what was read ahead is in the blob now
	if _, err := io.Copy(io.MultiWriter(w, sc), r); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	size := w.Size()
	ref, err := w.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	m, err := s.finishStage(sc, nil, ref, size)
	if err != nil {
		// Best effort: Sweep removes an unreferenced body anyway.
		_ = s.Blobs().Remove(context.WithoutCancel(ctx), ref)
		return nil, err
	}
	return m, nil
}

func (s *Store) finishStage(sc *mime.Scanner, inline []byte, ref string, size int64) (*staged, error) {
	structure, err := sc.Close()
	if err != nil {
		return nil, fmt.Errorf("store: stage: scan: %w", err)
	}
	encoded, err := structure.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	s.opts.Observer.BodyWritten(size)
	return &staged{s: s, ref: ref, inline: inline, size: size, structure: structure, encoded: encoded}, nil
}

// Deliver implements store.Messages.
func (s *Store) Deliver(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error) {
	return s.DeliverAll(ctx, []store.Delivery{{Msg: msg, Targets: targets}})
}

// DeliverAll implements store.Messages: every delivery in one transaction.
func (s *Store) DeliverAll(ctx context.Context, deliveries []store.Delivery) ([]store.Delivered, error) {
	if len(deliveries) == 0 {
		return nil, fmt.Errorf("%w: nothing to deliver", store.ErrInvalid)
	}
	msgs := make([]*staged, len(deliveries))
	contentIDs := make([]int64, len(deliveries))
	for i, d := range deliveries {
		m, ok := d.Msg.(*staged)
		if !ok || m.s != s {
			return nil, fmt.Errorf("%w: message was not staged by this store", store.ErrInvalid)
		}
		if err := store.CheckTargets(d.Targets); err != nil {
			return nil, err
		}
		cid, discarded := m.delivered()
		if discarded {
			return nil, fmt.Errorf("%w: staged message was discarded", store.ErrInvalid)
		}
		msgs[i], contentIDs[i] = m, cid
	}
	var out []store.Delivered
	newContent := make([]int64, len(deliveries))
	var boxes []int64
	for _, d := range deliveries {
		for _, t := range d.Targets {
			boxes = append(boxes, t.MailboxID)
		}
	}
	slices.Sort(boxes)
	boxes = slices.Compact(boxes)
	err := s.writeMessages(ctx, func(tx *txn) error {
		out = out[:0]
		// Every target mailbox locked at once, in id order, as Copy and
		// Move lock theirs: two writers that each need several mailboxes
		// queue on the first they share instead of deadlocking.
		// (One mailbox needs no lock ahead: the first UPDATE takes it.)
		// Then their accounts' rows (each message takes a modseq of its
		// mailbox's account), in id order too.
		if len(boxes) > 1 {
			if _, err := tx.exec("SELECT 1 FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR UPDATE", boxes); err != nil {
				return err
			}
			if err := tx.lockAccounts(boxes); err != nil {
				return err
			}
		}
		for i, d := range deliveries {
			known := contentIDs[i]
			if j := slices.Index(msgs[:i], msgs[i]); j >= 0 {
				known = newContent[j] // the same message twice: one content row
			}
			cid, err := tx.addContent(msgs[i], known, len(d.Targets))
			if err != nil {
				return err
			}
			for _, t := range d.Targets {
				dl, err := tx.deliverTo(msgs[i], cid, t)
				if err != nil {
					return err
				}
				out = append(out, dl)
			}
			newContent[i] = cid
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: deliver: %w", err)
	}
	for i, m := range msgs {
		m.setDelivered(newContent[i])
	}
	return out, nil
}

// addContent records n more references to a staged message's content: a
// new row when it is not stored yet, else the count of the stored one goes
// up. It returns the content id.
func (tx *txn) addContent(m *staged, contentID int64, n int) (int64, error) {
	if contentID != 0 {
		tag, err := tx.exec("UPDATE contents SET refs = refs + $1 WHERE id = $2", n, contentID)
		if err == nil && tag.RowsAffected() != 1 {
			// Every earlier copy was expunged and the body released.
			err = fmt.Errorf("%w: the staged message's body is gone", store.ErrInvalid)
		}
		return contentID, err
	}
	var inline []byte
	if m.ref == "" {
		inline = m.inline
		if inline == nil {
			inline = []byte{} // an empty body is an empty inline body, not a missing one
		}
	} else if err := tx.useBlob(m.ref); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRow(tx.ctx, "INSERT INTO contents (blob, body, size, structure, refs) VALUES ($1, $2, $3, $4, $5) RETURNING id",
		m.ref, inline, m.size, m.encoded, n).Scan(&id)
	if err != nil {
		return 0, err
	}
	if d := m.textDoc(); d != nil {
		if err := tx.insertText(id, d, m.textGrams()); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// deliverTo puts one copy of content cid into t's mailbox.
func (tx *txn) deliverTo(m *staged, cid int64, t store.Target) (store.Delivered, error) {
	kw, _ := store.NormalizeKeywords(t.Keywords)
	date := tx.now
	if !t.InternalDate.IsZero() {
		date = t.InternalDate
	}
	meta := store.MessageMeta{
		Flags:        t.Flags,
		ContentID:    cid,
		Size:         m.size + int64(len(t.HeaderPrefix)),
		InternalDate: date.Unix(),
		Keywords:     kw,
	}
	var seen bool
	if t.Account != 0 && meta.Flags&store.FlagSeen != 0 {
		// Whose \Seen it is depends on the mailbox: its row is locked (as
		// insertMessage would) before it is read, so a switch of
		// shared_seen comes wholly before or after.
		var owner int64
		var shared bool
		err := tx.QueryRow(tx.ctx, "SELECT account_id, shared_seen FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE", t.MailboxID).Scan(&owner, &shared)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Delivered{}, fmt.Errorf("mailbox %d: %w", t.MailboxID, store.ErrNotFound)
		}
		if err != nil {
			return store.Delivered{}, err
		}
		if (store.Mailbox{AccountID: owner, SharedSeen: shared}).PrivateSeenFor(t.Account) {
			meta.Flags, seen = store.SplitSeen(meta.Flags, false)
		}
	}
	mb, err := tx.insertMessage(t.MailboxID, 0, &meta, t.HeaderPrefix, m.threadKeys().OrContent(cid), ownSeen(t.Account, seen))
	if err != nil {
		return store.Delivered{}, err
	}
	if t.QuotaExempt {
		tx.exemptUsage(mb.AccountID)
	}
	return store.Delivered{MailboxID: mb.ID, UIDValidity: mb.UIDValidity, UID: meta.UID, ModSeq: meta.ModSeq, ID: meta.ID}, nil
}

// insertMessage assigns the next UID and a new modseq in the mailbox
// (locking its row until the commit), gives meta a new per-account ID
// unless keepID is set, inserts it, logs the change and publishes it.
// meta.ContentID must be set. The thread is meta.ThreadID when set (a copy
// or a move within the account), else decided from keys by the rule of
// store.Threads (the oldest thread with one of the ids and the same
// subject, else the new message's own ID), and keys are recorded (see
// threads.go). It returns the mailbox as updated. seen, when set, is an
// account's private \Seen the message is stored with (meta.Flags are then
// without it).
//
// It is one statement (a delivery's three, pipelined), so one round trip:
// a delivery's cost on PostgreSQL is mostly round trips, and the steps
// only ever go together.
func (tx *txn) insertMessage(mailboxID int64, keepID int64, meta *store.MessageMeta, prefix []byte, keys store.ThreadKeys, seen store.SeenChange) (store.Mailbox, error) {
	var mb store.Mailbox
	var uid, modseq, uidValidity, prev int64
	args := []any{mailboxID, keepID, meta.ContentID, int64(meta.Flags), joinKeywords(meta.Keywords), meta.InternalDate, meta.Size, nilIfEmpty(prefix),
		tx.origin, changeMessages, tx.now.Unix(), meta.ThreadID, keyIDs(keys), keys.Subject}
	// The statement updates the account's row (its modseq counter) before
	// the mailbox's, so the mailbox is locked by a statement ahead of it,
	// in the mailbox-then-account order every write uses. The thread
	// lookup must also see every key committed by deliveries to the
	// account before this one: a READ COMMITTED statement reads a snapshot
	// taken when it starts, so the account's row (which every delivery
	// locks) is locked by a statement before it too. Pipelined: still one
	// round trip.
	var b pgx.Batch
	b.Queue("SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE", mailboxID)
	locks := 1
	if meta.ThreadID == 0 && len(keys.IDs) > 0 {
		b.Queue("SELECT 1 FROM accounts WHERE id = (SELECT account_id FROM mailboxes WHERE id = $1) FOR NO KEY UPDATE", mailboxID)
		locks++
	}
	b.Queue(insertMessageSQL, args...)
	br := tx.SendBatch(tx.ctx, &b)
	var lockErr error
	for range locks {
		_, err := br.Exec()
		lockErr = errors.Join(lockErr, err)
	}
	row := batchRow{br, lockErr}
	err := row.Scan(&mb.AccountID, &uidValidity, &uid, &modseq, &meta.ID, &meta.ThreadID, &prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return mb, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return mb, err
	}
	if uid > 0xffffffff {
		return mb, errors.New("mailbox has run out of UIDs")
	}
	mb.ID, mb.UIDValidity = mailboxID, uint32(uidValidity)
	meta.UID, meta.ModSeq = uint32(uid), uint64(modseq)
	tx.notePrev(mailboxID, uint64(prev))
	if seen.Seen {
		if err := tx.setPrivateSeen(mailboxID, seen.Account, []int64{uid}, true); err != nil {
			return mb, err
		}
	}
	// The mailbox's owner pays for it, whoever writes it (shared folders).
	tx.addUsage(mb.AccountID, meta.Size, 1)
	tx.publish(store.Event{Kind: store.EventMessageAdded, AccountID: mb.AccountID, MailboxID: mailboxID, ModSeq: meta.ModSeq, Message: *meta, Seen: seen})
	return mb, nil
}

// ownSeen is the private \Seen a new message is stored with: account's,
// if seen.
func ownSeen(account int64, seen bool) store.SeenChange {
	if !seen {
		return store.SeenChange{}
	}
	return store.SeenChange{Account: account, Seen: true}
}

// batchRow is the last result of a pipelined batch as a pgx.Row: Scan
// reads it and closes the batch, reporting the earlier statements' error
// first.
type batchRow struct {
	br  pgx.BatchResults
	err error
}

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if r.err != nil {
		err = r.err
	}
	return errors.Join(err, r.br.Close())
}

// insertMessageSQL is insertMessage's statement.
// The modseq is the account's next (nextModSeq), and the message ID too
// unless $2 keeps one; prev is the mailbox's highest modseq before.
const insertMessageSQL = `WITH acc AS (
			UPDATE accounts SET modseq = modseq + 1, next_msgid = next_msgid + CASE WHEN $2::bigint = 0 THEN 1 ELSE 0 END
			WHERE id = (SELECT account_id FROM mailboxes WHERE id = $1)
			RETURNING modseq, CASE WHEN $2::bigint = 0 THEN next_msgid - 1 ELSE $2::bigint END AS msgid),
		old AS (
			SELECT highestmodseq AS prev FROM mailboxes WHERE id = $1),
		mb AS (
			UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = (SELECT modseq FROM acc) WHERE id = $1
			RETURNING account_id, uidvalidity, uidnext - 1 AS uid, highestmodseq AS modseq),
		id AS (
			SELECT (SELECT msgid FROM acc) AS msgid),
		th AS (
			SELECT coalesce(nullif($12::bigint, 0),
				(SELECT min(t.thread_id) FROM thread_keys t, mb WHERE t.account_id = mb.account_id AND t.key = ANY($13::bigint[]) AND t.subject = $14),
				(SELECT msgid FROM id)) AS thread_id),
		ins AS (
			INSERT INTO messages (mailbox_id, uid, msgid, content_id, modseq, flags, keywords, internal_date, size, prefix, thread_id)
			SELECT $1, mb.uid, (SELECT msgid FROM id), $3, mb.modseq, $4, $5, $6, $7, $8, (SELECT thread_id FROM th) FROM mb
			RETURNING msgid, thread_id),
		keys AS (
			INSERT INTO thread_keys (account_id, key, thread_id, subject)
			SELECT mb.account_id, k, ins.thread_id, $14 FROM mb, ins, unnest($13::bigint[]) k
			ON CONFLICT DO NOTHING),
		log AS (
			INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created)
			SELECT $9, mb.account_id, $1, mb.modseq, $10, $11 FROM mb)
		SELECT mb.account_id, mb.uidvalidity, mb.uid, mb.modseq, ins.msgid, ins.thread_id, old.prev FROM mb, ins, old`

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
