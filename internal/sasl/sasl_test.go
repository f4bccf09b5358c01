package sasl

import (
	"errors"
	"testing"

	gosasl "github.com/emersion/go-sasl"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// The store is what NewVerifier is given in production.
var _ CredentialStore = store.Directory(nil)

func TestNewServer(t *testing.T) {
	h := newHarness(t, nil)
	for _, mech := range []string{PLAIN, LOGIN, SCRAMSHA256, "plain", "Scram-Sha-256"} {
		if _, err := NewServer(t.Context(), mech, h.v, nil); err != nil {
			t.Errorf("NewServer(%q): %v", mech, err)
		}
	}
	for _, mech := range []string{"", "CRAM-MD5", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "XOAUTH2"} {
		if _, err := NewServer(t.Context(), mech, h.v, nil); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewServer(%q): err = %v, want ErrUnsupported", mech, err)
		}
	}
}

// A nil onSuccess is allowed; an error from onSuccess is returned unchanged
// (a protocol may refuse an authenticated account, e.g. one disabled for it).
func TestOnSuccess(t *testing.T) {
	h := newHarness(t, nil)
	s, err := NewServer(t.Context(), PLAIN, h.v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := runClient(s, gosasl.NewPlainClient("", "alice@example.com", alicePW)); err != nil {
		t.Fatal(err)
	}

	refused := errors.New("account disabled for IMAP")
	for _, mech := range []string{PLAIN, LOGIN, SCRAMSHA256} {
		s, err := NewServer(t.Context(), mech, h.v, func(auth.Principal) error { return refused })
		if err != nil {
			t.Fatal(err)
		}
		switch mech {
		case SCRAMSHA256:
			err = runSCRAM(s, "alice@example.com", alicePW, "", true)
		case PLAIN:
			err = runClient(s, gosasl.NewPlainClient("", "alice@example.com", alicePW))
		case LOGIN:
			err = runClient(s, gosasl.NewLoginClient("alice@example.com", alicePW))
		}
		if err != refused {
			t.Errorf("%s: err = %v, want onSuccess's error unchanged", mech, err)
		}
	}
}
