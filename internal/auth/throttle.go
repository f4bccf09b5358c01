package auth

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig tunes the login Throttle. The zero value of every field
// means "use the default" documented on it.
type ThrottleConfig struct {
	// IPFreeFailures is how many failures a client network may have
	// (after decay) before its attempts are delayed. Default 5. A negative
	// value means none are free.
	IPFreeFailures int
	// AccountFreeFailures is the same for an account, counting failures
	// from everywhere. Default 10. A negative value means none are free.
	AccountFreeFailures int
	// BaseDelay is the delay at the first throttled attempt; it doubles
	// with every further failure. Default 1s.
	BaseDelay time.Duration
	// MaxDelay caps the delay. Default 30s: long enough to make guessing
	// slow (two attempts a minute per network), short enough that a
	// mail client retrying is merely slow, never locked out.
	MaxDelay time.Duration
	// HalfLife is how fast failures are forgotten: the failure count of a
	// network or account halves every HalfLife without new failures.
	// Default 10m, so a maxed-out attacker is back to free attempts
	// after about half an hour of silence.
	HalfLife time.Duration
	// TrustTTL is how long a successful login from a network exempts that
	// network from the account's delay. Default 30 days, so clients that
	// check mail at least monthly stay trusted.
	TrustTTL time.Duration
	// IPv6PrefixLen is the prefix IPv6 addresses are grouped by. A single
	// subscriber usually gets a whole /64, so counting per address would let
	// one attacker rotate through 2^64 of them. Default 64.
	IPv6PrefixLen int
	// MaxEntries caps each of the throttle's tables (networks, accounts,
	// trusted network/account pairs). Default 65536; at roughly 150 bytes
	// an entry that is about 10 MiB per table at worst.
	MaxEntries int
	// Shared, if not nil, is where the failure counts are shared with the
	// other nodes serving the same accounts (see sharedcounts.go). Nil:
	// this process's counts are all there is.
	Shared SharedCounts
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	free := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	free(&c.IPFreeFailures, 5)
	free(&c.AccountFreeFailures, 10)
	dur(&c.BaseDelay, time.Second)
	dur(&c.MaxDelay, 30*time.Second)
	dur(&c.HalfLife, 10*time.Minute)
	dur(&c.TrustTTL, 30*24*time.Hour)
	if c.IPv6PrefixLen <= 0 || c.IPv6PrefixLen > 128 {
		c.IPv6PrefixLen = 64
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 65536
	}
	if c.MaxDelay < c.BaseDelay {
		c.MaxDelay = c.BaseDelay
	}
	return c
}

// Throttle slows down password guessing for every protocol at once.
//
// It keeps a decaying failure count per client network (IPv4 address, IPv6
// /64) and per account. Once a count passes its free allowance, each attempt
// waits BaseDelay·2^(excess), capped at MaxDelay. Counts decay continuously,
// so nothing is ever a permanent lockout.
//
// The account delay exists because an attacker with many addresses gets the
// free per-network failures on each of them. It does not apply to a network
// that recently logged in to that account successfully: otherwise such an
// attacker could make the real user's own mail client wait on every login.
//
// A Throttle is safe for concurrent use.
type Throttle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu       sync.Mutex
	networks *boundedMap[netip.Prefix, failures]
	accounts *boundedMap[string, failures]
	// pairs counts a network's failures per account, so that a success
	// takes back only that account's failures from the network's count
	// (logging in to one's own account must not clear the guesses at
	// others).
	pairs *boundedMap[trustKey, failures]
	// trusted records successful logins. Only a correct password creates an
	// entry, so an attacker cannot flood it, and it is kept apart from
	// accounts so that flooding accounts with invented names cannot evict
	// the real user's trust.
	trusted *boundedMap[trustKey, time.Time]
	// lastPrune is when this node last pruned the shared counts.
	lastPrune time.Time
	// settled counts the failures this node has settled (turned from
	// pending into known) after writing them to the shared counts: an
	// admission whose read of the shared counts began before one was
	// written reads them again (see AdmitContext).
	settled uint64
}

type failures struct {
	count float64   // as of at
	at    time.Time // last update
	// last is when the last password check was admitted: while the count
	// is over its allowance the next one waits the delay from there (one
	// check per delay, however many connections ask at once).
	last time.Time
	// pending is the part of count that is charges of attempts admitted
	// and not yet decided (see admit.go), decaying with it: what this
	// node adds to the shared counts, which hold only known failures.
	pending float64
}

type trustKey struct {
	account string
	network netip.Prefix
}

// maxAccountKeyLen bounds the memory one invented username can use.
// Truncation can only merge counts of absurdly long names.
const maxAccountKeyLen = 256

// NewThrottle returns a Throttle. now is the clock; nil means time.Now.
func NewThrottle(cfg ThrottleConfig, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	cfg = cfg.withDefaults()
	return &Throttle{
		cfg:      cfg,
		now:      now,
		networks: newBoundedMap[netip.Prefix, failures](cfg.MaxEntries),
		accounts: newBoundedMap[string, failures](cfg.MaxEntries),
		pairs:    newBoundedMap[trustKey, failures](cfg.MaxEntries),
		trusted:  newBoundedMap[trustKey, time.Time](cfg.MaxEntries),
	}
}

