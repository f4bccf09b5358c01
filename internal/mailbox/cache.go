package mailbox

import (
	"container/list"
	"sync"
)

// messageKey names one message for good: a message's content never
// changes, and UIDs are never reused within a mailbox.
type messageKey struct {
	mailbox int64
	uid     uint32
}

// lru is a least-recently-used cache of per-message values, bounded by the
// sum of the values' costs.
type lru[V any] struct {
	mu    sync.Mutex
	order *list.List // of *lruEntry[V], most recent first
	index map[messageKey]*list.Element
	cost  func(V) int64
	used  int64
	limit int64
}

type lruEntry[V any] struct {
	key   messageKey
	value V
	cost  int64
}

func newLRU[V any](limit int64, cost func(V) int64) *lru[V] {
	return &lru[V]{order: list.New(), index: map[messageKey]*list.Element{}, cost: cost, limit: limit}
}

func (c *lru[V]) get(k messageKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[V]).value, true
}

func (c *lru[V]) put(k messageKey, v V) {
	cost := c.cost(v)
	if cost > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.index[k] = c.order.PushFront(&lruEntry[V]{key: k, value: v, cost: cost})
	c.used += cost
	for c.used > c.limit {
		c.removeElement(c.order.Back())
	}
}

func (c *lru[V]) forget(mailbox int64, uids []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, uid := range uids {
		if e, ok := c.index[messageKey{mailbox, uid}]; ok {
			c.removeElement(e)
		}
	}
}

func (c *lru[V]) removeElement(e *list.Element) {
	x := e.Value.(*lruEntry[V])
	c.order.Remove(e)
	delete(c.index, x.key)
	c.used -= x.cost
}
