package sasl

import (
	"bytes"
	"testing"

	gosasl "github.com/emersion/go-sasl"

	"mailroom/internal/auth"
)

func TestLOGIN(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name               string
		username, password string
		want               *auth.Principal // nil: ErrAuthFailed
	}{
		{"success", "alice@example.com", alicePW, &alice},
		{"wrong password", "alice@example.com", "wrong-password", nil},
		{"unknown user", "nobody@example.com", alicePW, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// go-sasl's client sends the username as an initial response.
			var got []auth.Principal
			err := runClient(h.server(t, t.Context(), LOGIN, &got), gosasl.NewLoginClient(tc.username, tc.password))
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

func TestLOGINWithoutInitialResponse(t *testing.T) {
	h := newHarness(t, nil)
	// nil: no initial response; empty: SMTP "AUTH LOGIN =" — asked again.
	for _, ir := range [][]byte{nil, {}} {
		var got []auth.Principal
		s := h.server(t, t.Context(), LOGIN, &got)
		steps := []struct {
			response, challenge []byte
		}{
			{ir, []byte("Username:")},
			{[]byte("alice@example.com"), []byte("Password:")},
		}
		for _, st := range steps {
			challenge, done, err := s.Next(st.response)
			if err != nil || done || !bytes.Equal(challenge, st.challenge) {
				t.Fatalf("Next(%q) = %q, %v, %v; want %q", st.response, challenge, done, err, st.challenge)
			}
		}
		if _, done, err := s.Next([]byte(alicePW)); err != nil || !done {
			t.Fatalf("password: done %v, err %v", done, err)
		}
		wantPrincipals(t, got, alice)
		_, _, err := s.Next([]byte("more"))
		wantAuthFailed(t, "Next after success", err)
	}
}

func TestLOGINEmptyUsername(t *testing.T) {
	h := newHarness(t, nil)
	s := h.server(t, t.Context(), LOGIN, new([]auth.Principal))
	for _, r := range [][]byte{nil, {}} {
		if _, _, err := s.Next(r); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := s.Next([]byte(alicePW))
	wantAuthFailed(t, "empty username", err)
}
