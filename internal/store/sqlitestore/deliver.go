package sqlitestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/mime"
	"mailroom/internal/store"
	"mailroom/internal/store/blobfs"
)

// staged is a scanned body, either in memory (small, stored inline at
// delivery) or durable in a file (ref).
type staged struct {
	s         *Store
	ref       string // "" when inline
	inline    []byte
	size      int64
	structure *mime.Message
	encoded   []byte

	mu        sync.Mutex
	contentID int64 // set once delivered; later deliveries share the row
	discarded bool
}

func (m *staged) Size() int64              { return m.size }
func (m *staged) Structure() *mime.Message { return m.structure }
func (m *staged) delivered() (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.contentID, m.discarded
}
func (m *staged) setDelivered(contentID int64) { m.mu.Lock(); m.contentID = contentID; m.mu.Unlock() }

// Open implements store.Staged.
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
	f, err := m.s.blobs.Open(m.ref)
	if err != nil {
		return nil, fmt.Errorf("store: open staged message: %w", err)
	}
	return f, nil
}

// Discard implements store.Staged.
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
	return m.s.blobs.Remove(m.ref)
}

// Stage implements store.Messages: one pass scans the MIME structure and
// keeps the body in memory if it is small, else writes it to a file and
// fsyncs it. When the disk is full the error is store.ErrInsufficientStorage.
// On an error, what is left of r is not read: the caller's protocol decides
// how to skip it.
func (s *Store) Stage(ctx context.Context, r io.Reader) (store.Staged, error) {
	m, err := s.stage(ctx, r)
	if err != nil {
		return nil, storageFull(err)
	}
	return m, nil
}

