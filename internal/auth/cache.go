package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// verifyCache remembers recent successful password verifications, like
// Dovecot's auth_cache, so that a client logging in over and over does not
// pay for argon2 every time.
//
// An entry's key is HMAC-SHA256(secret, account ‖ 0 ‖ password ‖ 0 ‖ stored
// hash), where secret is random per process. So:
//   - the plaintext password is never stored, and a memory dump yields
//     nothing that can be attacked offline without the secret (which dies
//     with the process);
//   - a password change invalidates entries by itself, because the new
//     stored hash gives a different key;
//   - only a correct password can hit an entry; failures are never cached.
type verifyCache struct {
	secret [32]byte
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries *boundedMap[[sha256.Size]byte, cacheEntry]
}

type cacheEntry struct {
	account string // for Invalidate
	expires time.Time
}

func newVerifyCache(ttl time.Duration, maxEntries int, now func() time.Time) (*verifyCache, error) {
	c := &verifyCache{
		ttl:     ttl,
		now:     now,
		entries: newBoundedMap[[sha256.Size]byte, cacheEntry](maxEntries),
	}
	if _, err := rand.Read(c.secret[:]); err != nil {
		return nil, fmt.Errorf("auth: generating cache secret: %w", err)
	}
	return c, nil
}

func (c *verifyCache) key(account, password, storedHash string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.secret[:])
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write([]byte(password))
	m.Write([]byte{0})
	m.Write([]byte(storedHash))
	var k [sha256.Size]byte
	m.Sum(k[:0])
	return k
}

// hit reports whether password was verified against storedHash for account
// within the TTL.
func (c *verifyCache) hit(account, password, storedHash string) bool {
	k := c.key(account, password, storedHash)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries.get(k)
	if e == nil {
		return false
	}
	if !c.now().Before(e.expires) {
		c.entries.delete(k)
		return false
	}
	return true
}

// add records a successful verification. The TTL runs from here and is not
// extended by hits, so a cached password is re-checked at least once per TTL.
func (c *verifyCache) add(account, password, storedHash string) {
	k := c.key(account, password, storedHash)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.entries.pruneOldest(func(e *cacheEntry) bool { return !now.Before(e.expires) })
	c.entries.put(k, cacheEntry{account: account, expires: now.Add(c.ttl)})
}

// invalidate forgets every entry for account. It scans the whole cache,
// which is bounded and small, because this is rare (a password change or an
// account being disabled) and an index would have to be kept in step with
// evictions.
func (c *verifyCache) invalidate(account string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.deleteFunc(func(_ [sha256.Size]byte, e *cacheEntry) bool { return e.account == account })
}
