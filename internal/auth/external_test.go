package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

func TestRecordFeedsThrottleAndLog(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	h := newHarness(t, th)

	for range testThrottleConfig.IPFreeFailures {
		h.auth.Record(remote, "imap", " Alice@Example.com", false)
	}
	if d := th.Delay(remote, "alice@example.com"); d <= 0 {
		t.Fatalf("after %d recorded failures Delay = %v, want > 0", testThrottleConfig.IPFreeFailures, d)
	}
	h.auth.Record(remote, "imap", "alice@example.com", true)
	if d := th.Delay(remote, "alice@example.com"); d != 0 {
		t.Fatalf("after a recorded success Delay = %v, want 0", d)
	}

	logs := h.logs.String()
	if n := strings.Count(logs, "result=invalid_credentials"); n != testThrottleConfig.IPFreeFailures {
		t.Errorf("%d failure lines, want %d:\n%s", n, testThrottleConfig.IPFreeFailures, logs)
	}
	if !strings.Contains(logs, "result=success") || !strings.Contains(logs, "username=alice@example.com") {
		t.Errorf("success not logged with the normalised username:\n%s", logs)
	}
}

func TestWaitThrottle(t *testing.T) {
	th := NewThrottle(ThrottleConfig{IPFreeFailures: -1, AccountFreeFailures: -1}, nil)
	h := newHarness(t, th)
	var waited time.Duration
	h.auth.wait = func(ctx context.Context, d time.Duration) error {
		waited = d
		return ctx.Err()
	}

	h.auth.Record(remote, "smtp", "alice@example.com", false)
	if err := h.auth.WaitThrottle(t.Context(), remote, "smtp", "alice@example.com"); err != nil {
		t.Fatalf("WaitThrottle: %v", err)
	}
	if waited <= 0 {
		t.Fatalf("no failures free, yet nothing waited")
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := h.auth.WaitThrottle(ctx, remote, "smtp", "alice@example.com")
	if !errors.Is(err, ErrThrottled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled wait: err = %v, want ErrThrottled and context.Canceled", err)
	}
	if !strings.Contains(h.logs.String(), "result=throttled") {
		t.Errorf("canceled wait not logged:\n%s", h.logs)
	}

	// Without a throttle there is nothing to wait for.
	noThrottle := NewAuthenticator(h.store, nil, -1, nil)
	if err := noThrottle.WaitThrottle(ctx, remote, "smtp", "alice@example.com"); err != nil {
		t.Fatalf("no throttle: %v", err)
	}
}

func TestDecoySCRAM(t *testing.T) {
	a := NewAuthenticator(&fakeStore{}, nil, -1, nil)
	d1 := a.DecoySCRAM("nobody@example.com")
	d2 := a.DecoySCRAM(" NOBODY@example.com")
	if d1.Salt != d2.Salt || !bytes.Equal(d1.StoredKey, d2.StoredKey) {
		t.Fatal("decoy credentials differ between attempts for the same account")
	}
	if d1.Iters != scramIterations || len(d1.Salt) != saltLen {
		t.Fatalf("decoy factors %d iterations, %d-byte salt; want those of real credentials", d1.Iters, len(d1.Salt))
	}
	if a.DecoySCRAM("other@example.com").Salt == d1.Salt {
		t.Fatal("two accounts share a decoy salt")
	}
	if NewAuthenticator(&fakeStore{}, nil, -1, nil).DecoySCRAM("nobody@example.com").Salt == d1.Salt {
		t.Fatal("decoy salt is not keyed per process")
	}

	// No password passes against a decoy; in particular not the empty one.
	for _, pw := range []string{"", "password"} {
		server, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return d1, nil })
		if err != nil {
			t.Fatal(err)
		}
		client, err := scram.SHA256.NewClient("nobody@example.com", pw, "")
		if err != nil {
			t.Fatal(err)
		}
		cc, sc := client.NewConversation(), server.NewConversation()
		c1, _ := cc.Step("")
		s1, err := sc.Step(c1)
		if err != nil {
			t.Fatalf("server first: %v", err)
		}
		c2, err := cc.Step(s1)
		if err != nil {
			t.Fatalf("client final: %v", err)
		}
		if _, err := sc.Step(c2); err == nil || sc.Valid() {
			t.Fatalf("password %q accepted against a decoy", pw)
		}
	}
}
