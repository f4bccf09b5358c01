package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mailroom/internal/testrig/logbuf"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeAccount struct {
	p      Principal
	hashes []string
}

type fakeStore struct {
	mu       sync.Mutex
	accounts map[string]fakeAccount
	err      error
	lookups  []string
}

func (s *fakeStore) LookupCredentials(ctx context.Context, username string) (Principal, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups = append(s.lookups, username)
	if s.err != nil {
		return Principal{}, nil, s.err
	}
	a, ok := s.accounts[username]
	if !ok {
		return Principal{}, nil, fmt.Errorf("store: %q: %w", username, ErrUnknownAccount)
	}
	return a.p, append([]string(nil), a.hashes...), nil
}

func (s *fakeStore) set(username string, p Principal, hashes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts == nil {
		s.accounts = make(map[string]fakeAccount)
	}
	s.accounts[username] = fakeAccount{p, hashes}
}

type harness struct {
	store   *fakeStore
	auth    *Authenticator
	clock   *fakeClock
	logs    *logbuf.Buffer
	verifys atomic.Int64
}

const (
	alicePW = "alice-Correct-Horse-1"
	aliceAp = "alice-app-password-2"
)

var alice = Principal{AccountID: 7, Email: "alice@example.com"}

func hash(t testing.TB, pw string) string {
	t.Helper()
	c, err := HashPassword(pw, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	return c.Argon2id
}

// newHarness returns an Authenticator over a store holding alice (main
// password and one app password), with cheap argon2, a counted verify hook
// and logs captured. th may be nil.
func newHarness(t *testing.T, th *Throttle) *harness {
	t.Helper()
	h := &harness{store: &fakeStore{}, clock: newFakeClock(), logs: &logbuf.Buffer{}}
	h.store.set("alice@example.com", alice, hash(t, alicePW), hash(t, aliceAp))
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.auth = NewAuthenticator(h.store, th, 0, logger)
	h.auth.dummyHash = dummyArgon2id(cheapParams)
	h.auth.cache.now = h.clock.now
	h.auth.verify = func(encoded, password string) (bool, error) {
		h.verifys.Add(1)
		return VerifyPassword(encoded, password)
	}
	t.Cleanup(func() {
		for _, pw := range []string{alicePW, aliceAp, "wrong-password-xyz"} {
			if strings.Contains(h.logs.String(), pw) {
				t.Errorf("log contains a password:\n%s", h.logs)
			}
		}
	})
	return h
}

var remote = netip.MustParseAddr("192.0.2.10")

func (h *harness) login(user, pw string) (Principal, error) {
	return h.auth.Authenticate(context.Background(), remote, "imap", user, pw)
}

func TestAuthenticateRightAndWrong(t *testing.T) {
	h := newHarness(t, nil)
	p, err := h.login("alice@example.com", alicePW)
	if err != nil || p != alice {
		t.Fatalf("right password: %+v, %v", p, err)
	}
	p, err = h.login("alice@example.com", "wrong-password-xyz")
	if !errors.Is(err, ErrInvalidCredentials) || p != (Principal{}) {
		t.Fatalf("wrong password: %+v, %v", p, err)
	}
	logs := h.logs.String()
	for _, want := range []string{"protocol=imap", "remote=192.0.2.10", "username=alice@example.com", "result=success", "result=invalid_password"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestAuthenticateNormalisesUsername(t *testing.T) {
	h := newHarness(t, nil)
	if p, err := h.login("  Alice@Example.COM\t", alicePW); err != nil || p != alice {
		t.Fatalf("got %+v, %v", p, err)
	}
	if got := h.store.lookups[0]; got != "alice@example.com" {
		t.Fatalf("store looked up %q", got)
	}
}

// TestAuthenticateDefaultDomain: with a default domain (auth.default_domain)
// a name without "@" logs in as that name at the domain; names with "@"
// are unchanged; without one, the bare name is an unknown account.
func TestAuthenticateDefaultDomain(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.login("alice", alicePW); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("bare name without a default domain: %v", err)
	}
	h.auth.SetDefaultDomain("Example.COM")
	if p, err := h.login(" Alice ", alicePW); err != nil || p != alice {
		t.Fatalf("bare name with the default domain: %+v, %v", p, err)
	}
	if p, err := h.login("alice@example.com", alicePW); err != nil || p != alice {
		t.Fatalf("full address with the default domain: %+v, %v", p, err)
	}
	if _, err := h.login("alice@example.org", alicePW); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("another domain's name: %v", err)
	}
	want := []string{"alice", "alice@example.com", "alice@example.com", "alice@example.org"}
	if strings.Join(h.store.lookups, " ") != strings.Join(want, " ") {
		t.Fatalf("store looked up %q, want %q", h.store.lookups, want)
	}
	for in, want := range map[string]string{"bob": "bob@example.com", "Bob@Other.test": "bob@other.test", "": "", "  ": ""} {
		if got := h.auth.Username(in); got != want {
			t.Errorf("Username(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthenticateAppPassword(t *testing.T) {
	h := newHarness(t, nil)
	if p, err := h.login("alice@example.com", aliceAp); err != nil || p != alice {
		t.Fatalf("app password: %+v, %v", p, err)
	}
}

func TestAuthenticateUnknownAccount(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.login("mallory@example.com", "whatever")
	if !errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("unknown account: %v", err)
	}
	if n := h.verifys.Load(); n != 1 {
		t.Fatalf("unknown account ran %d verifications, want 1 (dummy, for equal timing)", n)
	}
	if !strings.Contains(h.logs.String(), "result=unknown_account") {
		t.Errorf("log lacks result=unknown_account:\n%s", h.logs)
	}
}

func TestAuthenticateNoPasswordSet(t *testing.T) {
	h := newHarness(t, nil)
	h.store.set("nopw@example.com", Principal{AccountID: 9})
	if _, err := h.login("nopw@example.com", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("got %v", err)
	}
	if n := h.verifys.Load(); n != 1 {
		t.Fatalf("ran %d verifications, want 1 (dummy)", n)
	}
}

func TestAuthenticateEmptyUsername(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.login("   ", "x"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("got %v", err)
	}
	if len(h.store.lookups) != 0 {
		t.Fatal("empty username was looked up")
	}
}

func TestAuthenticateDefaultDummyHash(t *testing.T) {
	a := NewAuthenticator(&fakeStore{}, nil, 0, nil)
	p, _, _, err := parseArgon2id(a.dummyHash)
	if err != nil || p != DefaultParams {
		t.Fatalf("dummy hash %q: params %+v, %v; want DefaultParams", a.dummyHash, p, err)
	}
}

func TestAuthenticateCache(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 3 {
		if _, err := h.login("alice@example.com", alicePW); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	// First login verifies against the main hash; the rest are cache hits.
	if n := h.verifys.Load(); n != 1 {
		t.Fatalf("3 logins ran %d argon2 verifications, want 1", n)
	}
	if !strings.Contains(h.logs.String(), "cached=true") {
		t.Errorf("log lacks cached=true:\n%s", h.logs)
	}

	// Failures are never cached.
	h.verifys.Store(0)
	for range 2 {
		if _, err := h.login("alice@example.com", "wrong-password-xyz"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if n := h.verifys.Load(); n != 4 { // 2 attempts × 2 hashes
		t.Fatalf("2 wrong logins ran %d verifications, want 4", n)
	}

	// The entry expires after the TTL.
	h.verifys.Store(0)
	h.clock.advance(DefaultCacheTTL)
	if _, err := h.login("alice@example.com", alicePW); err != nil {
		t.Fatal(err)
	}
	if n := h.verifys.Load(); n != 1 {
		t.Fatalf("login after TTL ran %d verifications, want 1", n)
	}
}

func TestAuthenticateCacheInvalidatedByNewHash(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.login("alice@example.com", alicePW); err != nil {
		t.Fatal(err)
	}
	// Password change: the store now holds a new hash.
	h.store.set("alice@example.com", alice, hash(t, "brand-new-password"))
	h.verifys.Store(0)
	if _, err := h.login("alice@example.com", alicePW); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := h.login("alice@example.com", "brand-new-password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if n := h.verifys.Load(); n != 2 {
		t.Fatalf("ran %d verifications, want 2 (no stale cache hit)", n)
	}
}

func TestAuthenticateInvalidate(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.login("alice@example.com", alicePW); err != nil {
		t.Fatal(err)
	}
	h.auth.Invalidate("Alice@Example.com")
	h.verifys.Store(0)
	if _, err := h.login("alice@example.com", alicePW); err != nil {
		t.Fatal(err)
	}
	if n := h.verifys.Load(); n != 1 {
		t.Fatalf("login after Invalidate ran %d verifications, want 1", n)
	}
}

func TestAuthenticateCacheDisabled(t *testing.T) {
	a := NewAuthenticator(&fakeStore{}, nil, -1, nil)
	if a.cache != nil {
		t.Fatal("negative TTL did not disable the cache")
	}
	a.Invalidate("x") // must not panic
}

func TestAuthenticateMalformedHashSkipped(t *testing.T) {
	h := newHarness(t, nil)
	h.store.set("alice@example.com", alice, "$argon2id$garbage", hash(t, aliceAp))
	if p, err := h.login("alice@example.com", aliceAp); err != nil || p != alice {
		t.Fatalf("app password next to a corrupt hash: %+v, %v", p, err)
	}
	if !strings.Contains(h.logs.String(), "stored password hash unusable") {
		t.Errorf("corrupt hash not logged:\n%s", h.logs)
	}
}

func TestAuthenticateStoreError(t *testing.T) {
	th := NewThrottle(ThrottleConfig{IPFreeFailures: -1, AccountFreeFailures: -1}, nil)
	h := newHarness(t, th)
	boom := errors.New("database is down")
	h.store.err = boom
	_, err := h.login("alice@example.com", alicePW)
	if !errors.Is(err, boom) || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("got %v, want wrapped store error", err)
	}
	if d := th.Delay(remote, "alice@example.com"); d != 0 {
		t.Fatalf("store error counted as a login failure (delay %v)", d)
	}
}

func TestAuthenticateThrottleGates(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleConfig{IPFreeFailures: 1, AccountFreeFailures: 100}, clk.now)
	h := newHarness(t, th)
	wrong := func() error {
		_, err := h.login("alice@example.com", "wrong-password-xyz")
		return err
	}
	// One free failure, then one check per delay after the last check;
	// attempts in between are refused at once, without a check.
	for i, want := range []error{ErrInvalidCredentials, ErrThrottled} {
		if err := wrong(); !errors.Is(err, want) {
			t.Fatalf("attempt %d: %v, want %v", i+1, err, want)
		}
	}
	clk.advance(time.Second)
	if err := wrong(); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("after the 1s delay: %v", err)
	}
	if _, err := h.login("alice@example.com", alicePW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("right password before the 2s delay: %v", err)
	}
	clk.advance(2 * time.Second)
	if _, err := h.login("alice@example.com", alicePW); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "result=invalid_password"); n != 2 {
		t.Errorf("%d password checks failed, want 2:\n%s", n, logs)
	}
	if n := strings.Count(logs, "result=throttled"); n != 2 {
		t.Errorf("%d attempts throttled, want 2:\n%s", n, logs)
	}
	// The network's failures were all at alice: her success takes them back.
	if d := th.Delay(remote, "alice@example.com"); d != 0 {
		t.Fatalf("delay after success = %v", d)
	}
}

func TestAuthenticateThrottledAtOnce(t *testing.T) {
	th := NewThrottle(ThrottleConfig{IPFreeFailures: -1, BaseDelay: time.Hour, MaxDelay: time.Hour}, nil)
	h := newHarness(t, th)
	_, _ = h.login("alice@example.com", "wrong-password-xyz") // the next check in an hour

	start := time.Now()
	_, err := h.auth.Authenticate(t.Context(), remote, "pop3", "alice@example.com", alicePW)
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("got %v, want ErrThrottled", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("throttled attempt took %v", el)
	}
	if !strings.Contains(h.logs.String(), "result=throttled") {
		t.Errorf("log lacks result=throttled:\n%s", h.logs)
	}
}

func TestAuthenticateCanceledWaitingForSemaphore(t *testing.T) {
	h := newHarness(t, nil)
	for range cap(h.auth.sem) {
		h.auth.sem <- struct{}{} // every slot busy
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.auth.Authenticate(ctx, remote, "imap", "alice@example.com", alicePW); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestAuthenticateConcurrent(t *testing.T) {
	th := NewThrottle(ThrottleConfig{IPFreeFailures: 1 << 20, AccountFreeFailures: 1 << 20}, nil)
	h := newHarness(t, th)
	for i := range 4 {
		h.store.set(fmt.Sprintf("user%d@example.com", i), Principal{AccountID: int64(100 + i)}, hash(t, fmt.Sprintf("pw%d", i)))
	}
	var inFlight, peak atomic.Int64
	h.auth.verify = func(encoded, password string) (bool, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return VerifyPassword(encoded, password)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 16 {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(g)})
			for i := range 20 {
				u := (g + i) % 4
				pw := fmt.Sprintf("pw%d", u)
				wantOK := i%3 != 0
				if !wantOK {
					pw += "-wrong"
				}
				p, err := h.auth.Authenticate(context.Background(), ip, "imap", fmt.Sprintf("user%d@example.com", u), pw)
				switch {
				case wantOK && (err != nil || p.AccountID != int64(100+u)):
					errs <- fmt.Errorf("user%d right password: %+v, %v", u, p, err)
				case !wantOK && !errors.Is(err, ErrInvalidCredentials):
					errs <- fmt.Errorf("user%d wrong password: %v", u, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p > int64(runtime.NumCPU()) {
		t.Errorf("%d concurrent argon2 verifications, semaphore allows %d", p, runtime.NumCPU())
	}
}

// TestLoginFloodVerifiesOnce: many simultaneous logins of one account with
// the right password queue behind the first verification and are then
// served by the cache, instead of each running argon2.
func TestLoginFloodVerifiesOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.auth.verify = func(encoded, password string) (bool, error) {
		h.verifys.Add(1)
		time.Sleep(20 * time.Millisecond) // as slow as real argon2
		return VerifyPassword(encoded, password)
	}
	const logins = 40
	var wg sync.WaitGroup
	errs := make(chan error, logins)
	for range logins {
		wg.Go(func() {
			if _, err := h.login("alice@example.com", alicePW); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// At most one verification per slot can start before the first one
	// has filled the cache.
	if n := h.verifys.Load(); n > int64(cap(h.auth.sem)) {
		t.Fatalf("%d logins ran %d argon2 verifications, want at most %d", logins, n, cap(h.auth.sem))
	}
}

// TestAuthenticateToken: a wrong token is a failure of the client's
// network, so that its next guesses, tokens or passwords, wait as after
// wrong passwords; a right one takes its charge back; the token is never
// logged.
func TestAuthenticateToken(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(ThrottleConfig{IPFreeFailures: 1, AccountFreeFailures: 100}, clk.now)
	h := newHarness(t, th)
	const good, bad = "mrt_goodgoodgood", "mrt_badbadbad"
	lookups := 0
	lookup := func(secret string) func(context.Context) (Principal, error) {
		return func(context.Context) (Principal, error) {
			lookups++
			if secret != good {
				return Principal{}, ErrInvalidCredentials
			}
			return Principal{AccountID: 7, Email: "Alice@Example.com"}, nil
		}
	}
	if p, err := h.auth.AuthenticateToken(t.Context(), remote, "jmap", lookup(good)); err != nil || p.AccountID != 7 {
		t.Fatalf("right token: %+v, %v", p, err)
	}
	if d := th.Delay(remote, ""); d != 0 {
		t.Fatalf("a right token left a delay of %v", d)
	}
	if _, err := h.auth.AuthenticateToken(t.Context(), remote, "jmap", lookup(bad)); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong token: %v", err)
	}
	// Over the one free failure: refused at once, without a lookup, for
	// tokens and passwords alike.
	before := lookups
	if _, err := h.auth.AuthenticateToken(t.Context(), remote, "jmap", lookup(bad)); !errors.Is(err, ErrThrottled) {
		t.Fatalf("second wrong token: %v, want ErrThrottled", err)
	}
	if lookups != before {
		t.Error("a throttled attempt looked the token up")
	}
	if _, err := h.login("alice@example.com", "wrong-password-xyz"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("a password after a wrong token: %v, want ErrThrottled", err)
	}
	logs := h.logs.String()
	if strings.Contains(logs, good) || strings.Contains(logs, bad) {
		t.Errorf("a token is in the log:\n%s", logs)
	}
	for _, want := range []string{"result=success", "username=alice@example.com", "result=invalid_token", "result=throttled", "credential=token"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}
