package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"time"
)

// Sharing the throttle's counts between nodes. Several Mailroom nodes
// behind one load balancer each ran a Throttle of their own, so an
// attacker spreading guesses over N nodes got N times the free failures
// and N times the rate. With ThrottleConfig.Shared set, every known
// failure is also added to counts in the store, which all nodes read:
//
//   - At admission, one read of up to four keys (the network's and the
//     account's failure counts, the network's failures at this account,
//     and whether the network is trusted for the account). A node's
//     decision uses the shared counts plus its own attempts in flight
//     (failures.pending), which are not shared: a burst of concurrent
//     guesses is charged in advance on the node it reaches, not across
//     nodes.
//   - A failure adds one to the shared counts; a success takes back the
//     network's failures at the account, like Success does locally. A
//     successful login with no failures on record writes nothing.
//   - The spacing of admitted checks while throttled (failures.last) stays
//     per node, so N nodes admit up to N checks per delay: the counts,
//     hence the delays, are the same everywhere.
//
// If the store cannot be read, the node decides from its own counts, as a
// single node always did.

// SharedCount is one of the throttle's counts as the store keeps it: a
// count of failures (decaying with the half-life) as of At, or for a
// trust record, the time of the successful login.
type SharedCount struct {
	Count float64
	At    time.Time
}

// SharedCounts is the store the throttle shares its counts in. Keys are
// short ASCII strings starting with "f:" (failure counts) or "t:" (trust).
type SharedCounts interface {
	// LoginCounts returns the counts of the keys that have one.
	LoginCounts(ctx context.Context, keys []string) (map[string]SharedCount, error)
	// AddLoginCounts decays each key's count to now (by halfLife) and
	// adds delta to it, atomically against every other node; a count
	// that falls below ForgetBelow is deleted.
	AddLoginCounts(ctx context.Context, keys []string, delta float64, now time.Time, halfLife time.Duration) error
	// PutLoginCount sets a key's count.
	PutLoginCount(ctx context.Context, key string, c SharedCount) error
	// PruneLoginCounts deletes the counts of keys starting with prefix
	// last changed before before, and returns how many.
	PruneLoginCounts(ctx context.Context, prefix string, before time.Time) (int, error)
}

// ForgetBelow is the decayed count under which a failure count is worth
// nothing and is dropped.
const ForgetBelow = forgetBelow

// sharedTimeout bounds the throttle's writes to the shared counts (after
// the password check, outside any caller's context).
const sharedTimeout = 5 * time.Second

// pruneEvery is how often a node prunes the shared counts (from its
// failure path): counts whose decay made them worthless, after
// pruneHalfLives half-lives (a count of a million is below ForgetBelow
// after 27), and trust records older than TrustTTL.
const (
	pruneEvery      = 10 * time.Minute
	pruneHalfLives  = 30
	trustRefreshDiv = 30 // a shared trust record is refreshed when older than TrustTTL/30
)

// sharedKeys are the keys of one attempt.
type sharedKeys struct {
	network, account, pair, trust string
}

func makeSharedKeys(network netip.Prefix, account string) sharedKeys {
	k := sharedKeys{network: "f:n:" + network.String()}
	if account == "" {
		return k
	}
	// Accounts are hashed: the store then holds no invented usernames
	// (nor real ones), and every key is short ASCII.
	hash := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:16])
	}
	pair := hash(account + "\x00" + network.String())
	k.account = "f:a:" + hash(account)
	k.pair = "f:p:" + pair
	k.trust = "t:" + pair
	return k
}

func (k sharedKeys) all() []string {
	if k.account == "" {
		return []string{k.network}
	}
	return []string{k.network, k.account, k.pair, k.trust}
}

// sharedView is what the admission read found.
type sharedView struct {
	ok bool // the read succeeded: decide from the shared counts
	// stale: failures were settled here while it was read, again and
	// again; this node's own counts are the floor then.
	stale  bool
	keys   sharedKeys
	counts map[string]SharedCount
}

// decayed returns key's count decayed to now.
func (v *sharedView) decayed(key string, now time.Time, halfLife time.Duration) float64 {
	c, ok := v.counts[key]
	if !ok {
		return 0
	}
	return decayCount(c.Count, now.Sub(c.At), halfLife)
}

func decayCount(count float64, elapsed, halfLife time.Duration) float64 {
	if elapsed <= 0 {
		return count
	}
	return count * math.Exp2(-elapsed.Seconds()/halfLife.Seconds())
}

// readShared reads the shared counts of an attempt.
func (t *Throttle) readShared(ctx context.Context, network netip.Prefix, account string) sharedView {
	v := sharedView{keys: makeSharedKeys(network, account)}
	if t.cfg.Shared == nil {
		return v
	}
	counts, err := t.cfg.Shared.LoginCounts(ctx, v.keys.all())
	if err != nil {
		return v
	}
	v.ok, v.counts = true, counts
	return v
}

// shareFailure adds a known failure to the shared counts, and now and
// then prunes them.
func (t *Throttle) shareFailure(v sharedView) {
	if t.cfg.Shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	now := t.now()
	keys := []string{v.keys.network}
	if v.keys.account != "" {
		keys = append(keys, v.keys.account, v.keys.pair)
	}
	// An error leaves this failure counted on this node only.
	_ = t.cfg.Shared.AddLoginCounts(ctx, keys, 1, now, t.cfg.HalfLife)

	t.mu.Lock()
	prune := now.Sub(t.lastPrune) >= pruneEvery
	if prune {
		t.lastPrune = now
	}
	t.mu.Unlock()
	if prune {
		_, _ = t.cfg.Shared.PruneLoginCounts(ctx, "f:", now.Add(-pruneHalfLives*t.cfg.HalfLife))
		_, _ = t.cfg.Shared.PruneLoginCounts(ctx, "t:", now.Add(-t.cfg.TrustTTL))
	}
}

// shareSuccess takes the network's failures at the account back from the
// network's shared count, and records the trust where it matters: only
// when the account has failures on record (someone may be guessing), and
// not again while the record is fresh. A login with no failures on record
// writes nothing.
func (t *Throttle) shareSuccess(v sharedView) {
	if t.cfg.Shared == nil || !v.ok || v.keys.account == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	now := t.now()
	if pair := v.decayed(v.keys.pair, now, t.cfg.HalfLife); pair > 0 {
		_ = t.cfg.Shared.AddLoginCounts(ctx, []string{v.keys.network, v.keys.pair}, -pair, now, t.cfg.HalfLife)
	}
	if _, failed := v.counts[v.keys.account]; !failed {
		return
	}
	if tr, ok := v.counts[v.keys.trust]; ok && now.Sub(tr.At) < t.cfg.TrustTTL/trustRefreshDiv {
		return
	}
	_ = t.cfg.Shared.PutLoginCount(ctx, v.keys.trust, SharedCount{Count: 1, At: now})
}

// sharedTrusted reports a shared trust record within TrustTTL.
func (t *Throttle) sharedTrusted(v sharedView, now time.Time) bool {
	if !v.ok || v.keys.trust == "" {
		return false
	}
	tr, ok := v.counts[v.keys.trust]
	return ok && now.Sub(tr.At) <= t.cfg.TrustTTL
}
