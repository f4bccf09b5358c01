package sasl

import (
	"context"

	"mailroom/internal/auth"
)

// loginServer implements LOGIN (draft-murchison-sasl-login), which go-sasl
// only has a client for. Many mail clients (Outlook among them) still use it
// instead of PLAIN.
type loginServer struct {
	ctx       context.Context
	v         Verifier
	onSuccess func(auth.Principal) error

	state    loginState
	username string
}

type loginState int

const (
	loginStart    loginState = iota
	loginUsername            // sent "Username:"
	loginPassword            // sent "Password:"
	loginFinished
)

// The challenges are fixed by convention, not by any standard; clients
// (go-sasl's among them) compare them byte for byte.
var (
	usernameChallenge = []byte("Username:")
	passwordChallenge = []byte("Password:")
)

func (s *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch s.state {
	case loginStart:
		// An initial response (SASL-IR, RFC 4954's AUTH LOGIN <user>)
		// carries the username. An empty one cannot name an account, so it
		// is treated as absent and the username asked for.
		if len(response) == 0 {
			s.state = loginUsername
			return usernameChallenge, false, nil
		}
		s.username = string(response)
		s.state = loginPassword
		return passwordChallenge, false, nil
	case loginUsername:
		s.username = string(response)
		s.state = loginPassword
		return passwordChallenge, false, nil
	case loginPassword:
		s.state = loginFinished
		p, err := s.v.Password(s.ctx, s.username, string(response))
		return passwordResult(p, err, s.onSuccess)
	}
	return nil, false, errFinished
}
