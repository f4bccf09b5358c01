package delivery

import (
	"container/list"
	"context"
	"sync"

	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// prefs is what delivery needs to know of an account before a message
// arrives: its active Sieve script, compiled.
type prefs struct {
	script     *sieve.Script // nil: no active script, or one that does not compile
	scriptName string        // the active script's name, for the log
	size       int           // the octets of the script's source, for the cache's bound
}

// The cache's bounds: compiled scripts take about five times their
// source in memory (a 50-rule script, 5 KiB, about 28 KiB), so 16 MiB of
// source is some 90 MiB held at most however many accounts have scripts;
// beyond either bound the accounts delivered to longest ago are dropped,
// and compile again (a 50-rule script in about 0.3 ms) when mail comes.
const (
	maxCachedScriptBytes = 16 << 20
	maxCachedAccounts    = 100_000
)

// prefsCache keeps the prefs of the accounts mail was delivered to, so
// that a delivery neither reads nor compiles a script per recipient. The store's
// change feed keeps it right: every settings and script write publishes
// EventAccountChanged for the account (also when another process, such
// as `mailroom user set`, made it), and the cache reads the pending
// events before each use. It needs no goroutine of its own, so an Agent
// has nothing to stop.
type prefsCache struct {
	sub *store.Subscription

	mu sync.Mutex
	// gen counts invalidations: a load that started before one must not
	// store what it read, which may predate the change.
	gen uint64
	m   map[int64]*list.Element // of *cachedPrefs, most recently used first
	lru *list.List
	// bytes is the script source the cached prefs hold.
	bytes int
}

type cachedPrefs struct {
	accountID int64
	prefs     prefs
}

func newPrefsCache(sub *store.Subscription) *prefsCache {
	return &prefsCache{sub: sub, m: map[int64]*list.Element{}, lru: list.New()}
}

// get returns the prefs of an account, loading them with load on a miss.
func (c *prefsCache) get(ctx context.Context, accountID int64, load func(ctx context.Context, accountID int64) (prefs, error)) (prefs, error) {
	c.mu.Lock()
	c.syncLocked()
	e, ok := c.m[accountID]
	var p prefs
	if ok {
		c.lru.MoveToFront(e)
		p = e.Value.(*cachedPrefs).prefs
	}
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := load(ctx, accountID)
	if err != nil {
		return prefs{}, err
	}
	c.mu.Lock()
	c.syncLocked()
	if _, there := c.m[accountID]; c.gen == gen && !there {
		c.m[accountID] = c.lru.PushFront(&cachedPrefs{accountID: accountID, prefs: p})
		c.bytes += p.size
		for c.lru.Len() > 1 && (c.bytes > maxCachedScriptBytes || c.lru.Len() > maxCachedAccounts) {
			c.removeLocked(c.lru.Back())
		}
	}
	c.mu.Unlock()
	return p, nil
}

func (c *prefsCache) removeLocked(e *list.Element) {
	cp := c.lru.Remove(e).(*cachedPrefs)
	delete(c.m, cp.accountID)
	c.bytes -= cp.prefs.size
}

// syncLocked applies the change events pending on the subscription.
func (c *prefsCache) syncLocked() {
	select {
	case <-c.sub.Ready():
	default:
		return
	}
	events, overflowed, closed := c.sub.Next()
	if overflowed || closed {
		// Events were lost (or will not come any more): start afresh.
		clear(c.m)
		c.lru.Init()
		c.bytes = 0
		c.gen++
		return
	}
	for _, e := range events {
		if e.Kind == store.EventAccountChanged {
			if el, ok := c.m[e.AccountID]; ok {
				c.removeLocked(el)
			}
			c.gen++
		}
	}
}
