package auth

import (
	"context"
	"math"
	"net/netip"
	"time"
)

// Admission. Waiting out the delay inside each attempt bounded nothing: 30
// connections each waited the same 30 s at the same time and then each
// checked a password. Instead, while a network's (or an account's)
// failures are over their allowance, the throttle lets one password check
// through per delay and refuses the others at once ("try later"). And an
// attempt counts as a failure from the moment it is admitted, before its
// result: parallel attempts see each other, so a burst of guesses cannot
// all pass within the free allowance. A success or an attempt that ends
// without a result (store error, client gone) takes its charge back.
//
// Attempts at an account from a network trusted for it (a recent
// successful login) are not charged in advance: a user's mail client
// opening ten connections at once is not held back. Their failures count
// as usual once known, and the network's own gate applies to them.
//
// A network is charged in advance only once it has failures on record:
// a school or office behind one NAT address, whose users all log in at
// eight o'clock, is not refused for being many. What a clean network can
// get through at once is bounded by the per-address connection caps and
// each account's own charge (guesses at one account are charged in
// advance wherever they come from), and its first failures make the next
// attempts charged.

// Ticket is an admitted login attempt. Report its outcome with exactly
// one of Failure, Success or Abandon; later calls do nothing. A nil
// Ticket (no throttle) accepts them all and does nothing.
type Ticket struct {
	t       *Throttle
	network netip.Prefix
	account string
	at      time.Time // when it was admitted (and charged)
	// What was charged at admission: the network's side (its count and
	// its count at this account) and the account's.
	chargedNetwork, chargedAccount bool
	done                           bool
	// shared is what the shared counts said at admission.
	shared sharedView
}

// Admit decides whether a password check for account (normalised) from
// ip may run now. If so it returns a Ticket; if not, nil and how long
// until one may.
func (t *Throttle) Admit(ip netip.Addr, account string) (*Ticket, time.Duration) {
	return t.AdmitContext(context.Background(), ip, account)
}

// AdmitContext is Admit; ctx bounds the read of the shared counts.
func (t *Throttle) AdmitContext(ctx context.Context, ip netip.Addr, account string) (*Ticket, time.Duration) {
	network, account := t.network(ip), accountKey(account)
	// The shared counts are read outside the lock (it is I/O). A failure
	// settled meanwhile left this node's pending charges for the shared
	// counts, which the read may predate: then read them again, so that
	// it is counted one way or the other. Failures settle a few times a
	// second at most while throttled, so a third read is rare; after it
	// this node's own count is the floor.
	var shared sharedView
	stale := false
	for reads := 1; ; reads++ {
		t.mu.Lock()
		settled := t.settled
		t.mu.Unlock()
		shared = t.readShared(ctx, network, account)
		t.mu.Lock()
		if !shared.ok || t.settled == settled {
			break
		}
		if reads == 3 {
			stale = true
			break
		}
		t.mu.Unlock()
	}
	defer t.mu.Unlock()
	shared.stale = stale
	now := t.now()
	trusted := account != "" && (t.isTrusted(trustKey{account, network}, now) || t.sharedTrusted(shared, now))

	netCount := t.count(t.networks.get(network), &shared, shared.keys.network, now)
	if d := t.delayFor(netCount, t.cfg.IPFreeFailures); d > 0 {
		if f := t.networks.get(network); f != nil && now.Before(f.last.Add(d)) {
			return nil, f.last.Add(d).Sub(now)
		}
	}
	var acctCount float64
	if account != "" && !trusted {
		acctCount = t.count(t.accounts.get(account), &shared, shared.keys.account, now)
		if d := t.delayFor(acctCount, t.cfg.AccountFreeFailures); d > 0 {
			if f := t.accounts.get(account); f != nil && now.Before(f.last.Add(d)) {
				return nil, f.last.Add(d).Sub(now)
			}
		}
	}
	tk := &Ticket{t: t, network: network, account: account, at: now, shared: shared}
	if !trusted {
		tk.chargedNetwork = netCount >= 1
		tk.chargedAccount = account != ""
		t.charge(network, account, now, tk.chargedNetwork, tk.chargedAccount, true)
	}
	// Where failures are on record (here or on another node), the next
	// check waits its delay from this one's admission.
	if f := gateEntry(t.networks, network, netCount, now); f != nil {
		f.last = now
	}
	if !trusted && account != "" {
		if f := gateEntry(t.accounts, account, acctCount, now); f != nil {
			f.last = now
		}
	}
	return tk, 0
}

