package pop3

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mailroom/internal/store"
)

// The maildrop lock: one POP3 session per account at a time (RFC 1939
// section 8), across every listener of every node serving the store. It is
// a lease in the store ("pop3/<account id>") held by the session's own
// token, renewed while the session lasts and released when it ends. A node
// that dies holding one lets it expire: the account can use POP3 again at
// most DefaultLockTTL later, without an operator.

// DefaultLockTTL is how long a maildrop lock lasts unless renewed; a live
// session renews it every third of that.
const DefaultLockTTL = 3 * time.Minute

// leaser is what the maildrop lock needs of the store.
type leaser interface {
	AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// maildropLock is one session's held maildrop lock.
type maildropLock struct {
	leases      leaser
	name, owner string
	ttl         time.Duration
	log         *slog.Logger

	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	lost     bool // a renewal found another session holding it
	released bool
}

func lockName(accountID int64) string { return "pop3/" + strconv.FormatInt(accountID, 10) }

// lockMaildrop takes the account's maildrop lock for owner and keeps it
// renewed until release. It returns nil, nil if another session holds it.
func lockMaildrop(ctx context.Context, leases leaser, accountID int64, owner string, ttl time.Duration, log *slog.Logger) (*maildropLock, error) {
	l := &maildropLock{leases: leases, name: lockName(accountID), owner: owner, ttl: ttl, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	got, err := leases.AcquireLease(ctx, l.name, owner, time.Now().Add(ttl))
	if err != nil || !got {
		return nil, err
	}
	go l.renewLoop()
	return l, nil
}

// renewLoop extends the lease every third of its length. A failed renewal
// (the database away for a moment) is tried again at the next tick; the
// lease lasts long enough for two more.
func (l *maildropLock) renewLoop() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ok, err := l.renew(context.Background())
		switch {
		case err != nil:
			l.log.Warn("renewing the maildrop lock failed", "lock", l.name, "err", err)
		case !ok:
			l.log.Warn("maildrop lock lost: it expired and another session took it", "lock", l.name)
			return
		}
	}
}

// renew extends the lease and reports whether the session still holds it.
func (l *maildropLock) renew(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost || l.released {
		return false, nil
	}
	ok, err := l.leases.AcquireLease(ctx, l.name, l.owner, time.Now().Add(l.ttl))
	if err != nil {
		return false, fmt.Errorf("renew maildrop lock: %w", err)
	}
	if !ok {
		l.lost = true
	}
	return ok, nil
}

// release stops the renewals and gives the lease up. It is safe to call
// more than once. If the store cannot be reached, the lease expires by
// itself.
func (l *maildropLock) release() {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.leases.ReleaseLease(ctx, l.name, l.owner); err != nil {
		l.log.Warn("releasing the maildrop lock failed; it expires by itself", "lock", l.name, "err", err)
	}
}

var _ leaser = store.Store(nil)
