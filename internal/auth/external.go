package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/xdg-go/scram"
)

// This file serves mechanisms that check credentials themselves instead of
// handing a password to Authenticate (SASL SCRAM: the server only ever sees a
// proof). They must still be admitted by the throttle first and report the
// outcome afterwards, so that guessing through SCRAM is slowed down, and
// shows up in the log, exactly like guessing through PLAIN.

// Admit asks the throttle whether a login attempt for username from
// remote may be checked now, as Authenticate does first. A refused attempt
// is logged as throttled and gets an error wrapping ErrThrottled. Report
// the outcome of an admitted one with exactly one Record of its Ticket (an
// exchange abandoned before that counts as a failure). The Ticket is nil
// without a throttle.
func (a *Authenticator) Admit(remote netip.Addr, protocol, username string) (*Ticket, error) {
	if a.throttle == nil {
		return nil, nil
	}
	user := a.Username(username)
	tk, retry := a.throttle.Admit(remote, user)
	if tk == nil {
		att := attempt{a: a, ctx: context.Background(), start: time.Now(), remote: remote, protocol: protocol, user: user, delay: retry}
		att.log(slog.LevelWarn, "throttled", nil)
		return nil, fmt.Errorf("%w: try again in %v", ErrThrottled, retry.Round(time.Second))
	}
	return tk, nil
}

// Record reports the outcome of a login attempt checked outside
// Authenticate, admitted with tk: it updates the throttle as Authenticate
// would and writes one "auth attempt" log line with result "success" or
// "invalid_credentials". The log line does not say whether the account
// exists; the caller should not know either.
func (a *Authenticator) Record(tk *Ticket, remote netip.Addr, protocol, username string, ok bool) {
	user := a.Username(username)
	result, level := "success", slog.LevelInfo
	if ok {
		tk.Success()
	} else {
		tk.Failure()
	}
	if !ok {
		result, level = "invalid_credentials", slog.LevelWarn
	}
	// Record has no context of its own: it is called once the exchange is
	// over, and logging must happen even if the connection's ctx has ended.
	a.logger.LogAttrs(context.Background(), level, "auth attempt",
		slog.String("protocol", protocol),
		slog.String("remote", remote.String()),
		slog.String("username", truncate(user)),
		slog.String("result", result),
	)
	a.countLogin(protocol, result)
}

// DecoySCRAM returns SCRAM-SHA-256 credentials to run an exchange against when
// username has no usable credentials (unknown account, or no SCRAM hash
// stored), so that the exchange fails exactly as a wrong password does.
//
// The first server message reveals the salt and iteration count. A random
// salt per attempt would give unknown accounts away (a real account's salt
// never changes), so the salt is derived from username with a per-process
// key: stable for as long as the process runs, unpredictable, and with the
// iteration count every stored credential has. StoredKey is an HMAC output
// too, so no client proof can match it without a SHA-256 preimage.
func (a *Authenticator) DecoySCRAM(username string) scram.StoredCredentials {
	user := a.Username(username)
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, a.decoyKey[:])
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(user))
		return m.Sum(nil)
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(derive("salt")[:saltLen]), Iters: scramIterations},
		StoredKey:  derive("stored-key"),
		ServerKey:  derive("server-key"),
	}
}

// ThrottleDelay is how long a login attempt for username from remote would
// wait now (0 without throttling). POP3 advertises it as LOGIN-DELAY.
func (a *Authenticator) ThrottleDelay(remote netip.Addr, username string) time.Duration {
	if a.throttle == nil {
		return 0
	}
	return a.throttle.Delay(remote, a.Username(username))
}
