package auth

import (
	"bytes"
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
		tk, err := h.auth.Admit(remote, "imap", " Alice@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		h.auth.Record(tk, remote, "imap", " Alice@Example.com", false)
	}
	if d := th.Delay(remote, "alice@example.com"); d <= 0 {
		t.Fatalf("after %d recorded failures Delay = %v, want > 0", testThrottleConfig.IPFreeFailures, d)
	}
	clk.advance(time.Second) // one check per delay
	tk, err := h.auth.Admit(remote, "imap", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	h.auth.Record(tk, remote, "imap", "alice@example.com", true)
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

func TestAdmit(t *testing.T) {
	th := NewThrottle(ThrottleConfig{IPFreeFailures: -1, AccountFreeFailures: -1, BaseDelay: time.Hour, MaxDelay: time.Hour}, nil)
	h := newHarness(t, th)

	// No failure is free: the first attempt is checked, the next waits
	// an hour and is refused at once, and says so in the log.
	tk, err := h.auth.Admit(remote, "smtp", "alice@example.com")
	if err != nil {
		t.Fatalf("first attempt: %v", err)
	}
	h.auth.Record(tk, remote, "smtp", "alice@example.com", false)
	if _, err := h.auth.Admit(remote, "smtp", "alice@example.com"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("second attempt: %v, want ErrThrottled", err)
	}
	if !strings.Contains(h.logs.String(), "result=throttled") {
		t.Errorf("refused attempt not logged:\n%s", h.logs)
	}

	// Without a throttle everything is admitted.
	noThrottle := NewAuthenticator(h.store, nil, -1, nil)
	if _, err := noThrottle.Admit(remote, "smtp", "alice@example.com"); err != nil {
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
