package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Errors returned by Authenticate (and, for ErrUnknownAccount, by a
// CredentialLookup). Test with errors.Is.
var (
	// ErrInvalidCredentials means the username or password is wrong.
	// Authenticate returns it for unknown accounts too, so that protocol
	// code cannot accidentally reveal which accounts exist.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrUnknownAccount is returned by a CredentialLookup for a username
	// with no account. Authenticate never returns it.
	ErrUnknownAccount = errors.New("auth: unknown account")
	// ErrThrottled means the attempt was refused without a password
	// check: too many failed logins from the client's network or at the
	// account, try again later. Protocols answer with their "temporary
	// failure, try later" reply.
	ErrThrottled = errors.New("auth: login throttled")
)

// Principal identifies an authenticated account.
type Principal struct {
	AccountID int64
	Email     string
}

// CredentialLookup is implemented by the store.
type CredentialLookup interface {
	// LookupCredentials returns the account's identity and every argon2id
	// hash that may log in as it (the main password and app passwords).
	// ErrUnknownAccount if there is no such account.
	LookupCredentials(ctx context.Context, username string) (Principal, []string, error)
}

const (
	// DefaultCacheTTL is the verification cache lifetime NewAuthenticator
	// uses when given 0.
	DefaultCacheTTL = time.Hour
	// cacheMaxEntries bounds the verification cache: 10k entries of ~100
	// bytes, far more than the concurrently active clients of a small server.
	cacheMaxEntries = 10_000
	// maxLoggedUsername bounds what one attempt can put in the log.
	maxLoggedUsername = 256
)

// Authenticator checks usernames and passwords for every protocol.
// It is safe for concurrent use.
type Authenticator struct {
	lookup   CredentialLookup
	throttle *Throttle // nil: no throttling
	cache    *verifyCache
	logger   *slog.Logger

	// argon2 allocates MemoryKiB per verification. Limiting concurrent
	// verifications to the number of CPUs loses no throughput (each is
	// CPU-bound) and bounds memory to NumCPU × 19 MiB during a login flood.
	sem chan struct{}

	// dummyHash is verified against for unknown accounts, so that they cost
	// the same argon2 work as a wrong password for a real one.
	dummyHash string

	// decoyKey derives the stable decoy SCRAM credentials of unknown
	// accounts (see DecoySCRAM). Random per process.
	decoyKey [32]byte

	// defaultDomain completes login names without "@" (SetDefaultDomain);
	// "" leaves them as they are.
	defaultDomain string

	// logins counts the attempts (SetLoginObserver); nil: not counted.
	logins LoginObserver

	// Replaceable in tests.
	verify func(encoded, password string) (bool, error)
}

// NewAuthenticator returns an Authenticator that looks accounts up with
// lookup and throttles with th (nil disables throttling). cacheTTL is how
// long a successful verification is remembered: 0 means DefaultCacheTTL, a
// negative value disables the cache. A nil logger discards logs.
func NewAuthenticator(lookup CredentialLookup, th *Throttle, cacheTTL time.Duration, logger *slog.Logger) *Authenticator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{
		lookup:    lookup,
		throttle:  th,
		logger:    logger,
		sem:       make(chan struct{}, max(runtime.NumCPU(), 1)),
		dummyHash: dummyArgon2id(DefaultParams),
		verify:    VerifyPassword,
	}
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return an error).
	_, _ = rand.Read(a.decoyKey[:])
	if cacheTTL == 0 {
		cacheTTL = DefaultCacheTTL
	}
	if cacheTTL > 0 {
		c, err := newVerifyCache(cacheTTL, cacheMaxEntries, time.Now)
		if err != nil {
			// crypto/rand does not fail on supported platforms; if it
			// somehow does, run without the cache rather than fail logins.
			logger.Error("auth: verification cache disabled", "err", err)
		} else {
			a.cache = c
		}
	}
	return a
}

// LoginObserver counts login attempts for the server's metrics
// (internal/metrics implements it). result is "ok", "failed" (a wrong
// password, an unknown account), "throttled" or "error" (the store
// failed, the client went away).
type LoginObserver interface {
	Login(protocol, result string)
}

// SetLoginObserver makes every attempt counted by o; call it before the
// authenticator is used. Every login of every protocol comes through
// Authenticate or Admit and Record, so this is the one place to count.
func (a *Authenticator) SetLoginObserver(o LoginObserver) { a.logins = o }

// countLogin maps the log line's result to the metric's.
func (a *Authenticator) countLogin(protocol, result string) {
	if a.logins == nil {
		return
	}
	switch result {
	case "success":
		result = "ok"
	case "throttled":
	case "error", "canceled":
		result = "error"
	default:
		result = "failed"
	}
	a.logins.Login(protocol, result)
}

