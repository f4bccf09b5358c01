package delivery

import (
	"context"
	"sync"
	"time"

	"mailroom/internal/store"
)

// prefs is what delivery needs from an account's settings.
type prefs struct {
	forward  []string  // forward.to; nil: no forwarding
	keep     bool      // forward.keep
	vacation *vacation // nil: vacation.enabled is off
}

// vacation is an account's vacation notice.
type vacation struct {
	subject, body string
	start, end    time.Time // zero: open-ended
	interval      time.Duration
}

// active reports whether the notice goes out for mail arriving at now.
func (v *vacation) active(now time.Time) bool {
	return (v.start.IsZero() || !now.Before(v.start)) && (v.end.IsZero() || now.Before(v.end))
}

func prefsFrom(s store.Settings) prefs {
	p := prefs{forward: s.Addresses("forward.to"), keep: s.Bool("forward.keep")}
	if s.Bool("vacation.enabled") {
		v := &vacation{
			subject:  s.String("vacation.subject"),
			body:     s.String("vacation.body"),
			interval: time.Duration(s.Int("vacation.interval_days")) * 24 * time.Hour,
		}
		if t := s.Int("vacation.from"); t > 0 {
			v.start = time.Unix(t, 0)
		}
		if t := s.Int("vacation.until"); t > 0 {
			v.end = time.Unix(t, 0)
		}
		if v.interval <= 0 {
			v.interval = 24 * time.Hour // never below Sieve's minimum of one day
		}
		p.vacation = v
	}
	return p
}

// prefsCache keeps the prefs of the accounts mail was delivered to, so
// that a delivery costs no settings query per recipient. The store's
// change feed keeps it right: every settings write publishes
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
func (c *prefsCache) get(ctx context.Context, accountID int64, load func(ctx context.Context, accountID int64) (store.Settings, error)) (prefs, error) {
	c.mu.Lock()
	c.syncLocked()
	p, ok := c.m[accountID]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	s, err := load(ctx, accountID)
	if err != nil {
		return prefs{}, err
	}
	p = prefsFrom(s)
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
