package auth

import "container/list"

// boundedMap is a map with a fixed maximum size that remembers the order in
// which entries were last written. The throttle and the verification cache
// are fed by unauthenticated clients, so their memory must not grow with the
// number of addresses or usernames an attacker can invent: when full, the
// least recently written entry is dropped. It is not safe for concurrent use.
type boundedMap[K comparable, V any] struct {
	max   int
	items map[K]*list.Element
	order *list.List // of *boundedEntry[K, V]; front = least recently written
}

type boundedEntry[K comparable, V any] struct {
	key K
	val V
}

func newBoundedMap[K comparable, V any](maxEntries int) *boundedMap[K, V] {
	return &boundedMap[K, V]{
		max:   max(maxEntries, 1),
		items: make(map[K]*list.Element),
		order: list.New(),
	}
}

func (b *boundedMap[K, V]) len() int { return len(b.items) }

// get returns a pointer to the value stored for k, which the caller may
// modify in place (without changing its position), or nil.
func (b *boundedMap[K, V]) get(k K) *V {
	if el, ok := b.items[k]; ok {
		return &el.Value.(*boundedEntry[K, V]).val
	}
	return nil
}

// put stores v for k, marks it most recent, and evicts the oldest entry if
// the map would otherwise exceed its size.
func (b *boundedMap[K, V]) put(k K, v V) {
	if el, ok := b.items[k]; ok {
		el.Value.(*boundedEntry[K, V]).val = v
		b.order.MoveToBack(el)
		return
	}
	for len(b.items) >= b.max {
		b.delete(b.order.Front().Value.(*boundedEntry[K, V]).key)
	}
	b.items[k] = b.order.PushBack(&boundedEntry[K, V]{key: k, val: v})
}

func (b *boundedMap[K, V]) delete(k K) {
	if el, ok := b.items[k]; ok {
		b.order.Remove(el)
		delete(b.items, k)
	}
}

// pruneOldest deletes entries from the old end for as long as expired
// reports true for them, and stops at the first one it keeps. Entries are
// ordered by last write, so this finds most dead entries cheaply without a
// full scan; the size cap bounds the rest.
func (b *boundedMap[K, V]) pruneOldest(expired func(*V) bool) {
	for el := b.order.Front(); el != nil; el = b.order.Front() {
		e := el.Value.(*boundedEntry[K, V])
		if !expired(&e.val) {
			return
		}
		b.delete(e.key)
	}
}

// deleteFunc deletes every entry for which match reports true.
func (b *boundedMap[K, V]) deleteFunc(match func(K, *V) bool) {
	for el := b.order.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*boundedEntry[K, V])
		if match(e.key, &e.val) {
			b.order.Remove(el)
			delete(b.items, e.key)
		}
		el = next
	}
}