// Invalidate forgets cached verifications for account (a normalised or raw
// username). A changed password is invalidated automatically; call this when
// an account is disabled or its app passwords are revoked in a way that keeps
// the same hash strings.
func (a *Authenticator) Invalidate(account string) {
	if a.cache != nil {
		a.cache.invalidate(a.Username(account))
	}
}

// NormalizeUsername is the normalisation every login name gets before
// lookup, throttling and caching: surrounding white space trimmed,
// lower-cased. Authenticator.Username adds the default domain to it.
func NormalizeUsername(username string) string {
	return strings.ToLower(strings.TrimSpace(username))
}

// SetDefaultDomain makes login names without "@" stand for that name at
// domain (config auth.default_domain, Dovecot's auth_default_realm), for
// single-domain installations whose users log in as "ann". "" turns it
// off. Call it before the Authenticator is used.
func (a *Authenticator) SetDefaultDomain(domain string) {
	a.defaultDomain = NormalizeUsername(domain)
}

// Username is the account name a login name stands for: normalised, and
// completed with the default domain when it has no "@". Every check of
// this package (and SASL's SCRAM lookup) goes through it, so that all
// protocols take the same names and the throttle and cache count "ann"
// and "ann@example.org" as one account.
func (a *Authenticator) Username(username string) string {
	user := NormalizeUsername(username)
	if a.defaultDomain != "" && user != "" && !strings.Contains(user, "@") {
		user += "@" + a.defaultDomain
	}
	return user
}

// Authenticate checks username and password for a login over protocol
// (e.g. "imap", "pop3", "submission", "web") from remote.
//
// It first asks the throttle (Throttle.Admit): a refused attempt returns
// an error wrapping ErrThrottled at once, without a password check. A
// wrong password or unknown account yields ErrInvalidCredentials; a store
// failure is returned wrapped.
//
// Every call writes one log line "auth attempt" with protocol, remote,
// username and result: success, invalid_password, unknown_account,
// invalid_username, throttled, canceled or error. The password never
// appears in logs or errors.
func (a *Authenticator) Authenticate(ctx context.Context, remote netip.Addr, protocol, username, password string) (Principal, error) {
	start := time.Now()
	user := a.Username(username)
	att := attempt{a: a, ctx: ctx, start: start, remote: remote, protocol: protocol, user: user}

	if a.throttle != nil {
		tk, retry := a.throttle.AdmitContext(ctx, remote, user)
		if tk == nil {
			att.delay = retry
			att.log(slog.LevelWarn, "throttled", nil)
			return Principal{}, fmt.Errorf("%w: try again in %v", ErrThrottled, retry.Round(time.Second))
		}
		att.ticket = tk
		defer tk.Abandon() // an attempt that ends without a result takes its charge back
	}

	// A NUL could make two different (account, password) pairs produce the
	// same cache key input; no protocol can carry one in a username anyway.
	if user == "" || strings.ContainsRune(user, 0) {
		return att.fail("invalid_username")
	}

	principal, hashes, err := a.lookup.LookupCredentials(ctx, user)
	switch {
	case errors.Is(err, ErrUnknownAccount):
		// Spend the same time as a wrong password so that response
		// times do not reveal which accounts exist.
		if _, err := a.verifyLimited(ctx, a.dummyHash, password, nil); err != nil && !errors.Is(err, ErrMalformedHash) {
			att.log(slog.LevelInfo, "canceled", err)
			return Principal{}, fmt.Errorf("auth: verifying password: %w", err)
		}
		return att.fail("unknown_account")
	case err != nil:
		att.log(slog.LevelError, "error", err)
		return Principal{}, fmt.Errorf("auth: looking up credentials: %w", err)
	}

	if a.cache != nil {
		for _, h := range hashes {
			if a.cache.hit(user, password, h) {
				att.cached = true
				return att.succeed(principal)
			}
		}
	}

	noPassword := len(hashes) == 0
	if noPassword {
		// An account that cannot log in by password (none set): same cost
		// as a wrong password, for the same reason as unknown accounts.
		hashes = []string{a.dummyHash}
	}
	for _, h := range hashes {
		var recheck func() bool
		if a.cache != nil && !noPassword {
			recheck = func() bool {
				att.cached = a.cache.hit(user, password, h)
				return att.cached
			}
		}
		ok, err := a.verifyLimited(ctx, h, password, recheck)
		if errors.Is(err, ErrMalformedHash) {
			// A corrupt row must not stop the account's other (app)
			// passwords from working; say so loudly, but once per
			// attempt is enough.
			a.logger.LogAttrs(ctx, slog.LevelError, "auth: stored password hash unusable",
				slog.String("username", truncate(user)), slog.Any("err", err))
			continue
		}
		if err != nil {
			att.log(slog.LevelInfo, "canceled", err)
			return Principal{}, fmt.Errorf("auth: verifying password: %w", err)
		}
		if ok && !noPassword {
			if a.cache != nil {
				a.cache.add(user, password, h)
			}
			return att.succeed(principal)
		}
	}
	return att.fail("invalid_password")
}

