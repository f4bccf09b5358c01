package delivery

import (
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
}

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
	m   map[int64]prefs
}

func newPrefsCache(sub *store.Subscription) *prefsCache {
	return &prefsCache{sub: sub, m: map[int64]prefs{}}
}

// get returns the prefs of an account, loading them with load on a miss.
func (c *prefsCache) get(ctx context.Context, accountID int64, load func(ctx context.Context, accountID int64) (prefs, error)) (prefs, error) {
	c.mu.Lock()
	c.syncLocked()
	p, ok := c.m[accountID]
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
	if c.gen == gen {
		c.m[accountID] = p
	}
	c.mu.Unlock()
	return p, nil
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
		c.gen++
		return
	}
	for _, e := range events {
		if e.Kind == store.EventAccountChanged {
			delete(c.m, e.AccountID)
			c.gen++
		}
	}
}