// Delay returns the spacing the throttle now imposes between password
// checks for account from ip (0: none). Callers pass the normalised
// account name.
func (t *Throttle) Delay(ip netip.Addr, account string) time.Duration {
	network, account := t.network(ip), accountKey(account)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var d time.Duration
	if f := t.networks.get(network); f != nil {
		d = t.delayFor(f.decayed(now, t.cfg.HalfLife), t.cfg.IPFreeFailures)
	}
	if account == "" {
		return d
	}
	if f := t.accounts.get(account); f != nil {
		ad := t.delayFor(f.decayed(now, t.cfg.HalfLife), t.cfg.AccountFreeFailures)
		if ad > d && !t.isTrusted(trustKey{account, network}, now) {
			d = ad
		}
	}
	return d
}

// Failure records a failed login attempt.
func (t *Throttle) Failure(ip netip.Addr, account string) {
	network, account := t.network(ip), accountKey(account)
	t.mu.Lock()
	t.charge(network, account, t.now(), true, true, false)
	t.mu.Unlock()
	t.shareFailure(sharedView{keys: makeSharedKeys(network, account)})
}

// Success records a successful login: the network's failures at this
// account are taken back from its count (a user who mistyped is not held
// back by it), and the network becomes trusted for the account. The
// network's failures at other accounts stay: logging in to one's own
// account must not clear the guesses at others (password spraying). The
// account's failure count is kept too, because an attacker elsewhere may
// still be guessing.
func (t *Throttle) Success(ip netip.Addr, account string) {
	network, account := t.network(ip), accountKey(account)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.success(network, account, t.now())
}

func (t *Throttle) success(network netip.Prefix, account string, now time.Time) {
	if account == "" {
		return
	}
	k := trustKey{account, network}
	if p := t.pairs.get(k); p != nil {
		// The pair's pending charges leave the network's count with
		// the rest, but stay in its pending part until their tickets
		// are decided.
		subtract(t.networks, network, p.decayed(now, t.cfg.HalfLife), 0, now, t.cfg.HalfLife)
		t.pairs.delete(k)
	}
	t.trusted.pruneOldest(func(at *time.Time) bool { return now.Sub(*at) > t.cfg.TrustTTL })
	t.trusted.put(k, now)
}

// subtract takes n failures back from key's count, pending of them from
// its pending part.
func subtract[K comparable](m *boundedMap[K, failures], key K, n, pending float64, now time.Time, halfLife time.Duration) {
	f := m.get(key)
	if f == nil {
		return
	}
	c := f.decayed(now, halfLife) - n
	if c < forgetBelow {
		m.delete(key)
		return
	}
	p := min(max(f.decayedPending(now, halfLife)-pending, 0), c)
	m.put(key, failures{count: c, at: now, last: f.last, pending: p})
}

// forgetBelow is the decayed count under which an entry is worth nothing
// and may be dropped.
const forgetBelow = 0.01

// addFailure counts one failure at key: a known one, or (pending) the
// charge of an attempt in flight.
func addFailure[K comparable](m *boundedMap[K, failures], key K, pending bool, now time.Time, halfLife time.Duration) {
	count, p := 1.0, 0.0
	if pending {
		p = 1
	}
	var last time.Time
	if f := m.get(key); f != nil {
		count += f.decayed(now, halfLife)
		p += f.decayedPending(now, halfLife)
		last = f.last
	} else {
		m.pruneOldest(func(f *failures) bool { return f.decayed(now, halfLife) < forgetBelow })
	}
	m.put(key, failures{count: count, at: now, last: last, pending: p})
}

func (f *failures) decayed(now time.Time, halfLife time.Duration) float64 {
	return decayCount(f.count, now.Sub(f.at), halfLife)
}

func (f *failures) decayedPending(now time.Time, halfLife time.Duration) float64 {
	return decayCount(f.pending, now.Sub(f.at), halfLife)
}

// delayFor maps a decayed failure count to a delay: nothing while the count
// is within the free allowance, then BaseDelay doubling per further failure.
// The exponent is fractional so the delay shrinks smoothly as failures decay.
// Half a failure of slack absorbs the decay between quick attempts, so the
// (free+1)-th attempt in a row is reliably delayed.
func (t *Throttle) delayFor(count float64, free int) time.Duration {
	excess := count - float64(free)
	if excess < -0.5 {
		return 0
	}
	excess = max(excess, 0)
	limit := float64(t.cfg.MaxDelay)
	d := float64(t.cfg.BaseDelay) * math.Exp2(excess)
	if d >= limit || math.IsInf(d, 0) || math.IsNaN(d) {
		return t.cfg.MaxDelay
	}
	return time.Duration(d)
}

func (t *Throttle) isTrusted(k trustKey, now time.Time) bool {
	at := t.trusted.get(k)
	return at != nil && now.Sub(*at) <= t.cfg.TrustTTL
}

// network groups ip into the unit throttled together: the IPv4 address, or
// the IPv6 /64 (IPv6PrefixLen). IPv4-mapped IPv6 counts as IPv4.
func (t *Throttle) network(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = t.cfg.IPv6PrefixLen
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		// An invalid address (unknown remote): all such attempts share
		// the zero Prefix, which is throttled like any other network.
		return netip.Prefix{}
	}
	return p
}

func accountKey(account string) string {
	if len(account) > maxAccountKeyLen {
		return account[:maxAccountKeyLen]
	}
	return account
}
