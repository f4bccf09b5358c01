package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"mailroom/internal/store"
)

// Resolver is the DNS a Client needs; *resolver.Resolver is the real one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// Config configures a Client.
type Config struct {
	Resolver Resolver
	// Files keeps the policies fetched, one shared file per domain, so
	// that they outlive a restart and every node knows them: a policy
	// protects mail only if an attacker who blocks the fetch finds it
	// cached (RFC 8461 section 10.2). nil: memory only.
	Files Files
	// RootCAs verify the policy host's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Port is the HTTPS port; 0 means 443. Tests set another.
	Port int
	// Timeout bounds one fetch, connection to last octet; 0 means 30 s.
	// RFC 8461 section 3.3 asks for a short one: the fetch holds up mail.
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Files is where policies are cached, shared by every node: the store's
// shared files (store.SharedFiles), declared here by their consumer.
type Files interface {
	ReadFile(ctx context.Context, name string) ([]byte, error)
	WriteFile(ctx context.Context, name string, data []byte) error
}

// filePrefix is where the shared files hold the policies:
// "mta-sts/<domain>". (A domain name so long that the name passes
// store.MaxSharedNameLen is cached in memory only.)
const filePrefix = "mta-sts/"

// Client finds and caches MTA-STS policies. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	mu       sync.Mutex
	mem      map[string]*entry
	fetching map[string]*fetchCall // fetches in progress, by domain and id
}

// fetchCall is one fetch that concurrent deliveries to a domain share, so
// that a burst of mail makes one request to the policy host, not one each.
type fetchCall struct {
	done chan struct{}
	e    *entry
	err  error
}

// entry is a cached policy, as kept on disk.
type entry struct {
	ID      string    `json:"id"`
	Body    string    `json:"policy"`
	Fetched time.Time `json:"fetched"`
	policy  *Policy
}

func (e *entry) expires() time.Time { return e.Fetched.Add(e.policy.MaxAge) }

// New returns a Client.
func New(cfg Config) *Client {
	if cfg.Port == 0 {
		cfg.Port = 443
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, log: cfg.Logger, mem: map[string]*entry{}, fetching: map[string]*fetchCall{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		DialContext:         c.dial,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: cfg.Timeout,
		DisableKeepAlives:   true,
		// Never through a proxy: the certificate must be the host's.
		Proxy: nil,
	}
	c.http = &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// RFC 8461 section 3.3: redirects MUST NOT be followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// dial connects to the policy host through our resolver, which knows the
// same DNS the MX lookups see, at the configured port.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := c.cfg.Resolver.LookupIP(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var last error = fmt.Errorf("%s has no addresses", host)
	for _, ip := range ips {
		nc, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(c.cfg.Port)).String())
		if err == nil {
			return nc, nil
		}
		last = err
	}
	return nil, last
}

// Result is the policy in force for a domain.
type Result struct {
	// Policy is nil when the domain has none (or withdrew it with mode
	// none and the caller should act as if it had none).
	Policy *Policy
	// Err is why a policy the domain announces could not be had, and no
	// cached one stood in: a TLS-RPT sts-policy-fetch-error,
	// sts-policy-invalid or sts-webpki-invalid (see ErrorType).
	Err error
	// Cached is set when the policy came from the cache without a fetch.
	Cached bool
	// FetchFailed is set when the cached policy stands in for one whose
	// fetch just failed: trying again at once would only fail again.
	FetchFailed bool
}

// Error types for TLS-RPT (RFC 8460 section 4.3.2.3).
var (
	ErrFetch   = errors.New("sts-policy-fetch-error")
	ErrInvalid = errors.New("sts-policy-invalid")
	ErrWebPKI  = errors.New("sts-webpki-invalid")
)

// ErrorType returns the TLS-RPT result type of a Result.Err.
func ErrorType(err error) string {
	for _, e := range []error{ErrWebPKI, ErrInvalid, ErrFetch} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return ErrFetch.Error()
}

// Lookup returns the policy of domain (an A-label) following RFC 8461
// section 5.1: the cached policy while the TXT record's id is unchanged,
// a fresh fetch when it changed, and the cached policy, until it expires,
// when the record or the fetch cannot be had.
func (c *Client) Lookup(ctx context.Context, domain string) Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !validHost(domain) {
		return Result{}
	}
	now := c.cfg.Now()
	cached := c.cached(ctx, domain, now)
	txts, err := c.cfg.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	id, ok := ParseRecord(txts)
	if err != nil || !ok {
		// No record, or no answer: a cached policy stays in force
		// until it expires, so an attacker who hides the record
		// gains nothing (RFC 8461 section 10.2).
		if cached != nil {
			return use(cached, true)
		}
		return Result{}
	}
	if cached != nil && cached.ID == id {
		return use(cached, true)
	}
	// Another node may have fetched the policy of the new id already.
	if e := c.load(ctx, domain); e != nil && e.ID == id && now.Before(e.expires()) {
		c.mu.Lock()
		c.mem[domain] = e
		c.mu.Unlock()
		return use(e, true)
	}
	e, err := c.fetch(ctx, domain, id, now, false)
	if err != nil {
		c.log.Info("MTA-STS policy fetch failed", "domain", domain, "id", id, "err", err, "cached", cached != nil)
		if cached != nil {
			r := use(cached, true)
			r.FetchFailed = true
			return r
		}
		return Result{Err: err}
	}
	c.store(ctx, domain, e)
	return use(e, false)
}

