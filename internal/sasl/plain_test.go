package sasl

import (
	"errors"
	"strconv"
	"testing"

	gosasl "github.com/emersion/go-sasl"

	"mailroom/internal/auth"
)

func TestPLAIN(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name                        string
		authzid, username, password string
		want                        *auth.Principal // nil: ErrAuthFailed
	}{
		{"success", "", "alice@example.com", alicePW, &alice},
		{"username case and space", "", " Alice@Example.COM", alicePW, &alice},
		{"authzid equal to username", "ALICE@example.com", "alice@example.com", alicePW, &alice},
		{"no SCRAM credentials needed", "", "bob@example.com", bobPW, &bob},
		{"wrong password", "", "alice@example.com", "wrong-password", nil},
		{"unknown user", "", "nobody@example.com", alicePW, nil},
		{"authzid of another account", "bob@example.com", "alice@example.com", alicePW, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []auth.Principal
			err := runClient(h.server(t, t.Context(), PLAIN, &got), gosasl.NewPlainClient(tc.authzid, tc.username, tc.password))
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
}

func TestPLAINWithoutInitialResponse(t *testing.T) {
	h := newHarness(t, nil)
	var got []auth.Principal
	s := h.server(t, t.Context(), PLAIN, &got)
	challenge, done, err := s.Next(nil)
	if err != nil || done || challenge == nil || len(challenge) != 0 {
		t.Fatalf("Next(nil) = %q, %v, %v; want an empty challenge", challenge, done, err)
	}
	if _, done, err := s.Next([]byte("\x00alice@example.com\x00" + alicePW)); err != nil || !done {
		t.Fatalf("Next(message) = %v, %v", done, err)
	}
	wantPrincipals(t, got, alice)
	if _, _, err := s.Next([]byte("\x00alice@example.com\x00" + alicePW)); err == nil {
		t.Fatal("Next after success did not fail")
	}
	wantPrincipals(t, got, alice)
}

func TestPLAINMalformed(t *testing.T) {
	h := newHarness(t, nil)
	for _, msg := range []string{
		"",
		"alice@example.com",
		"alice@example.com" + alicePW,
		"alice@example.com\x00" + alicePW,
		"\x00alice@example.com\x00" + alicePW + "\x00",
		"\x00\x00" + alicePW,
		"\x00alice@example.com\x00",
		"\x00\x00",
		"\x00\x00\x00",
	} {
		var got []auth.Principal
		_, done, err := h.server(t, t.Context(), PLAIN, &got).Next([]byte(msg))
		wantAuthFailed(t, "PLAIN "+strconv.Quote(msg), err)
		if done || len(got) != 0 {
			t.Errorf("PLAIN %s: done %v, principals %v", strconv.Quote(msg), done, got)
		}
	}
	// Nothing after the empty challenge is as malformed as an empty message.
	s := h.server(t, t.Context(), PLAIN, new([]auth.Principal))
	if _, _, err := s.Next(nil); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Next(nil)
	wantAuthFailed(t, "PLAIN nil response to challenge", err)
}

func TestPLAINStoreFailureIsNotAuthFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.store.setErr(errors.New("disk on fire"))
	err := runClient(h.server(t, t.Context(), PLAIN, new([]auth.Principal)), gosasl.NewPlainClient("", "alice@example.com", alicePW))
	if err == nil || errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v, want a temporary failure", err)
	}
}
