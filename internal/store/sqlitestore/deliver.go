package sqlitestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
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
	r = store.ContextReader(ctx, r)
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
	var syncDirs []string
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
		if m.ref != "" && !slices.Contains(syncDirs, blobfs.Dir(m.ref)) {
			syncDirs = append(syncDirs, blobfs.Dir(m.ref))
		}
		msgs[i], contentIDs[i] = m, cid
	}
	var out []store.Delivered
	newContent := make([]int64, len(deliveries))
	err := s.queueWrite(ctx, &writeReq{syncDirs: syncDirs, fn: func(tx *txn) error {
		out = out[:0]
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
	}})
	if err = storageFull(err); err != nil {
		return nil, err
	}
	for i, m := range msgs {
		m.setDelivered(newContent[i])
		if d := m.textDoc(); d != nil && contentIDs[i] == 0 {
			s.pendingBytes.Add(int64(textSize(d)))
			s.kickIndexer()
		}
	}
	return out, nil
}

// addContent records n more references to a staged message's content: a
// new row with its count when it is not stored yet (a content row is
// written once: updating it later rewrites the whole row, inline body
// included), else the count of the stored one goes up. It returns the
// content id.
func (tx *txn) addContent(m *staged, contentID int64, n int) (int64, error) {
	if contentID != 0 {
		return contentID, tx.exec("UPDATE contents SET refs = refs + ? WHERE id = ?", n, contentID)
	}
	var inline any
	if m.ref == "" {
		inline = m.inline
	}
	if err := tx.exec("INSERT INTO contents (blob, body, size, structure, refs) VALUES (?, ?, ?, ?, ?)", m.ref, inline, m.size, m.encoded, n); err != nil {
		return 0, err
	}
	id := tx.conn.LastInsertRowID()
	if d := m.textDoc(); d != nil {
		if err := tx.stageText(id, d, m.textGrams()); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// deliverTo puts one copy of content cid into t's mailbox.
func (tx *txn) deliverTo(m *staged, cid int64, t store.Target) (store.Delivered, error) {
	mb, err := tx.mailboxByID(t.MailboxID)
	if err != nil {
		return store.Delivered{}, err
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
		return store.Delivered{}, err
	}
	if meta.ThreadID, err = tx.assignThread(mb.AccountID, meta.ID, m.threadKeys().OrContent(cid)); err != nil {
		return store.Delivered{}, err
	}
	if err := tx.insertMessage(mb, &meta, t.HeaderPrefix, t.Account); err != nil {
		return store.Delivered{}, err
	}
	if t.QuotaExempt {
		tx.exemptUsage(mb.AccountID)
	}
	return store.Delivered{MailboxID: mb.ID, UIDValidity: mb.UIDValidity, UID: meta.UID, ModSeq: meta.ModSeq, ID: meta.ID}, nil
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

// nextModSeq takes the account's next modseq (store.AccountChanges): every
// modseq of its mailboxes comes from this one counter, so one number is
// the account's JMAP state. The single writer orders them.
func (tx *txn) nextModSeq(accountID int64) (uint64, error) {
	var modseq int64
	err := tx.query("UPDATE accounts SET modseq = modseq + 1 WHERE id = ? RETURNING modseq", func(st *sqlite.Stmt) error {
		modseq = st.ColumnInt64(0)
		return nil
	}, accountID)
	if err == nil && modseq == 0 {
		err = fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return uint64(modseq), err
}

// bumpModSeq gives a mailbox a new highest modseq, its account's next,
// and returns it. uidnext also takes the next UID (insertMessage), which
// it returns with it.
func (tx *txn) bumpModSeq(mailboxID int64) (uint64, error) {
	modseq, _, err := tx.bumpMailbox(mailboxID, false)
	return modseq, err
}

func (tx *txn) bumpMailbox(mailboxID int64, takeUID bool) (modseq uint64, uid int64, err error) {
	var account, prev int64
	found := false
	if err := tx.query("SELECT account_id, highestmodseq FROM mailboxes WHERE id = ?", func(st *sqlite.Stmt) error {
		account, prev, found = st.ColumnInt64(0), st.ColumnInt64(1), true
		return nil
	}, mailboxID); err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if modseq, err = tx.nextModSeq(account); err != nil {
		return 0, 0, err
	}
	tx.notePrev(mailboxID, uint64(prev))
	if !takeUID {
		return modseq, 0, tx.exec("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?", int64(modseq), mailboxID)
	}
	err = tx.query("UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = ? WHERE id = ? RETURNING uidnext - 1",
		func(st *sqlite.Stmt) error { uid = st.ColumnInt64(0); return nil }, int64(modseq), mailboxID)
	return modseq, uid, err
}

// insertMessage assigns the next UID and a new modseq in mb and inserts
// meta, publishing it. meta.ID, meta.ContentID and meta.ThreadID must be set.
// Where reader's \Seen in mb is private, \Seen in meta.Flags is its own:
// the message is stored without it and reader has seen it.
func (tx *txn) insertMessage(mb store.Mailbox, meta *store.MessageMeta, prefix []byte, reader int64) error {
	var seen store.SeenChange
	if mb.PrivateSeenFor(reader) {
		var own bool
		if meta.Flags, own = store.SplitSeen(meta.Flags, false); own {
			seen = store.SeenChange{Account: reader, Seen: true}
		}
	}
	modseq, uid, err := tx.bumpMailbox(mb.ID, true)
	if err != nil {
		return err
	}
	if uid > 0xffffffff {
		return errors.New("store: mailbox has run out of UIDs")
	}
	meta.UID, meta.ModSeq = uint32(uid), modseq
	var prefixArg any
	if len(prefix) > 0 {
		prefixArg = prefix
	}
	if err := tx.exec(`INSERT INTO messages (mailbox_id, uid, msgid, content_id, modseq, flags, keywords, internal_date, size, prefix, thread_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		mb.ID, uid, meta.ID, meta.ContentID, int64(modseq), int64(meta.Flags), joinKeywords(meta.Keywords), meta.InternalDate, meta.Size, prefixArg, meta.ThreadID); err != nil {
		return err
	}
	if seen.Seen {
		if err := tx.setPrivateSeen(mb.ID, reader, meta.UID, true); err != nil {
			return err
		}
	}
	// The mailbox's owner pays for it, whoever writes it (shared folders).
	tx.addUsage(mb.AccountID, meta.Size, 1)
	tx.publish(store.Event{Kind: store.EventMessageAdded, AccountID: mb.AccountID, MailboxID: mb.ID, ModSeq: meta.ModSeq, Message: *meta, Seen: seen})
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
	if err := tx.dropText(contentID); err != nil {
		return err
	}
	if err := tx.exec("DELETE FROM junk_trained WHERE content_id = ?", contentID); err != nil {
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
