// Package sasl implements the SASL (RFC 4422) server mechanisms Mailroom
// offers for SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE
// (RFC 3501, RFC 4959): PLAIN, LOGIN and SCRAM-SHA-256.
//
// Every mechanism is a go-sasl Server, so go-smtp drives it directly and the
// POP3 and IMAP code drive the same interface. Challenges and responses are
// raw bytes; base64 framing, "*" cancellation and line length limits are the
// protocol's job.
package sasl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gosasl "github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
)

// Mechanism names, as advertised in EHLO/CAPA/CAPABILITY.
const (
	PLAIN       = "PLAIN"
	LOGIN       = "LOGIN"
	SCRAMSHA256 = "SCRAM-SHA-256"
)

// Errors returned by NewServer and by the mechanisms' Next. Test with
// errors.Is.
var (
	// ErrUnsupported means NewServer was asked for a mechanism this package
	// does not implement.
	ErrUnsupported = errors.New("sasl: unsupported mechanism")
	// ErrAuthFailed means the client did not authenticate: wrong or unknown
	// credentials, a forbidden authorization identity, or a malformed or
	// out-of-sequence client response. Protocols answer it with 535 5.7.8,
	// -ERR [AUTH] or NO [AUTHENTICATIONFAILED]. Other errors (store
	// failures, an attempt the throttle refused) are temporary failures.
	ErrAuthFailed = errors.New("sasl: authentication failed")
)

// Verifier is what the mechanisms need to check credentials. NewVerifier
// builds one from an *auth.Authenticator and the store.
type Verifier interface {
	// Password checks a plaintext password (PLAIN, LOGIN), throttled and
	// cached. Wrong credentials yield an error wrapping
	// auth.ErrInvalidCredentials.
	Password(ctx context.Context, username, password string) (auth.Principal, error)
	// SCRAMCredentials returns stored SCRAM-SHA-256 credentials for SCRAM,
	// once the throttle admits the attempt. For a username without usable
	// credentials it returns a zero Principal and decoy credentials no
	// proof matches, and a nil error, so the exchange fails exactly like a
	// wrong password.
	SCRAMCredentials(ctx context.Context, username string) (auth.Principal, scram.StoredCredentials, error)
	// SCRAMResult records the outcome of a SCRAM exchange in the throttle
	// and log.
	SCRAMResult(username string, ok bool)
	// Username is the account name a login name stands for
	// (auth.Authenticator.Username), to compare an authorization identity
	// with the username as the login itself will be checked.
	Username(name string) string
}

// NewServer returns a server for mechanism mech (case-insensitive). ctx
// bounds everything the exchange waits for (store, password
// verification). onSuccess, if not nil, is called with the principal when
// authentication succeeds; an error from it is returned by Next unchanged, so
// it may carry a protocol-specific reply.
func NewServer(ctx context.Context, mech string, v Verifier, onSuccess func(auth.Principal) error) (gosasl.Server, error) {
	if onSuccess == nil {
		onSuccess = func(auth.Principal) error { return nil }
	}
	switch strings.ToUpper(mech) {
	case PLAIN:
		return &plainServer{ctx: ctx, v: v, onSuccess: onSuccess}, nil
	case LOGIN:
		return &loginServer{ctx: ctx, v: v, onSuccess: onSuccess}, nil
	case SCRAMSHA256:
		return newSCRAMServer(ctx, v, onSuccess)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupported, mech)
}

// errFinished is returned when a client keeps talking after the exchange
// ended (successfully or not).
var errFinished = fmt.Errorf("%w: %w", ErrAuthFailed, gosasl.ErrUnexpectedClientResponse)

// passwordResult turns the outcome of Verifier.Password into Next's results.
func passwordResult(p auth.Principal, err error, onSuccess func(auth.Principal) error) ([]byte, bool, error) {
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return nil, false, fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("sasl: checking password: %w", err)
	}
	if err := onSuccess(p); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}
