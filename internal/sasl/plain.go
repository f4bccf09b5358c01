package sasl

import (
	"bytes"
	"context"
	"fmt"

	"mailroom/internal/auth"
)

// plainServer implements PLAIN (RFC 4616): one client message
// "[authzid] NUL authcid NUL passwd".
//
// It is our own rather than go-sasl's so that malformed messages and refused
// authorization identities come back as ErrAuthFailed, which protocols map to
// their authentication-failed reply.
type plainServer struct {
	ctx       context.Context
	v         Verifier
	onSuccess func(auth.Principal) error

	challenged bool // sent the empty challenge asking for the message
	finished   bool
}

func (s *plainServer) Next(response []byte) ([]byte, bool, error) {
	if s.finished {
		return nil, false, errFinished
	}
	// No initial response: ask for the message with an empty challenge.
	if response == nil && !s.challenged {
		s.challenged = true
		return []byte{}, false, nil
	}
	s.finished = true

	authzid, authcid, password, err := parsePlain(response)
	if err != nil {
		return nil, false, err
	}
	// We do not offer proxy authentication (acting as another account);
	// naming yourself is the same as naming nobody. Refusing before the
	// password check reveals nothing, as the answer does not depend on it.
	if authzid != "" && s.v.Username(authzid) != s.v.Username(authcid) {
		return nil, false, fmt.Errorf("%w: PLAIN: authorization identity differs from username", ErrAuthFailed)
	}
	p, err := s.v.Password(s.ctx, authcid, password)
	return passwordResult(p, err, s.onSuccess)
}

// parsePlain splits a PLAIN message. authcid and passwd must not be empty
// (RFC 4616 section 2); none of the three may contain NUL.
func parsePlain(msg []byte) (authzid, authcid, password string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", fmt.Errorf("%w: PLAIN: malformed message", ErrAuthFailed)
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}
