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
// proof). They must still wait out the throttle first and report the outcome
// afterwards, so that guessing through SCRAM is slowed down, and shows up in
// the log, exactly like guessing through PLAIN.

// WaitThrottle waits out the throttle delay for a login attempt for username
// from remote, as Authenticate does before checking a password. If ctx ends
// meanwhile it logs the attempt as throttled and returns an error wrapping
// both ErrThrottled and ctx.Err(). Follow it with exactly one Record.
func (a *Authenticator) WaitThrottle(ctx context.Context, remote netip.Addr, protocol, username string) error {
	if a.throttle == nil {
		return nil
	}
	start := time.Now()
	user := NormalizeUsername(username)
	d := a.throttle.Delay(remote, user)
	if d <= 0 {
		return nil
	}
	if err := a.wait(ctx, d); err != nil {
		att := attempt{a: a, ctx: ctx, start: start, remote: remote, protocol: protocol, user: user, delay: d}
		att.log(slog.LevelWarn, "throttled", err)
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	}
	return nil
}

// Record reports the outcome of a login attempt checked outside Authenticate:
// it updates the throttle as Authenticate would and writes one "auth attempt"
// log line with result "success" or "invalid_credentials". The log line does
// not say whether the account exists; the caller should not know either.
func (a *Authenticator) Record(remote netip.Addr, protocol, username string, ok bool) {
	user := NormalizeUsername(username)
	result, level := "success", slog.LevelInfo
	if a.throttle != nil {
		if ok {
			a.throttle.Success(remote, user)
		} else {
			a.throttle.Failure(remote, user)
		}
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
	user := NormalizeUsername(username)
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
	return a.throttle.Delay(remote, NormalizeUsername(username))
}
