package auth

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testThrottleConfig = ThrottleConfig{
	IPFreeFailures:      3,
	AccountFreeFailures: 5,
	BaseDelay:           time.Second,
	MaxDelay:            30 * time.Second,
	HalfLife:            10 * time.Minute,
	TrustTTL:            24 * time.Hour,
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestThrottleDefaults(t *testing.T) {
	th := NewThrottle(ThrottleConfig{}, nil)
	c := th.cfg
	if c.IPFreeFailures != 5 || c.AccountFreeFailures != 10 || c.BaseDelay != time.Second ||
		c.MaxDelay != 30*time.Second || c.HalfLife != 10*time.Minute || c.TrustTTL != 30*24*time.Hour ||
		c.IPv6PrefixLen != 64 || c.MaxEntries != 65536 {
		t.Fatalf("unexpected defaults %+v", c)
	}
	if d := NewThrottle(ThrottleConfig{IPFreeFailures: -1}, nil).cfg.IPFreeFailures; d != 0 {
		t.Fatalf("negative IPFreeFailures gave %d, want 0", d)
	}
}

func TestThrottlePerIPExponentialCapped(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	ip := addr("127.0.0.1") // loopback is not exempt
	want := []time.Duration{0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		// Each attempt is for a different account so only the IP counts.
		acct := fmt.Sprintf("user%d", i)
		if got := th.Delay(ip, acct); !approx(got, w) {
			t.Fatalf("attempt %d: delay %v, want %v", i+1, got, w)
		}
		th.Failure(ip, acct)
		clk.advance(time.Second)
	}
	if d := th.Delay(addr("127.0.0.2"), "other"); d != 0 {
		t.Fatalf("other IP delayed %v", d)
	}
}

// approx allows for the decay during the test's one-second steps.
func approx(got, want time.Duration) bool {
	if want == 0 {
		return got == 0
	}
	return got > want*9/10 && got <= want
}

func TestThrottleDecays(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	ip := addr("192.0.2.1")
	for range 50 {
		th.Failure(ip, "alice")
	}
	if d := th.Delay(ip, "alice"); d != 30*time.Second {
		t.Fatalf("delay after 50 failures = %v, want cap", d)
	}
	// 50 → below 3 free failures needs log2(50/2.5) ≈ 4.3 half-lives.
	clk.advance(30 * time.Minute)
	if d := th.Delay(ip, "alice"); d == 0 || d == 30*time.Second {
		t.Fatalf("delay after 3 half-lives = %v, want partial", d)
	}
	clk.advance(30 * time.Minute)
	if d := th.Delay(ip, "alice"); d != 0 {
		t.Fatalf("delay after 6 half-lives = %v, want 0 (no permanent lockout)", d)
	}
}

func TestThrottleIPv6Grouping(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleConfig{IPFreeFailures: -1, AccountFreeFailures: 100}, clk.now)
	th.Failure(addr("2001:db8:1:2::1"), "a")
	if d := th.Delay(addr("2001:db8:1:2:ffff::9"), "b"); d == 0 {
		t.Error("same /64 not throttled")
	}
	if d := th.Delay(addr("2001:db8:1:3::1"), "b"); d != 0 {
		t.Errorf("different /64 throttled: %v", d)
	}
	th.Failure(addr("::ffff:198.51.100.7"), "a")
	if d := th.Delay(addr("198.51.100.7"), "b"); d == 0 {
		t.Error("IPv4-mapped address not grouped with IPv4")
	}
	if d := th.Delay(addr("198.51.100.8"), "b"); d != 0 {
		t.Errorf("neighbouring IPv4 address throttled: %v", d)
	}
}

func TestThrottleAccountAcrossIPs(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	// An attacker spreads guesses at alice over many addresses, one each.
	for i := range 8 {
		th.Failure(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), "alice")
	}
	if d := th.Delay(addr("198.51.100.1"), "alice"); d == 0 {
		t.Fatal("account not throttled after failures from many IPs")
	}
	if d := th.Delay(addr("198.51.100.1"), "bob"); d != 0 {
		t.Fatalf("other account throttled: %v", d)
	}
}

func TestThrottleTrustedIPExemptFromAccountDelay(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	home := addr("2001:db8:aa::10")
	th.Success(home, "alice")
	clk.advance(time.Hour)
	for i := range 20 {
		th.Failure(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), "alice")
	}
	if d := th.Delay(home, "alice"); d != 0 {
		t.Fatalf("trusted home network delayed %v by attacker's failures", d)
	}
	// Another address in the home /64 is the same network.
	if d := th.Delay(addr("2001:db8:aa::11"), "alice"); d != 0 {
		t.Fatalf("home /64 delayed %v", d)
	}
	if d := th.Delay(addr("198.51.100.1"), "alice"); d == 0 {
		t.Fatal("untrusted network not delayed")
	}
	// The home network's own failures still count against it.
	for range 4 {
		th.Failure(home, "alice")
	}
	if d := th.Delay(home, "alice"); d == 0 {
		t.Fatal("home network's own failures did not delay it")
	}
	th.Success(home, "alice")
	if d := th.Delay(home, "alice"); d != 0 {
		t.Fatalf("success did not clear home network's failures: %v", d)
	}
	// Trust expires.
	clk.advance(25 * time.Hour)
	for range 20 {
		th.Failure(addr("203.0.113.200"), "alice")
	}
	if d := th.Delay(home, "alice"); d == 0 {
		t.Fatal("trust did not expire")
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	clk := newFakeClock()
	cfg := testThrottleConfig
	cfg.MaxEntries = 100
	th := NewThrottle(cfg, clk.now)
	for i := range 10_000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		acct := fmt.Sprintf("nobody%d", i)
		th.Failure(ip, acct)
		th.Success(ip, acct)
	}
	if n, m, tr := th.networks.len(), th.accounts.len(), th.trusted.len(); n > 100 || m > 100 || tr > 100 {
		t.Fatalf("tables grew past MaxEntries: networks %d, accounts %d, trusted %d", n, m, tr)
	}
}

func TestThrottleForgetsExpiredEntries(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	for i := range 50 {
		th.Failure(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), "")
	}
	clk.advance(24 * time.Hour)
	th.Failure(addr("10.0.1.1"), "")
	if n := th.networks.len(); n != 1 {
		t.Fatalf("networks = %d after everything decayed, want 1", n)
	}
}

func TestThrottleLongAccountName(t *testing.T) {
	th := NewThrottle(testThrottleConfig, newFakeClock().now)
	long := string(make([]byte, 1<<20))
	th.Failure(addr("192.0.2.1"), long)
	for k := range th.accounts.items {
		if len(k) > maxAccountKeyLen {
			t.Fatalf("stored account key of %d bytes", len(k))
		}
	}
}
