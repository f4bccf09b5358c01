package sqlitestore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// body is a stored message: an optional per-copy header prefix followed by
// the shared body file.
type body struct {
	prefix []byte
	f      *os.File
	size   int64
}

func (b *body) Size() int64  { return b.size }
func (b *body) Close() error { return b.f.Close() }

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
	return n, err
}

// messageRow reads what OpenBody and Structure need.
func (s *Store) messageRow(ctx context.Context, mailboxID int64, uid uint32, withStructure bool) (blob string, prefix, structure []byte, err error) {
	cols := "c.blob, m.prefix"
	if withStructure {
		cols += ", c.structure"
	}
	found := false
	err = s.query(ctx, "SELECT "+cols+" FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.mailbox_id = ? AND m.uid = ?", func(st *sqlite.Stmt) error {
		found = true
		blob = st.ColumnText(0)
		if n := st.ColumnLen(1); n > 0 {
			prefix = make([]byte, n)
			st.ColumnBytes(1, prefix)
		}
		if withStructure {
			structure = make([]byte, st.ColumnLen(2))
			st.ColumnBytes(2, structure)
		}
		return nil
	}, mailboxID, int64(uid))
	if err == nil && !found {
		err = fmt.Errorf("message %d in mailbox %d: %w", uid, mailboxID, store.ErrNotFound)
	}
	return blob, prefix, structure, err
}

// OpenBody implements store.Messages.
func (s *Store) OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error) {
	blob, prefix, _, err := s.messageRow(ctx, mailboxID, uid, false)
	if err != nil {
		return nil, err
	}
	f, err := s.blobs.Open(blob)
	if err != nil {
		return nil, fmt.Errorf("store: body of message %d: %w", uid, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return &body{prefix: prefix, f: f, size: int64(len(prefix)) + info.Size()}, nil
}

// Structure implements store.Messages.
func (s *Store) Structure(ctx context.Context, mailboxID int64, uid uint32) (*mime.Message, error) {
	_, prefix, encoded, err := s.messageRow(ctx, mailboxID, uid, true)
	if err != nil {
		return nil, err
	}
	var m mime.Message
	if err := m.UnmarshalBinary(encoded); err != nil {
		return nil, fmt.Errorf("store: structure of message %d: %w", uid, err)
	}
	if len(prefix) > 0 {
		shiftStructure(&m, prefix)
	}
	return &m, nil
}

// shiftStructure makes offsets relative to prefix+body: the prefix lines
// become part of the top-level header.
func shiftStructure(m *mime.Message, prefix []byte) {
	n := int64(len(prefix))
	var walk func(p *mime.Part)
	walk = func(p *mime.Part) {
		p.HeaderStart += n
		p.BodyStart += n
		p.End += n
		for _, c := range p.Parts {
			walk(c)
		}
	}
	if m.Root != nil {
		walk(m.Root)
		m.Root.HeaderStart = 0
		m.Root.HeaderLines += int64(bytes.Count(prefix, []byte("\n")))
	}
	m.Size += n
}
