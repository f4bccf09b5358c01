package mailbox

import (
	"container/list"
	"context"
	"sync"

	"mailroom/internal/mime"
)

// structureCacheSize bounds the MIME structures kept in memory for all
// mailboxes together (a structure is typically one or two KiB).
const structureCacheSize = 4096

// structureCache keeps recently used message structures: a message's
// content never changes, so (mailbox, UID) names one structure for good.
// Clients fetch ENVELOPE and BODYSTRUCTURE, then a body part, then flags
// again; each of those would otherwise be a database query.
type structureCache struct {
	mu    sync.Mutex
	lru   *list.List // of *structureEntry, most recent first
	index map[structureKey]*list.Element
}

type structureKey struct {
	mailbox int64
	uid     uint32
}

type structureEntry struct {
	key structureKey
	st  *mime.Message
}

func newStructureCache() *structureCache {
	return &structureCache{lru: list.New(), index: map[structureKey]*list.Element{}}
}

func (c *structureCache) get(k structureKey) (*mime.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.index[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*structureEntry).st, true
}

func (c *structureCache) put(k structureKey, st *mime.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[k]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.index[k] = c.lru.PushFront(&structureEntry{key: k, st: st})
	if c.lru.Len() > structureCacheSize {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.index, last.Value.(*structureEntry).key)
	}
}

func (c *structureCache) forget(mailbox int64, uids []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, uid := range uids {
		k := structureKey{mailbox, uid}
		if e, ok := c.index[k]; ok {
			c.lru.Remove(e)
			delete(c.index, k)
		}
	}
}

// Structure returns the MIME structure of message uid, from memory when it
// was asked for recently. The result is shared: treat it as read-only.
func (m *Mailbox) Structure(ctx context.Context, uid uint32) (*mime.Message, error) {
	k := structureKey{m.id, uid}
	if st, ok := m.reg.structures.get(k); ok {
		return st, nil
	}
	st, err := m.reg.st.Structure(ctx, m.id, uid)
	if err != nil {
		return nil, err
	}
	m.reg.structures.put(k, st)
	return st, nil
}