// AuthenticateToken checks a bearer token (JMAP's "Authorization:
// Bearer") for a request over protocol from remote: lookup finds the
// account the token stands for, or returns ErrInvalidCredentials.
//
// A token is random, so guessing one is guessing a password without a
// username: the throttle admits the attempt by the client's network alone
// (a token names no account until it is found), and a wrong token counts
// as a failure of that network, so that its further guesses, tokens or
// passwords, wait as after wrong passwords. A refused attempt returns
// ErrThrottled without a lookup.
//
// Every call writes one "auth attempt" line like Authenticate's, with
// credential=token and the account's address as username once found
// (result success, invalid_token, throttled or error); the token never
// appears in logs or errors.
func (a *Authenticator) AuthenticateToken(ctx context.Context, remote netip.Addr, protocol string, lookup func(context.Context) (Principal, error)) (Principal, error) {
	att := attempt{a: a, ctx: ctx, start: time.Now(), remote: remote, protocol: protocol, credential: "token"}
	if a.throttle != nil {
		tk, retry := a.throttle.AdmitContext(ctx, remote, "")
		if tk == nil {
			att.delay = retry
			att.log(slog.LevelWarn, "throttled", nil)
			return Principal{}, fmt.Errorf("%w: try again in %v", ErrThrottled, retry.Round(time.Second))
		}
		att.ticket = tk
		// A success takes the charge back too: with no account named
		// there is no network-account trust for Ticket.Success to
		// record, and the network's failures at other accounts stay.
		defer tk.Abandon()
	}
	p, err := lookup(ctx)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return att.fail("invalid_token")
	case err != nil:
		att.log(slog.LevelError, "error", err)
		return Principal{}, fmt.Errorf("auth: looking up a token: %w", err)
	}
	att.user = NormalizeUsername(p.Email)
	att.log(slog.LevelInfo, "success", nil)
	return p, nil
}

// verifyLimited runs one argon2 verification once a semaphore slot is free.
// cached, if not nil, is asked again once the slot is taken and skips the
// verification when it says yes: in a login flood (a client with many
// connections, or every client reconnecting after a restart) the logins of
// one account queue behind the first one's verification and then find it
// in the cache, instead of each spending argon2's time and memory.
func (a *Authenticator) verifyLimited(ctx context.Context, encoded, password string, cached func() bool) (bool, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.sem }()
	if cached != nil && cached() {
		return true, nil
	}
	return a.verify(encoded, password)
}

// attempt carries what the single log line of one Authenticate call needs.
type attempt struct {
	a        *Authenticator
	ctx      context.Context
	start    time.Time
	remote   netip.Addr
	protocol string
	user     string
	delay    time.Duration // when refused: until a check may run
	cached   bool
	ticket   *Ticket // nil without a throttle
	// credential is what was presented when it is not a password
	// ("token"); "" for a password.
	credential string
}

func (t *attempt) fail(result string) (Principal, error) {
	t.ticket.Failure()
	t.log(slog.LevelWarn, result, nil)
	return Principal{}, ErrInvalidCredentials
}

func (t *attempt) succeed(p Principal) (Principal, error) {
	t.ticket.Success()
	t.log(slog.LevelInfo, "success", nil)
	return p, nil
}

// log writes the attempt's one log line. It never includes the password.
func (t *attempt) log(level slog.Level, result string, err error) {
	attrs := []slog.Attr{
		slog.String("protocol", t.protocol),
		slog.String("remote", t.remote.String()),
		slog.String("username", truncate(t.user)),
		slog.String("result", result),
		slog.Duration("elapsed", time.Since(t.start)),
	}
	if t.delay > 0 {
		attrs = append(attrs, slog.Duration("retry_after", t.delay))
	}
	if t.cached {
		attrs = append(attrs, slog.Bool("cached", true))
	}
	if t.credential != "" {
		attrs = append(attrs, slog.String("credential", t.credential))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}
	t.a.logger.LogAttrs(t.ctx, level, "auth attempt", attrs...)
	t.a.countLogin(t.protocol, result)
}

func truncate(s string) string {
	if len(s) > maxLoggedUsername {
		return s[:maxLoggedUsername] + "…"
	}
	return s
}

// dummyArgon2id returns a well-formed PHC string with parameters p that no
// password matches (its hash is all zeros; finding a preimage is infeasible).
// Verifying against it costs exactly what a real verification with p costs.
func dummyArgon2id(p Params) string {
	zero := base64.RawStdEncoding.EncodeToString(make([]byte, keyLen))
	salt := base64.RawStdEncoding.EncodeToString([]byte("mailroom-dummy!!"))
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, salt, zero)
}