func (s *Store) stage(ctx context.Context, r io.Reader) (store.Staged, error) {
	sc := mime.NewScanner(mime.Limits{})
	r = ctxReader{ctx, r}
	var small []byte
	if s.opts.InlineMax > 0 {
		var buf bytes.Buffer
		n, err := io.Copy(io.MultiWriter(&buf, sc), io.LimitReader(r, int64(s.opts.InlineMax)+1))
		if err != nil {
			return nil, fmt.Errorf("store: stage: %w", err)
		}
		if n <= int64(s.opts.InlineMax) {
			return s.finishStage(sc, buf.Bytes(), "", n)
		}
		small = buf.Bytes()
	}
	w, err := s.blobs.Create()
	if err != nil {
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	if _, err := w.Write(small); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	if _, err := io.Copy(io.MultiWriter(w, sc), r); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	size := w.Size()
	ref, err := w.Commit()
	if err != nil {
		return nil, fmt.Errorf("store: stage: %w", err)
	}
	m, err := s.finishStage(sc, nil, ref, size)
	if err != nil {
		s.blobs.Remove(ref)
	}
	return m, err
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
	return &staged{s: s, ref: ref, inline: inline, size: size, structure: structure, encoded: encoded}, nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Deliver implements store.Messages.
func (s *Store) Deliver(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error) {
	m, ok := msg.(*staged)
	if !ok || m.s != s {
		return nil, fmt.Errorf("%w: message was not staged by this store", store.ErrInvalid)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: no target mailbox", store.ErrInvalid)
	}
	for _, t := range targets {
		if _, err := store.NormalizeKeywords(t.Keywords); err != nil {
			return nil, err
		}
	}
	contentID, discarded := m.delivered()
	if discarded {
		return nil, fmt.Errorf("%w: staged message was discarded", store.ErrInvalid)
	}
	out := make([]store.Delivered, len(targets))
	var newContent int64
	syncDir := ""
	var inline any
	if m.ref != "" {
		syncDir = blobfs.Dir(m.ref)
	} else {
		inline = m.inline
	}
	err := s.writeSync(ctx, syncDir, func(tx *txn) error {
		// A content row is written once: updating its reference count later
		// rewrites the whole row, inline body included.
		cid := contentID
		if cid == 0 {
			if err := tx.exec("INSERT INTO contents (blob, body, size, structure, refs) VALUES (?, ?, ?, ?, ?)", m.ref, inline, m.size, m.encoded, len(targets)); err != nil {
				return err
			}
			cid = tx.conn.LastInsertRowID()
		}
		for i, t := range targets {
			mb, err := tx.mailboxByID(t.MailboxID)
			if err != nil {
				return err
			}
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
			if meta.ID, err = tx.allocMessageIDs(mb.AccountID, 1); err != nil {
				return err
			}
			if err := tx.insertMessage(mb, &meta, t.HeaderPrefix); err != nil {
				return err
			}
			out[i] = store.Delivered{MailboxID: mb.ID, UIDValidity: mb.UIDValidity, UID: meta.UID, ModSeq: meta.ModSeq, ID: meta.ID}
		}
		if contentID != 0 {
			if err := tx.exec("UPDATE contents SET refs = refs + ? WHERE id = ?", len(targets), cid); err != nil {
				return err
			}
		}
		newContent = cid
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.setDelivered(newContent)
	return out, nil
}

// allocMessageIDs reserves n consecutive per-account message IDs.
func (tx *txn) allocMessageIDs(accountID int64, n int) (int64, error) {
	var first int64
	err := tx.query("UPDATE accounts SET next_msgid = next_msgid + ? WHERE id = ? RETURNING next_msgid - ?", func(st *sqlite.Stmt) error {
		first = st.ColumnInt64(0)
		return nil
	}, n, accountID, n)
	if err == nil && first == 0 {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return first, err
}

// bumpModSeq gives a mailbox a new highest modseq and returns it.
func (tx *txn) bumpModSeq(mailboxID int64) (uint64, error) {
	var modseq int64
	err := tx.query("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", func(st *sqlite.Stmt) error {
		modseq = st.ColumnInt64(0)
		return nil
	}, mailboxID)
	if err == nil && modseq == 0 {
		err = fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return uint64(modseq), err
}

// insertMessage assigns the next UID and a new modseq in mb and inserts
// meta, publishing it. meta.ID and meta.ContentID must be set.
func (tx *txn) insertMessage(mb store.Mailbox, meta *store.MessageMeta, prefix []byte) error {
	var uid, modseq int64
	if err := tx.query("UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING uidnext - 1, highestmodseq",
		func(st *sqlite.Stmt) error { uid, modseq = st.ColumnInt64(0), st.ColumnInt64(1); return nil }, mb.ID); err != nil {
		return err
	}
	if uid == 0 {
		return fmt.Errorf("mailbox %d: %w", mb.ID, store.ErrNotFound)
	}
	if uid > 0xffffffff {
		return errors.New("store: mailbox has run out of UIDs")
	}
	meta.UID, meta.ModSeq = uint32(uid), uint64(modseq)
	var prefixArg any
	if len(prefix) > 0 {
		prefixArg = prefix
	}
	if err := tx.exec(`INSERT INTO messages (mailbox_id, uid, msgid, content_id, modseq, flags, keywords, internal_date, size, prefix)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		mb.ID, uid, meta.ID, meta.ContentID, modseq, int64(meta.Flags), joinKeywords(meta.Keywords), meta.InternalDate, meta.Size, prefixArg); err != nil {
		return err
	}
	tx.publish(store.Event{Kind: store.EventMessageAdded, AccountID: mb.AccountID, MailboxID: mb.ID, ModSeq: meta.ModSeq, Message: *meta})
	tx.changed(mb.AccountID, mb.ID, meta.ModSeq, changeMessages)
	return nil
}

// releaseContent drops one reference to a body; the last one queues the
// file for removal after the commit.
func (tx *txn) releaseContent(contentID int64) error {
	var refs int64 = -1
	var blob string
	if err := tx.query("SELECT refs, blob FROM contents WHERE id = ?", func(st *sqlite.Stmt) error {
		refs, blob = st.ColumnInt64(0), st.ColumnText(1)
		return nil
	}, contentID); err != nil {
		return err
	}
	switch {
	case refs == -1:
		return nil
	case refs > 1:
		// Other copies remain. (The last reference deletes the row without
		// updating it first: an update rewrites the whole row.)
		return tx.exec("UPDATE contents SET refs = refs - 1 WHERE id = ?", contentID)
	}
	if err := tx.exec("DELETE FROM contents WHERE id = ?", contentID); err != nil {
		return err
	}
	if blob == "" {
		return nil // inline: gone with the row
	}
	if err := tx.exec("INSERT OR IGNORE INTO blob_trash (blob) VALUES (?)", blob); err != nil {
		return err
	}
	tx.trash = append(tx.trash, blob)
	return nil
}
