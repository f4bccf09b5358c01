package sasl

import (
	"context"
	"errors"
	"fmt"

	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
)

// scramServer implements SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel
// binding, on xdg-go/scram's server conversation.
//
// The exchange over SMTP, POP3 and IMAP is:
//
//	client-first  → server-first  (challenge)
//	client-final  → server-final  (challenge, done=false)
//	empty         → success       (done=true)
//
// The server-final message (the server's signature, which proves to the
// client that the server knows its credentials) must go out as a challenge:
// none of the three protocols can carry data with its success reply
// (go-smtp drops the challenge once done is true), so the client answers it
// with an empty response and only then is the exchange complete (RFC 4954
// section 4, RFC 4422 section 5).
type scramServer struct {
	ctx       context.Context
	v         Verifier
	onSuccess func(auth.Principal) error
	conv      *scram.ServerConversation

	state scramState
	// Set by lookup during the first step.
	principal auth.Principal
	username  string
	lookedUp  bool
	lookupErr error
}

type scramState int

const (
	scramStart       scramState = iota
	scramFirst                  // sent the empty challenge asking for client-first
	scramFinal                  // sent server-first
	scramAcknowledge            // sent server-final; waiting for the empty response
	scramFinished
)

func newSCRAMServer(ctx context.Context, v Verifier, onSuccess func(auth.Principal) error) (*scramServer, error) {
	s := &scramServer{ctx: ctx, v: v, onSuccess: onSuccess}
	server, err := scram.SHA256.NewServer(s.lookup)
	if err != nil {
		return nil, fmt.Errorf("sasl: SCRAM-SHA-256 server: %w", err)
	}
	s.conv = server.NewConversation()
	return s, nil
}

// lookup is the conversation's CredentialLookup, called while processing
// client-first. The conversation API has no context, so it uses the one the
// server was created with.
func (s *scramServer) lookup(username string) (scram.StoredCredentials, error) {
	s.username = username
	p, creds, err := s.v.SCRAMCredentials(s.ctx, username)
	if err != nil {
		s.lookupErr = err
		return scram.StoredCredentials{}, err
	}
	s.principal, s.lookedUp = p, true
	return creds, nil
}

func (s *scramServer) Next(response []byte) ([]byte, bool, error) {
	switch s.state {
	case scramStart:
		if response == nil {
			s.state = scramFirst
			return []byte{}, false, nil
		}
		return s.first(response)
	case scramFirst:
		return s.first(response)
	case scramFinal:
		return s.final(response)
	case scramAcknowledge:
		s.state = scramFinished
		if len(response) != 0 {
			return nil, false, fmt.Errorf("%w: SCRAM-SHA-256: non-empty response to server-final message", ErrAuthFailed)
		}
		if err := s.onSuccess(s.principal); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return nil, false, errFinished
}

func (s *scramServer) first(response []byte) ([]byte, bool, error) {
	s.state = scramFinished // unless everything below succeeds
	serverFirst, err := s.conv.Step(string(response))
	switch {
	case s.lookupErr != nil:
		return nil, false, fmt.Errorf("sasl: SCRAM-SHA-256 credentials: %w", s.lookupErr)
	case err != nil && s.lookedUp:
		// Credentials were fetched, so the throttle waited for this
		// attempt: count it. (xdg-go/scram checks everything it parses
		// before the lookup, so this does not happen today.)
		s.v.SCRAMResult(s.username, false)
		return nil, false, fmt.Errorf("%w: SCRAM-SHA-256: %w", ErrAuthFailed, err)
	case err != nil:
		return nil, false, fmt.Errorf("%w: SCRAM-SHA-256: malformed client-first message: %w", ErrAuthFailed, err)
	case !s.authzidAllowed():
		// The throttle waited for this attempt, so it counts.
		s.v.SCRAMResult(s.username, false)
		return nil, false, fmt.Errorf("%w: SCRAM-SHA-256: authorization identity differs from username", ErrAuthFailed)
	}
	s.state = scramFinal
	return []byte(serverFirst), false, nil
}

func (s *scramServer) final(response []byte) ([]byte, bool, error) {
	s.state = scramFinished // unless everything below succeeds
	serverFinal, err := s.conv.Step(string(response))
	if err == nil && !s.conv.Valid() {
		err = errors.New("conversation not valid")
	}
	if err == nil && s.principal.AccountID == 0 {
		// Unreachable: a decoy matches no proof. Checked anyway so that a
		// Verifier bug cannot log anyone in as account 0.
		err = errors.New("proof matched decoy credentials")
	}
	if err != nil {
		s.v.SCRAMResult(s.username, false)
		return nil, false, fmt.Errorf("%w: SCRAM-SHA-256: %w", ErrAuthFailed, err)
	}
	// The client has proved it knows the password: record success now even
	// though the exchange ends only with its acknowledgement, so that the
	// throttle and log see exactly one outcome per proof checked.
	s.v.SCRAMResult(s.username, true)
	s.state = scramAcknowledge
	return []byte(serverFinal), false, nil
}

// authzidAllowed refuses proxy authentication (acting as another account),
// as PLAIN does.
func (s *scramServer) authzidAllowed() bool {
	z := s.conv.AuthzID()
	return z == "" || s.v.Username(z) == s.v.Username(s.username)
}
