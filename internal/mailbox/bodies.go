package mailbox

import (
	"context"
	"fmt"
	"io"

	"mailroom/internal/store"
)

// Bodies of small messages recently delivered or read are kept in memory,
// so that FETCH of a fresh message's body — the commonest read of all: a
// client fetches what just arrived, often several sections of it — reads
// neither the database nor a file. Small bodies are the ones the store
// keeps inside its database (sqlitestore.DefaultInlineMax), where each read
// is a query plus overflow-page reads.
const (
	// bodyCacheItemMax is the largest body the cache takes.
	bodyCacheItemMax = 64 << 10
	// bodyCacheSize bounds the memory of all cached bodies together.
	bodyCacheSize = 32 << 20
)

// cachedBody is one message's bytes: its own header prefix in front of a
// body that copies and other recipients share.
type cachedBody struct {
	prefix, body []byte
}

func newBodyCache() *lru[cachedBody] {
	return newLRU(bodyCacheSize, func(b cachedBody) int64 { return int64(len(b.prefix) + len(b.body)) })
}

// OpenBody opens a message's bytes: from memory for small messages
// recently delivered or read, else from the store.
func (r *Service) OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error) {
	k := messageKey{mailboxID, uid}
	if b, ok := r.bodies.get(k); ok {
		return newMemBody(b), nil
	}
	b, err := r.st.OpenBody(ctx, mailboxID, uid)
	if err != nil {
		return nil, err
	}
	if b.Size() > bodyCacheItemMax {
		return b, nil
	}
	defer b.Close()
	data := make([]byte, b.Size())
	if _, err := b.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("mailbox: read message %d: %w", uid, err)
	}
	cb := cachedBody{body: data}
	r.bodies.put(k, cb)
	return newMemBody(cb), nil
}

// Body opens a message's bytes (see Service.OpenBody).
func (m *Mailbox) Body(ctx context.Context, uid uint32) (store.Body, error) {
	return m.reg.OpenBody(ctx, m.id, uid)
}

// ScanBody is Body for a scan over many messages (SEARCH on text): it takes
// a cached body but does not cache what it reads, so a search of a whole
// mailbox does not evict what clients are reading.
func (m *Mailbox) ScanBody(ctx context.Context, uid uint32) (store.Body, error) {
	if b, ok := m.reg.bodies.get(messageKey{m.id, uid}); ok {
		return newMemBody(b), nil
	}
	return m.reg.st.OpenBody(ctx, m.id, uid)
}

// remember caches a just-delivered small message, and its structure when
// no per-copy prefix shifts it: a client that sees the new message fetches
// it next.
func (r *Service) remember(msg store.Staged, targets []store.Target, delivered []store.Delivered) {
	if msg.Size() > bodyCacheItemMax || len(targets) != len(delivered) {
		return
	}
	rc, err := msg.Open()
	if err != nil {
		return
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, bodyCacheItemMax+1))
	if err != nil || int64(len(body)) != msg.Size() {
		return
	}
	for i, d := range delivered {
		k := messageKey{d.MailboxID, d.UID}
		r.bodies.put(k, cachedBody{prefix: targets[i].HeaderPrefix, body: body})
		if len(targets[i].HeaderPrefix) == 0 && msg.Structure() != nil {
			r.structures.put(k, msg.Structure())
		}
	}
}

// memBody is a cached message as a store.Body.
type memBody struct {
	cachedBody
}

func newMemBody(b cachedBody) *memBody { return &memBody{b} }

func (b *memBody) Size() int64  { return int64(len(b.prefix) + len(b.body)) }
func (b *memBody) Close() error { return nil }

// ReadAt reads the prefix and body as one sequence of bytes.
func (b *memBody) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("mailbox: negative offset %d", off)
	}
	n := 0
	if off < int64(len(b.prefix)) {
		n = copy(p, b.prefix[off:])
	}
	if n < len(p) {
		bodyOff := off + int64(n) - int64(len(b.prefix))
		if bodyOff < int64(len(b.body)) {
			n += copy(p[n:], b.body[bodyOff:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

var _ io.ReaderAt = (*memBody)(nil)
