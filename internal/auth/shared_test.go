package auth_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

// These tests run two Throttles, as two nodes do, on one store: SQLite
// (one store for both) and PostgreSQL (a store, a connection pool, each).

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backends opens, per backend, the shared counts of two nodes on one store.
var backends = []struct {
	name string
	open func(t testing.TB) (a, b auth.SharedCounts)
}{
	{"sqlite", func(t testing.TB) (a, b auth.SharedCounts) {
		st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, st
	}},
	{"postgres", func(t testing.TB) (a, b auth.SharedCounts) {
		dsn := pgtest.Start(t).NewDatabase(t)
		open := func() auth.SharedCounts {
			st, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return open(), open()
	}},
}

func twoThrottles(t *testing.T, a, b auth.SharedCounts, clk *clock) (*auth.Throttle, *auth.Throttle) {
	cfg := auth.ThrottleConfig{IPFreeFailures: 3, AccountFreeFailures: 5, BaseDelay: time.Second,
		MaxDelay: 30 * time.Second, HalfLife: 10 * time.Minute, TrustTTL: 24 * time.Hour}
	ca, cb := cfg, cfg
	ca.Shared, cb.Shared = a, b
	return auth.NewThrottle(ca, clk.now), auth.NewThrottle(cb, clk.now)
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)} }

// fail makes one failed attempt, which must be admitted.
func fail(t *testing.T, th *auth.Throttle, ip, account string) {
	t.Helper()
	tk, retry := th.Admit(netip.MustParseAddr(ip), account)
	if tk == nil {
		t.Fatalf("attempt for %q from %s refused (retry in %v), want admitted", account, ip, retry)
	}
	tk.Failure()
}

func wantRefused(t *testing.T, th *auth.Throttle, ip, account string) {
	t.Helper()
	tk, retry := th.Admit(netip.MustParseAddr(ip), account)
	if tk != nil {
		tk.Abandon()
		t.Fatalf("attempt for %q from %s admitted, want refused", account, ip)
	}
	if retry <= 0 {
		t.Fatalf("refused without a retry time")
	}
}

func wantAdmitted(t *testing.T, th *auth.Throttle, ip, account string) *auth.Ticket {
	t.Helper()
	tk, retry := th.Admit(netip.MustParseAddr(ip), account)
	if tk == nil {
		t.Fatalf("attempt for %q from %s refused (retry in %v), want admitted", account, ip, retry)
	}
	return tk
}

// A network's guesses on node A count on node B: B lets one check through
// per delay at once, where on its own it would have given the network its
// whole free allowance.
func TestSharedThrottleNetworkAcrossNodes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clk := newClock()
			sa, sb := be.open(t)
			a, b := twoThrottles(t, sa, sb, clk)
			for i := range 3 {
				fail(t, a, "192.0.2.7", "user"+string(rune('a'+i)))
			}
			wantRefused(t, a, "192.0.2.7", "usery")
			// B: the delay applies; B's first check of the network goes
			// through, the next waits.
			fail(t, b, "192.0.2.7", "userx")
			wantRefused(t, b, "192.0.2.7", "userz")
			// Other networks are not affected.
			wantAdmitted(t, b, "192.0.2.8", "userz").Abandon()
			// The delay doubles with every failure, wherever it was:
			// 2 s after B's last check, 4 failures would let B check
			// again, 5 make it wait 4 s.
			clk.advance(2 * time.Second)
			fail(t, a, "192.0.2.7", "userw")
			wantRefused(t, b, "192.0.2.7", "userv")
			// And the counts decay: after a few half-lives, all is free.
			clk.advance(time.Hour)
			wantAdmitted(t, b, "192.0.2.7", "userv").Abandon()
		})
	}
}

// Guesses at one account from many networks, spread over two nodes, count
// together; the network the account's owner logged in from (on either
// node) is trusted on both.
func TestSharedThrottleAccountAcrossNodes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clk := newClock()
			sa, sb := be.open(t)
			a, b := twoThrottles(t, sa, sb, clk)
			// Five failures from five addresses on A: B's first check
			// of the account goes through, the next waits.
			for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"} {
				fail(t, a, ip, "ann@example.test")
			}
			fail(t, b, "198.51.100.6", "ann@example.test")
			wantRefused(t, b, "198.51.100.7", "ann@example.test")

			// Ann logs in on A from her own network: A trusts it, and
			// so does B, where the account's gate is closed for others.
			clk.advance(time.Minute)
			fail(t, b, "198.51.100.8", "ann@example.test") // B's gate: just used
			wantAdmitted(t, a, "203.0.113.9", "ann@example.test").Success()
			wantAdmitted(t, b, "203.0.113.9", "ann@example.test").Success()
			wantRefused(t, b, "198.51.100.9", "ann@example.test")
		})
	}
}