// count is the failure count a decision uses: with the shared counts,
// every node's known failures plus this node's attempts in flight;
// without them, this node's own count.
func (t *Throttle) count(f *failures, shared *sharedView, key string, now time.Time) float64 {
	if !shared.ok {
		if f == nil {
			return 0
		}
		return f.decayed(now, t.cfg.HalfLife)
	}
	c := shared.decayed(key, now, t.cfg.HalfLife)
	if f != nil {
		c += f.decayedPending(now, t.cfg.HalfLife)
		if shared.stale {
			c = max(c, f.decayed(now, t.cfg.HalfLife))
		}
	}
	return c
}

// gateEntry returns key's entry, made if only the shared counts have
// failures on record for it (its last admission is kept here).
func gateEntry[K comparable](m *boundedMap[K, failures], key K, count float64, now time.Time) *failures {
	if f := m.get(key); f != nil || count < forgetBelow {
		return f
	}
	m.put(key, failures{at: now})
	return m.get(key)
}

// Failure reports a wrong password (or unknown account).
func (tk *Ticket) Failure() {
	if tk == nil || tk.done {
		return
	}
	tk.done = true
	t := tk.t
	// Into the shared counts first: until the write is done, the charge
	// stays pending here, so that this node's admissions count it either
	// way.
	t.shareFailure(tk.shared)
	t.mu.Lock()
	t.settled++
	now := t.now()
	// What was charged at admission is counted already; it is a known
	// failure now, no longer pending.
	t.charge(tk.network, tk.account, now, !tk.chargedNetwork, !tk.chargedAccount, false)
	c := tk.charge(now)
	if tk.chargedNetwork {
		settle(t.networks, tk.network, c, now, t.cfg.HalfLife)
		if tk.account != "" {
			settle(t.pairs, trustKey{tk.account, tk.network}, c, now, t.cfg.HalfLife)
		}
	}
	if tk.chargedAccount {
		settle(t.accounts, tk.account, c, now, t.cfg.HalfLife)
	}
	if !tk.chargedNetwork {
		// The network had no count when this check was admitted; the
		// next check waits its delay from this one's admission.
		if f := t.networks.get(tk.network); f != nil && f.last.Before(tk.at) {
			f.last = tk.at
		}
	}
	t.mu.Unlock()
}

// settle turns n of key's pending charges into known failures.
func settle[K comparable](m *boundedMap[K, failures], key K, n float64, now time.Time, halfLife time.Duration) {
	if f := m.get(key); f != nil {
		f.pending = max(f.decayedPending(now, halfLife)-n, 0)
		f.count = f.decayed(now, halfLife)
		f.at = now
	}
}

// Success reports a correct password: see Throttle.Success.
func (tk *Ticket) Success() {
	if tk == nil || tk.done {
		return
	}
	tk.done = true
	t := tk.t
	t.mu.Lock()
	now := t.now()
	if tk.chargedAccount {
		// The network's and the pair's charge go with the pair's
		// failures in success; the account's is taken back here.
		subtract(t.accounts, tk.account, tk.charge(now), tk.charge(now), now, t.cfg.HalfLife)
	}
	if tk.chargedNetwork {
		// success takes the charge from the network's count with the
		// pair's; its pending part goes here.
		settle(t.networks, tk.network, tk.charge(now), now, t.cfg.HalfLife)
	}
	t.success(tk.network, tk.account, now)
	t.mu.Unlock()
	t.shareSuccess(tk.shared)
}

// Abandon reports an attempt that ended without a result: its charge is
// taken back.
func (tk *Ticket) Abandon() {
	if tk == nil || tk.done {
		return
	}
	tk.done = true
	if !tk.chargedNetwork && !tk.chargedAccount {
		return
	}
	t := tk.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	c := tk.charge(now)
	if tk.chargedNetwork {
		subtract(t.networks, tk.network, c, c, now, t.cfg.HalfLife)
		if tk.account != "" {
			subtract(t.pairs, trustKey{tk.account, tk.network}, c, c, now, t.cfg.HalfLife)
		}
	}
	if tk.chargedAccount {
		subtract(t.accounts, tk.account, c, c, now, t.cfg.HalfLife)
	}
}

// charge counts a failure on the network's side (the network and its
// count at account) and on the account's, as asked: a known one, or
// (pending) the charge of an attempt admitted in advance of its result.
func (t *Throttle) charge(network netip.Prefix, account string, now time.Time, onNetwork, onAccount, pending bool) {
	if onNetwork {
		addFailure(t.networks, network, pending, now, t.cfg.HalfLife)
		if account != "" {
			addFailure(t.pairs, trustKey{account, network}, pending, now, t.cfg.HalfLife)
		}
	}
	if onAccount && account != "" {
		addFailure(t.accounts, account, pending, now, t.cfg.HalfLife)
	}
}

// charge is what the failure charged at admission is worth now.
func (tk *Ticket) charge(now time.Time) float64 {
	return math.Exp2(-now.Sub(tk.at).Seconds() / tk.t.cfg.HalfLife.Seconds())
}