// Refresh fetches domain's policy again, bypassing the cache: RFC 8461
// section 5.1 asks a sender whose mail the cached policy would hold back
// to make sure the policy is current first.
func (c *Client) Refresh(ctx context.Context, domain string) Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !validHost(domain) {
		return Result{}
	}
	txts, err := c.cfg.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	id, ok := ParseRecord(txts)
	if err != nil || !ok {
		return c.Lookup(ctx, domain)
	}
	e, err := c.fetch(ctx, domain, id, c.cfg.Now(), true)
	if err != nil {
		return c.Lookup(ctx, domain)
	}
	c.store(ctx, domain, e)
	return use(e, false)
}

func use(e *entry, cached bool) Result {
	if e.policy.Mode == None {
		return Result{Cached: cached}
	}
	return Result{Policy: e.policy, Cached: cached}
}

// fetch gets the policy, joining a fetch of the same domain and id that
// is already running. Unless refresh is set, a policy with that id that
// another lookup fetched meanwhile (after this one read the cache) is
// taken as it is.
func (c *Client) fetch(ctx context.Context, domain, id string, now time.Time, refresh bool) (*entry, error) {
	key := domain + " " + id
	c.mu.Lock()
	call, running := c.fetching[key]
	if e := c.mem[domain]; !running && !refresh && e != nil && e.ID == id && now.Before(e.expires()) {
		c.mu.Unlock()
		return e, nil
	}
	if !running {
		call = &fetchCall{done: make(chan struct{})}
		c.fetching[key] = call
	}
	c.mu.Unlock()
	if running {
		select {
		case <-call.done:
			return call.e, call.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrFetch, ctx.Err())
		}
	}
	call.e, call.err = c.get(ctx, domain, id, now)
	c.mu.Lock()
	if call.err == nil {
		c.mem[domain] = call.e // before the call ends: see above
	}
	delete(c.fetching, key)
	c.mu.Unlock()
	close(call.done)
	return call.e, call.err
}

// get fetches the policy over HTTPS (RFC 8461 section 3.3).
func (c *Client) get(ctx context.Context, domain, id string, now time.Time) (*entry, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uae x509.UnknownAuthorityError
		var he x509.HostnameError
		var cie x509.CertificateInvalidError
		var cve *tls.CertificateVerificationError
		if errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) || errors.As(err, &cve) {
			return nil, fmt.Errorf("%w: fetching %s: %v", ErrWebPKI, url, err)
		}
		return nil, fmt.Errorf("%w: fetching %s: %v", ErrFetch, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: fetching %s: HTTP status %s", ErrFetch, url, resp.Status)
	}
	// RFC 8461 section 3.2: the media type must be text/plain, lest a
	// user-uploaded file elsewhere on the host pass for a policy.
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("%w: %s has content type %q, want text/plain", ErrInvalid, url, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrFetch, url, err)
	}
	p, err := Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, url, err)
	}
	return &entry{ID: id, Body: string(body), Fetched: now, policy: p}, nil
}

// cached returns domain's unexpired cached policy, from memory or, when
// memory has none that is current, from the store, where another node (or
// this one before a restart) may have put one.
func (c *Client) cached(ctx context.Context, domain string, now time.Time) *entry {
	c.mu.Lock()
	e := c.mem[domain]
	c.mu.Unlock()
	if e == nil || !now.Before(e.expires()) {
		if s := c.load(ctx, domain); s != nil {
			e = s
			c.mu.Lock()
			c.mem[domain] = e
			c.mu.Unlock()
		}
	}
	if e == nil || !now.Before(e.expires()) {
		return nil
	}
	return e
}

// load reads domain's policy from the store, nil if there is none (or
// none usable).
func (c *Client) load(ctx context.Context, domain string) *entry {
	if c.cfg.Files == nil {
		return nil
	}
	data, err := c.cfg.Files.ReadFile(ctx, filePrefix+domain)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Warn("reading cached MTA-STS policy", "domain", domain, "err", err)
		}
		return nil
	}
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		c.log.Warn("cached MTA-STS policy unreadable", "domain", domain, "err", err)
		return nil
	}
	p, err := Parse([]byte(e.Body))
	if err != nil {
		c.log.Warn("cached MTA-STS policy invalid", "domain", domain, "err", err)
		return nil
	}
	e.policy = p
	return &e
}

// store keeps e in memory and in the store.
func (c *Client) store(ctx context.Context, domain string, e *entry) {
	c.mu.Lock()
	c.mem[domain] = e
	c.mu.Unlock()
	if c.cfg.Files == nil {
		return
	}
	data, err := json.Marshal(e)
	if err == nil {
		err = c.cfg.Files.WriteFile(ctx, filePrefix+domain, data)
	}
	if err != nil {
		c.log.Warn("caching MTA-STS policy", "domain", domain, "err", err)
	}
}