// A user who mistyped on node A and then logged in on node B has the
// mistakes taken back from the network's count everywhere.
func TestSharedThrottleSuccessTakesBackAcrossNodes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clk := newClock()
			sa, sb := be.open(t)
			a, b := twoThrottles(t, sa, sb, clk)
			for range 3 {
				fail(t, a, "203.0.113.5", "bob@example.test")
			}
			clk.advance(2 * time.Second) // the delay of 3 failures (1 s) is over
			wantAdmitted(t, b, "203.0.113.5", "bob@example.test").Success()
			// The network's count is back to nothing: three failures
			// in a row on A for other accounts are free again.
			for _, acct := range []string{"c1", "c2", "c3"} {
				fail(t, a, "203.0.113.5", acct)
			}
		})
	}
}

// Attempts in flight stay per node: a burst on A is charged in advance on
// A (the account's free allowance, then nothing); once they failed, a
// burst on B gets one check, not B's own allowance.
func TestSharedThrottleInFlight(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clk := newClock()
			sa, sb := be.open(t)
			a, b := twoThrottles(t, sa, sb, clk)
			burst := func(th *auth.Throttle) []*auth.Ticket {
				var tickets []*auth.Ticket
				for range 30 {
					if tk, _ := th.Admit(netip.MustParseAddr("192.0.2.7"), "alice"); tk != nil {
						tickets = append(tickets, tk)
					}
				}
				return tickets
			}
			tickets := burst(a)
			if len(tickets) != 5 {
				t.Fatalf("A admitted %d of 30 simultaneous attempts, want the account's 5 free ones", len(tickets))
			}
			// Abandoned attempts take their charges back: the next burst
			// gets the allowance again.
			for _, tk := range tickets {
				tk.Abandon()
			}
			if tickets = burst(a); len(tickets) != 5 {
				t.Fatalf("after abandoning, A admitted %d, want 5", len(tickets))
			}
			for _, tk := range tickets {
				tk.Failure()
			}
			if got := burst(b); len(got) != 1 {
				t.Fatalf("B admitted %d of 30 after A's 5 failures, want 1", len(got))
			}
		})
	}
}

// BenchmarkSharedThrottleLogin is what sharing the counts costs a clean
// login (Admit, then Success, no failures on record: one read) and a
// failed one (a read and a write), per backend, against the throttle in
// memory alone. The allowances are huge, so nothing is ever delayed.
func BenchmarkSharedThrottleLogin(b *testing.B) {
	cfg := auth.ThrottleConfig{IPFreeFailures: 1 << 30, AccountFreeFailures: 1 << 30}
	run := func(b *testing.B, shared auth.SharedCounts, fail bool) {
		c := cfg
		c.Shared = shared
		th := auth.NewThrottle(c, nil)
		ip := netip.MustParseAddr("203.0.113.1")
		for b.Loop() {
			tk, _ := th.Admit(ip, "ann@example.test")
			if tk == nil {
				b.Fatal("refused")
			}
			if fail {
				tk.Failure()
			} else {
				tk.Success()
			}
		}
	}
	for _, outcome := range []string{"success", "failure"} {
		fail := outcome == "failure"
		b.Run("memory/"+outcome, func(b *testing.B) { run(b, nil, fail) })
		for _, be := range backends {
			b.Run(be.name+"/"+outcome, func(b *testing.B) {
				shared, _ := be.open(b)
				run(b, shared, fail)
			})
		}
	}
}

// heldRead makes the next read of the shared counts wait, after it read,
// until released: the moment between an admission's read and its
// decision, held open.
type heldRead struct {
	auth.SharedCounts
	next chan heldGate
}

type heldGate struct{ reached, release chan struct{} }

func (h *heldRead) LoginCounts(ctx context.Context, keys []string) (map[string]auth.SharedCount, error) {
	m, err := h.SharedCounts.LoginCounts(ctx, keys)
	select {
	case g := <-h.next:
		close(g.reached)
		<-g.release
	default:
	}
	return m, err
}

// A failure settled while an admission's read of the shared counts was on
// its way (written after the read, settled before the decision) is still
// counted: the admission reads again. Before, it was in neither the read
// nor the pending charges, and one more password check got through
// (TestParallelGuessesBounded in internal/imap, on PostgreSQL, now and
// then).
func TestSharedThrottleFailureDuringRead(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clk := newClock()
			sa, _ := be.open(t)
			h := &heldRead{SharedCounts: sa, next: make(chan heldGate, 1)}
			th, _ := twoThrottles(t, h, sa, clk)
			// Four failures at one account, each from a network of its
			// own (so only the account's allowance of 5 matters).
			for i := 1; i <= 4; i++ {
				fail(t, th, fmt.Sprintf("198.51.%d.1", i), "carol")
			}
			fifth := wantAdmitted(t, th, "198.51.5.1", "carol")
			g := heldGate{reached: make(chan struct{}), release: make(chan struct{})}
			h.next <- g
			admitted := make(chan bool)
			go func() {
				tk, _ := th.Admit(netip.MustParseAddr("198.51.6.1"), "carol")
				if tk != nil {
					tk.Abandon()
				}
				admitted <- tk != nil
			}()
			<-g.reached // the sixth attempt's read is done, its decision not yet
			fifth.Failure()
			close(g.release)
			if <-admitted {
				t.Fatal("a sixth attempt at the account was admitted at once after five failures")
			}
		})
	}
}
