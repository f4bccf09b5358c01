package sasl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mailroom/internal/testrig/logbuf"
	"net/netip"
	"strings"
	"sync"
	"testing"

	gosasl "github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
)

// cheapParams keep argon2 fast in tests. (Unknown accounts still cost one
// verification with auth.DefaultParams, as in production.)
var cheapParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

const (
	alicePW = "alice-Correct-Horse-1"
	bobPW   = "bob-has-no-scram-9"
)

var (
	alice  = auth.Principal{AccountID: 7, Email: "alice@example.com"}
	bob    = auth.Principal{AccountID: 8, Email: "bob@example.com"}
	remote = netip.MustParseAddr("192.0.2.10")
)

// memStore is an in-memory CredentialStore (and auth.CredentialLookup).
type memStore struct {
	mu       sync.Mutex
	accounts map[string]memAccount // by normalised username
	err      error                 // returned by every call when set
}

type memAccount struct {
	p     auth.Principal
	creds auth.Credentials
}

func (s *memStore) LookupCredentials(_ context.Context, username string) (auth.Principal, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return auth.Principal{}, nil, s.err
	}
	a, ok := s.accounts[username]
	if !ok {
		return auth.Principal{}, nil, fmt.Errorf("memstore: %q: %w", username, auth.ErrUnknownAccount)
	}
	return a.p, []string{a.creds.Argon2id}, nil
}

func (s *memStore) Credentials(_ context.Context, accountID int64) (auth.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return auth.Credentials{}, s.err
	}
	for _, a := range s.accounts {
		if a.p.AccountID == accountID {
			return a.creds, nil
		}
	}
	return auth.Credentials{}, fmt.Errorf("memstore: account %d: not found", accountID)
}

func (s *memStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

type harness struct {
	store    *memStore
	auth     *auth.Authenticator
	throttle *auth.Throttle
	logs     *logbuf.Buffer
	v        Verifier
}

// newHarness returns a real Authenticator over a store holding alice (with
// SCRAM credentials) and bob (argon2id only), throttled by th (nil: none).
func newHarness(t *testing.T, th *auth.Throttle) *harness {
	t.Helper()
	h := &harness{store: &memStore{accounts: map[string]memAccount{}}, throttle: th, logs: &logbuf.Buffer{}}
	for _, a := range []struct {
		p     auth.Principal
		pw    string
		scram bool
	}{{alice, alicePW, true}, {bob, bobPW, false}} {
		creds, err := auth.HashPassword(a.pw, cheapParams)
		if err != nil {
			t.Fatal(err)
		}
		if !a.scram {
			creds.SCRAMSHA256 = ""
		}
		h.store.accounts[a.p.Email] = memAccount{a.p, creds}
	}
	logger := slog.New(slog.NewTextHandler(h.logs, nil))
	h.auth = auth.NewAuthenticator(h.store, th, -1, logger)
	h.v = NewVerifier(h.auth, h.store, remote, "imap")
	t.Cleanup(func() {
		for _, pw := range []string{alicePW, bobPW, "wrong-password"} {
			if strings.Contains(h.logs.String(), pw) {
				t.Errorf("log contains a password:\n%s", h.logs)
			}
		}
	})
	return h
}

// server returns a mechanism whose successes are appended to *got.
func (h *harness) server(t *testing.T, ctx context.Context, mech string, got *[]auth.Principal) gosasl.Server {
	t.Helper()
	s, err := NewServer(ctx, mech, h.v, func(p auth.Principal) error {
		*got = append(*got, p)
		return nil
	})
	if err != nil {
		t.Fatalf("NewServer(%q): %v", mech, err)
	}
	return s
}

// runClient drives server with a go-sasl client as a protocol would: the
// initial response if the client has one, then challenge and response until
// the server is done or fails.
func runClient(server gosasl.Server, client gosasl.Client) error {
	_, resp, err := client.Start()
	if err != nil {
		return fmt.Errorf("client start: %w", err)
	}
	for range 10 {
		challenge, done, err := server.Next(resp)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if resp, err = client.Next(challenge); err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}
	return errors.New("exchange did not end")
}

// runSCRAM drives server with an xdg-go/scram client for username and
// password, as SMTP, POP3 and IMAP carry SCRAM: client-first (as an initial
// response if ir), client-final, then an empty response to server-final.
func runSCRAM(server gosasl.Server, username, password, authzid string, ir bool) error {
	client, err := scram.SHA256.NewClient(username, password, authzid)
	if err != nil {
		return fmt.Errorf("scram client: %w", err)
	}
	cc := client.NewConversation()
	if !ir {
		challenge, done, err := server.Next(nil)
		if err != nil || done || len(challenge) != 0 {
			return fmt.Errorf("no initial response: got %q, %v, %v; want an empty challenge", challenge, done, err)
		}
	}
	clientFirst, err := cc.Step("")
	if err != nil {
		return fmt.Errorf("client first: %w", err)
	}
	serverFirst, done, err := server.Next([]byte(clientFirst))
	if err != nil {
		return err
	}
	if done {
		return errors.New("done after client-first")
	}
	clientFinal, err := cc.Step(string(serverFirst))
	if err != nil {
		return fmt.Errorf("client final: %w", err)
	}
	serverFinal, done, err := server.Next([]byte(clientFinal))
	if err != nil {
		return err
	}
	if done {
		return errors.New("done with server-final: the protocol would drop it")
	}
	if _, err := cc.Step(string(serverFinal)); err != nil || !cc.Valid() {
		return fmt.Errorf("client rejected server-final %q: %v", serverFinal, err)
	}
	challenge, done, err := server.Next([]byte{})
	if err != nil {
		return err
	}
	if !done || len(challenge) != 0 {
		return fmt.Errorf("after acknowledgement: challenge %q, done %v", challenge, done)
	}
	return nil
}

func wantAuthFailed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrAuthFailed) {
		t.Errorf("%s: err = %v, want ErrAuthFailed", what, err)
	}
}

func wantPrincipals(t *testing.T, got []auth.Principal, want ...auth.Principal) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("onSuccess got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("onSuccess got %v, want %v", got, want)
		}
	}
}
