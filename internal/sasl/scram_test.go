package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
)

func TestSCRAM(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name                        string
		username, password, authzid string
		ir                          bool
		want                        *auth.Principal // nil: ErrAuthFailed
	}{
		{"success with initial response", "alice@example.com", alicePW, "", true, &alice},
		{"success without initial response", "alice@example.com", alicePW, "", false, &alice},
		{"username case", "Alice@Example.com", alicePW, "", true, &alice},
		{"authzid equal to username", "alice@example.com", alicePW, "alice@example.com", true, &alice},
		{"wrong password", "alice@example.com", "wrong-password", "", true, nil},
		{"unknown user", "nobody@example.com", alicePW, "", true, nil},
		{"account without SCRAM credentials", "bob@example.com", bobPW, "", true, nil},
		{"authzid of another account", "alice@example.com", alicePW, "bob@example.com", true, nil},
		{"empty username", "", alicePW, "", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []auth.Principal
			err := runSCRAM(h.server(t, t.Context(), SCRAMSHA256, &got), tc.username, tc.password, tc.authzid, tc.ir)
			if tc.want == nil {
				wantAuthFailed(t, tc.name, err)
				wantPrincipals(t, got)
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			wantPrincipals(t, got, *tc.want)
		})
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "result=success"); n != 4 {
		t.Errorf("%d successes logged, want 4:\n%s", n, logs)
	}
	if n := strings.Count(logs, "result=invalid_credentials"); n != 5 {
		t.Errorf("%d failures logged, want 5:\n%s", n, logs)
	}
}

// An unknown account must be indistinguishable from a wrong password: same
// iteration count, a salt that is stable between attempts, the same error.
func TestSCRAMUnknownUserLooksReal(t *testing.T) {
	h := newHarness(t, nil)
	serverFirst := func(username string) string {
		t.Helper()
		client, err := scram.SHA256.NewClient(username, "x", "")
		if err != nil {
			t.Fatal(err)
		}
		c1, err := client.NewConversation().Step("")
		if err != nil {
			t.Fatal(err)
		}
		s1, _, err := h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)).Next([]byte(c1))
		if err != nil {
			t.Fatalf("server-first for %s: %v", username, err)
		}
		// r=<nonce>,s=<salt>,i=<iterations>: drop the nonce.
		_, factors, _ := strings.Cut(string(s1), ",")
		return factors
	}
	real, unknown := serverFirst("alice@example.com"), serverFirst("nobody@example.com")
	if unknown != serverFirst("nobody@example.com") {
		t.Error("salt of an unknown account changes between attempts")
	}
	if real != serverFirst("alice@example.com") {
		t.Error("salt of a real account changes between attempts")
	}
	if !strings.HasSuffix(real, ",i=4096") || !strings.HasSuffix(unknown, ",i=4096") {
		t.Errorf("iteration counts differ: %q vs %q", real, unknown)
	}
	if len(real) != len(unknown) {
		t.Errorf("salt lengths differ: %q vs %q", real, unknown)
	}

	errWrong := runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "alice@example.com", "wrong-password", "", true)
	errUnknown := runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "nobody@example.com", "wrong-password", "", true)
	if errWrong == nil || errUnknown == nil || errWrong.Error() != errUnknown.Error() {
		t.Errorf("wrong password: %v; unknown user: %v; want the same error", errWrong, errUnknown)
	}
}

func TestSCRAMThrottleCountsFailures(t *testing.T) {
	const free = 3
	th := auth.NewThrottle(auth.ThrottleConfig{
		IPFreeFailures:      free,
		AccountFreeFailures: 100,
		BaseDelay:           time.Hour, // any attempt that has to wait would hang the test
		MaxDelay:            time.Hour,
	}, nil)
	h := newHarness(t, th)

	for i := range free {
		err := runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "alice@example.com", "wrong-password", "", true)
		wantAuthFailed(t, "wrong password", err)
		if d := th.Delay(remote, "alice@example.com"); d != 0 && i < free-1 {
			t.Fatalf("throttled after %d failures, allowance is %d", i+1, free)
		}
	}
	if d := th.Delay(remote, "alice@example.com"); d <= 0 {
		t.Fatalf("after %d SCRAM failures Delay = %v, want > 0", free, d)
	}

	// The next attempt waits before looking anything up; a client that gives
	// up meanwhile gets a throttle error, not an authentication failure.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := runSCRAM(h.server(t, ctx, SCRAMSHA256, new([]auth.Principal)), "alice@example.com", alicePW, "", true)
	if !errors.Is(err, auth.ErrThrottled) || errors.Is(err, ErrAuthFailed) {
		t.Fatalf("throttled attempt: err = %v, want ErrThrottled", err)
	}
}

