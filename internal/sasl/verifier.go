package sasl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
)

// CredentialStore is the part of the store SCRAM needs. store.Directory
// implements it.
type CredentialStore interface {
	// LookupCredentials returns the account for username, or an error
	// wrapping auth.ErrUnknownAccount.
	LookupCredentials(ctx context.Context, username string) (auth.Principal, []string, error)
	// Credentials returns the account's stored credentials.
	Credentials(ctx context.Context, accountID int64) (auth.Credentials, error)
}

// NewVerifier returns the Verifier for one connection from remote speaking
// protocol ("smtp", "imap", "pop3", ...): plaintext passwords go through
// a.Authenticate, SCRAM credentials come from lookup, and both share a's
// throttle and log.
func NewVerifier(a *auth.Authenticator, lookup CredentialStore, remote netip.Addr, protocol string) Verifier {
	return &verifier{a: a, store: lookup, remote: remote, protocol: protocol}
}

type verifier struct {
	a        *auth.Authenticator
	store    CredentialStore
	remote   netip.Addr
	protocol string
	ticket   *auth.Ticket // the SCRAM exchange's admission
}

func (v *verifier) Username(name string) string { return v.a.Username(name) }

func (v *verifier) Password(ctx context.Context, username, password string) (auth.Principal, error) {
	return v.a.Authenticate(ctx, v.remote, v.protocol, username, password)
}

func (v *verifier) SCRAMCredentials(ctx context.Context, username string) (p auth.Principal, sc scram.StoredCredentials, err error) {
	user := v.a.Username(username)
	tk, err := v.a.Admit(v.remote, v.protocol, user)
	if err != nil {
		return auth.Principal{}, scram.StoredCredentials{}, err
	}
	v.ticket = tk
	defer func() {
		if err != nil { // a store failure: no result for the throttle
			tk.Abandon()
			v.ticket = nil
		}
	}()
	decoy := func() (auth.Principal, scram.StoredCredentials, error) {
		return auth.Principal{}, v.a.DecoySCRAM(user), nil
	}
	// Same rule as Authenticate: no account has such a name.
	if user == "" || strings.ContainsRune(user, 0) {
		return decoy()
	}

	p, _, err = v.store.LookupCredentials(ctx, user)
	if errors.Is(err, auth.ErrUnknownAccount) {
		return decoy()
	}
	if err != nil {
		return auth.Principal{}, scram.StoredCredentials{}, fmt.Errorf("sasl: looking up %q: %w", user, err)
	}
	creds, err := v.store.Credentials(ctx, p.AccountID)
	if err != nil {
		return auth.Principal{}, scram.StoredCredentials{}, fmt.Errorf("sasl: reading credentials of account %d: %w", p.AccountID, err)
	}
	if creds.SCRAMSHA256 == "" {
		// E.g. a password hash imported without SCRAM credentials: such an
		// account can only use PLAIN or LOGIN. Failing like a wrong
		// password keeps that fact private too.
		return decoy()
	}
	sc, err = auth.ParseSCRAMSHA256(creds.SCRAMSHA256)
	if err != nil {
		return auth.Principal{}, scram.StoredCredentials{}, fmt.Errorf("sasl: account %d: %w", p.AccountID, err)
	}
	return p, sc, nil
}

func (v *verifier) SCRAMResult(username string, ok bool) {
	v.a.Record(v.ticket, v.remote, v.protocol, username, ok)
	v.ticket = nil
}
