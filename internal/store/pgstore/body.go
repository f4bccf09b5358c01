package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/mime"
	"mailroom/internal/store"
	"mailroom/internal/store/blob"
)

// body is a stored message: an optional per-copy header prefix followed by
// the shared body, a blob or (small bodies) bytes from the contents row.
type body struct {
	prefix []byte
	r      io.ReaderAt
	obs    store.Observer // counts the bytes read
	closer io.Closer      // the blob's reader, nil for an inline body
	size   int64
}

func (b *body) Size() int64 { return b.size }

func (b *body) Close() error {
	if b.closer != nil {
		return b.closer.Close()
	}
	return nil
}

// ReadAt implements io.ReaderAt over prefix+body.
func (b *body) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store: read at negative offset %d", off)
	}
	n := 0
	if off < int64(len(b.prefix)) {
		n = copy(p, b.prefix[off:])
		if n == len(p) {
			return n, nil
		}
		off = int64(len(b.prefix))
	}
	m, err := b.r.ReadAt(p[n:], off-int64(len(b.prefix)))
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

func (s *Store) messageRow(ctx context.Context, mailboxID int64, uid uint32, withBody, withStructure bool) (row, error) {
	var r row
	err := s.pool.QueryRow(ctx, `SELECT c.blob, m.prefix, CASE WHEN $3 THEN c.body END, CASE WHEN $4 THEN c.structure END
		FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.mailbox_id = $1 AND m.uid = $2`,
		mailboxID, int64(uid), withBody, withStructure).Scan(&r.blob, &r.prefix, &r.inline, &r.structure)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("message %d in mailbox %d: %w", uid, mailboxID, store.ErrNotFound)
	}
	return r, err
}

// OpenBody implements store.Messages. A large body is read through the
// blob store, each ReadAt fetching only the chunks it covers.
func (s *Store) OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error) {
	r, err := s.messageRow(ctx, mailboxID, uid, true, false)
	if err != nil {
		return nil, fmt.Errorf("store: open body: %w", err)
	}
	if r.blob == "" {
		return &body{prefix: r.prefix, r: bytes.NewReader(r.inline), obs: s.opts.Observer, size: int64(len(r.prefix) + len(r.inline))}, nil
	}
	br, err := s.Blobs().Open(ctx, r.blob)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			// Expunged between the query and the open (the body goes in
			// the expunge's transaction): for the caller the message is
			// gone. A row without its body would be damage, and says so.
			if _, rerr := s.messageRow(ctx, mailboxID, uid, false, false); errors.Is(rerr, store.ErrNotFound) {
				return nil, fmt.Errorf("store: open body: %w", rerr)
			}
		}
		return nil, fmt.Errorf("store: body of message %d: %w", uid, err)
	}
	return &body{prefix: r.prefix, r: br, closer: br, obs: s.opts.Observer, size: int64(len(r.prefix)) + br.Size()}, nil
}

// Structure implements store.Messages.
func (s *Store) Structure(ctx context.Context, mailboxID int64, uid uint32) (*mime.Message, error) {
	r, err := s.messageRow(ctx, mailboxID, uid, false, true)
	if err != nil {
		return nil, fmt.Errorf("store: structure: %w", err)
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