func TestSCRAMSuccessResetsThrottle(t *testing.T) {
	th := auth.NewThrottle(auth.ThrottleConfig{IPFreeFailures: 5, BaseDelay: time.Hour, MaxDelay: time.Hour}, nil)
	h := newHarness(t, th)
	for range 2 {
		runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "alice@example.com", "wrong-password", "", true)
	}
	if err := runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "alice@example.com", alicePW, "", true); err != nil {
		t.Fatal(err)
	}
	// Three more failures would exceed the allowance of five had the
	// success not cleared the network's count.
	for range 3 {
		runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "alice@example.com", "wrong-password", "", true)
	}
	if d := th.Delay(remote, "alice@example.com"); d != 0 {
		t.Fatalf("Delay = %v after a success and 3 failures, want 0", d)
	}
}

func TestSCRAMStoreFailureIsNotAuthFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.store.setErr(errors.New("disk on fire"))
	err := runSCRAM(h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)), "alice@example.com", alicePW, "", true)
	if err == nil || errors.Is(err, ErrAuthFailed) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if strings.Contains(h.logs.String(), "result=") {
		t.Errorf("a store failure was recorded as an attempt:\n%s", h.logs)
	}
}

func TestSCRAMMalformed(t *testing.T) {
	h := newHarness(t, nil)
	for _, c1 := range []string{
		"",
		"n,,",
		"n,,n=alice@example.com",
		"x,,n=alice@example.com,r=abc",
		"p=tls-unique,,n=alice@example.com,r=abc", // channel binding is not offered
		"n,,m=ext,n=alice@example.com,r=abc",
		"n,a=bad=name,n=alice@example.com,r=abc",
		"n,,n=bad=name,r=abc",
		"\x00\xff,,,",
	} {
		_, done, err := h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal)).Next([]byte(c1))
		wantAuthFailed(t, "client-first "+c1, err)
		if done {
			t.Errorf("client-first %q: done", c1)
		}
	}

	client, err := scram.SHA256.NewClient("alice@example.com", alicePW, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []string{
		"",
		"c=biws",
		"c=biws,r=wrong-nonce,p=AAAA",
		"c=!!!,r=x,p=y",
		"c=biws,r=x,p=!!!",
		"garbage,with,commas",
	} {
		cc := client.NewConversation()
		c1, _ := cc.Step("")
		s := h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal))
		if _, _, err := s.Next([]byte(c1)); err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Next([]byte(c2))
		wantAuthFailed(t, "client-final "+c2, err)
		if done {
			t.Errorf("client-final %q: done", c2)
		}
	}

	// A right nonce and a proof of the wrong length.
	cc := client.NewConversation()
	c1, _ := cc.Step("")
	s := h.server(t, t.Context(), SCRAMSHA256, new([]auth.Principal))
	s1, _, err := s.Next([]byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	nonce, _, _ := strings.Cut(strings.TrimPrefix(string(s1), "r="), ",")
	_, _, err = s.Next([]byte("c=biws,r=" + nonce + ",p=AAAA"))
	wantAuthFailed(t, "short proof", err)
}

func TestSCRAMAcknowledgementMustBeEmpty(t *testing.T) {
	h := newHarness(t, nil)
	client, err := scram.SHA256.NewClient("alice@example.com", alicePW, "")
	if err != nil {
		t.Fatal(err)
	}
	cc := client.NewConversation()
	var got []auth.Principal
	s := h.server(t, t.Context(), SCRAMSHA256, &got)
	c1, _ := cc.Step("")
	s1, _, _ := s.Next([]byte(c1))
	c2, _ := cc.Step(string(s1))
	if _, done, err := s.Next([]byte(c2)); err != nil || done {
		t.Fatalf("client-final: done %v, err %v", done, err)
	}
	_, done, err := s.Next([]byte("surprise"))
	wantAuthFailed(t, "non-empty acknowledgement", err)
	if done || len(got) != 0 {
		t.Fatalf("done %v, principals %v", done, got)
	}
	_, _, err = s.Next([]byte{})
	wantAuthFailed(t, "Next after failure", err)
}
