package sqlitestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// body is a stored message: an optional per-copy header prefix followed by
// the shared body, a file or (small bodies) bytes from the database.
type body struct {
	prefix []byte
	f      io.ReaderAt
	obs    store.Observer // counts the bytes read
	size   int64
}

func (b *body) Size() int64 { return b.size }

func (b *body) Close() error {
	if c, ok := b.f.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// ReadAt implements io.ReaderAt over prefix+file.
func (b *body) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store: negative offset")
	}
	n := 0
	if off < int64(len(b.prefix)) {
		n = copy(p, b.prefix[off:])
		if n == len(p) {
			return n, nil
		}
		off = int64(len(b.prefix))
	}
	m, err := b.f.ReadAt(p[n:], off-int64(len(b.prefix)))
	n += m
	if err == nil && off+int64(m) >= b.size && n < len(p) {
		err = io.EOF
	}
	b.obs.BodyRead(int64(n))
	return n, err
}

// row is what OpenBody and Structure read of a message.
type row struct {
	blob      string
	inline    []byte
	prefix    []byte
	structure []byte
}

func columnBytes(st *sqlite.Stmt, col int) []byte {
	n := st.ColumnLen(col)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	st.ColumnBytes(col, b)
	return b
}

func (s *Store) messageRow(ctx context.Context, mailboxID int64, uid uint32, withBody, withStructure bool) (row, error) {
	var r row
	found := false
	err := s.query(ctx, `SELECT c.blob, m.prefix, CASE WHEN ?3 THEN c.body END, CASE WHEN ?4 THEN c.structure END
		FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.mailbox_id = ?1 AND m.uid = ?2`, func(st *sqlite.Stmt) error {
		found = true
		r = row{blob: st.ColumnText(0), prefix: columnBytes(st, 1), inline: columnBytes(st, 2), structure: columnBytes(st, 3)}
		return nil
	}, mailboxID, int64(uid), withBody, withStructure)
	if err == nil && !found {
		err = fmt.Errorf("message %d in mailbox %d: %w", uid, mailboxID, store.ErrNotFound)
	}
	return r, err
}

// OpenBody implements store.Messages.
func (s *Store) OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error) {
	r, err := s.messageRow(ctx, mailboxID, uid, true, false)
	if err != nil {
		return nil, err
	}
	if r.blob == "" {
		return &body{prefix: r.prefix, f: bytes.NewReader(r.inline), obs: s.opts.Observer, size: int64(len(r.prefix) + len(r.inline))}, nil
	}
	f, err := s.blobs.Open(r.blob)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Expunged between the query and the open (the file goes right
			// after the commit): for the caller the message is gone. A row
			// without its file would be damage, and says so.
			if _, rerr := s.messageRow(ctx, mailboxID, uid, false, false); errors.Is(rerr, store.ErrNotFound) {
				return nil, rerr
			}
		}
		return nil, fmt.Errorf("store: body of message %d: %w", uid, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return &body{prefix: r.prefix, f: f, obs: s.opts.Observer, size: int64(len(r.prefix)) + info.Size()}, nil
}

// Structure implements store.Messages.
func (s *Store) Structure(ctx context.Context, mailboxID int64, uid uint32) (*mime.Message, error) {
	r, err := s.messageRow(ctx, mailboxID, uid, false, true)
	if err != nil {
		return nil, err
	}
	var m mime.Message
	if err := m.UnmarshalBinary(r.structure); err != nil {
		return nil, fmt.Errorf("store: structure of message %d: %w", uid, err)
	}
	if len(r.prefix) > 0 {
		m.Prepend(r.prefix)
	}
	return &m, nil
}
