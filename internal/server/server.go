// Package server wires Mailroom together: it opens the store, TLS and the
// authenticator, starts a listener for every configured protocol, and shuts
// everything down gracefully. It is the top of the program: the protocols
// get what they need through internal/listener, below them, and never
// import this package.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/connlimit"
	"mailroom/internal/delivery"
	"mailroom/internal/junkfilter"
	"mailroom/internal/listener"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailfetch"
	"mailroom/internal/metrics"
	"mailroom/internal/panics"
	"mailroom/internal/queue"
	"mailroom/internal/sieve"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/store/storeopen"
	"mailroom/internal/tlsconf"
)

// Listener describes one configured listener.
type Listener struct {
	Key         string // the config key under [listen], e.g. "imaps"
	Addr        string
	Protocol    string // "smtp", "submission", "imap", "pop3", "managesieve", "http"
	ImplicitTLS bool
}

// Listeners returns the listeners the configuration enables.
func Listeners(c config.Config) []Listener {
	l := c.Listen
	all := []Listener{
		{"smtp", l.SMTP, "smtp", false},
		{"submission", l.Submission, "submission", false},
		{"submissions", l.Submissions, "submission", true},
		{"imap", l.IMAP, "imap", false},
		{"imaps", l.IMAPS, "imap", true},
		{"pop3", l.POP3, "pop3", false},
		{"pop3s", l.POP3S, "pop3", true},
		{"managesieve", l.ManageSieve, "managesieve", false},
		{"http", l.HTTP, "http", false},
		{"https", l.HTTPS, "http", true},
		{"debug", l.Debug, "debug", false},
		{"metrics", l.Metrics, "metrics", false},
	}
	var out []Listener
	for _, x := range all {
		if x.Addr != "" {
			out = append(out, x)
		}
	}
	return out
}

// Server is a running Mailroom.
type Server struct {
	deps      listener.Deps
	factories map[string]listener.Factory
	lock      *os.File

	mu        sync.Mutex
	running   []running
	listening []Listener

	stopQueue context.CancelFunc // nil until Start
	queueDone chan error

	reports []*background // the daily TLS-RPT and DMARC reporters (reports.go)

	// metrics is the server's registry; nil without listen.metrics.
	metrics *metrics.Metrics
	// started and draining are what /readyz reports besides the store.
	started, draining atomic.Bool
}

type running struct {
	l     Listener
	ln    net.Listener
	proto listener.Protocol
	done  chan error
}

// Option adjusts what New builds.
type Option func(*sqlitestore.Options)

// StoreOptions lets fn change the SQLite store's options before it is
// opened: tests make the disk fill up or fail this way (WrapBlobFile). With
// the postgres backend, New refuses them.
func StoreOptions(fn func(*sqlitestore.Options)) Option { return fn }

// New opens the store and everything the protocols share. factories maps a
// protocol name ("smtp", "imap" …) to its implementation; listeners of
// protocols without one are not started.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, factories map[string]listener.Factory, opts ...Option) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	stOpts := storeopen.Options{Logger: logger.With("component", "store"), Maintenance: true}
	// One registry per server, made only when something serves it: a
	// server without listen.metrics pays nothing for instruments.
	var mx *metrics.Metrics
	if cfg.Listen.Metrics != "" {
		mx = metrics.New()
		stOpts.Observer = mx
	}
	for _, o := range opts {
		stOpts.SQLite = append(stOpts.SQLite, o)
	}
	st, err := storeopen.Open(ctx, cfg, stOpts)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if err := importDataDir(ctx, cfg, st, logger); err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	var tm *tlsconf.Manager
	if cfg.TLSEnabled() {
		// Certificates live in the store's shared files, the same on
		// every node; DataDir is where older versions kept them (imported).
		tm, err = tlsconf.New(ctx, tlsconf.Config{
			CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, SelfSigned: cfg.TLS.SelfSigned,
			ACMEEmail: cfg.TLS.ACMEEmail, Hostname: cfg.Hostname, DataDir: cfg.DataDir, Files: st,
			ExtraNames: mtaSTSHosts(cfg, st),
		}, logger.With("component", "tls"))
		if err != nil {
			st.Close()
			lock.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	var thCfg auth.ThrottleConfig
	if cfg.Store.Backend == config.BackendPostgres {
		thCfg.Shared = st // several nodes: count failures on all of them together
	}
	th := auth.NewThrottle(thCfg, nil)
	cacheTTL := cfg.Auth.CacheTTL.Std()
	if cacheTTL == 0 {
		cacheTTL = -1 // "0s" in the config turns the cache off
	}
	authn := auth.NewAuthenticator(st, th, cacheTTL, logger.With("component", "auth"))
	authn.SetDefaultDomain(cfg.Auth.DefaultDomain)
	if mx != nil {
		authn.SetLoginObserver(mx)
	}
	// One count of panics for the whole server: sessions of every
	// protocol, queue workers and the mailbox index report to it.
	pc := new(panics.Counter)
	q, err := queue.FromConfig(cfg, st, logger, pc)
	if err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	boxes := mailbox.NewService(st, logger.With("component", "mailbox"), pc)
	var jf *junkfilter.Filter
	var scorer delivery.JunkFilter // stays a nil interface when the filter is off
	if cfg.Junk.Enabled {
		jf = junkfilter.New(st, junkfilter.Config{Threshold: cfg.Junk.Threshold, MaxTokens: cfg.Junk.MaxTokens,
			Logger: logger.With("component", "junk")})
		boxes.SetJunkTrainer(jf)
		scorer = jf
	}
	sieveLimits := sieve.Limits{MaxSteps: cfg.Sieve.MaxSteps, MaxTime: cfg.Sieve.MaxTime.Std(), MaxRedirects: cfg.Sieve.MaxRedirects}
	before, err := delivery.CompileBefore(cfg.Sieve.Before, cfg.Sieve.GlobalDir, sieveLimits)
	if err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	var junked delivery.JunkCounter // stays a nil interface without metrics
	if mx != nil {
		junked = mx
	}
	agent := delivery.New(st, delivery.Config{
		Junked:         junked,
		SieveBefore:    before,
		SieveGlobalDir: cfg.Sieve.GlobalDir,
		SieveLimits:    sieveLimits,
		Junk:           scorer,
		Mailboxes:      boxes,
		PlusSeparator:  cfg.SMTP.PlusSeparator,
		Postmaster:     cfg.SMTP.Postmaster,
		Outbound:       q,
		// smtp.over_quota: validated to be "temporary" or "permanent".
		OverQuotaPermanent: cfg.SMTP.OverQuota == "permanent",
		Hostname:           cfg.Hostname,
		Logger:             logger.With("component", "delivery"),
	})
	boxes.SetQuotaWarner(agent)
	q.SetReturner(agent)
	var fetcher *mailfetch.Fetcher
	if cfg.Fetch.Enabled {
		if fetcher, err = newFetcher(cfg, st, agent, boxes, logger); err != nil {
			st.Close()
			lock.Close()
			return nil, err
		}
	}
	s := &Server{
		deps: listener.Deps{Config: cfg, Logger: logger, Store: st, Auth: authn, TLS: tm, Delivery: agent, Queue: q,
			Mailboxes: boxes, Panics: pc, Junk: jf, Fetch: fetcher},
		factories: factories,
		lock:      lock,
		metrics:   mx,
	}
	if mx != nil {
		s.instrument(mx)
	}
	return s, nil
}

// lockDataDir makes sure only one serve runs on a data directory: two
// would both run crash recovery and maintenance. Admin commands do not take
// this lock; they share the database safely.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "serve.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data_dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another mailroom serve is already running on %s", dir)
	}
	return f, nil
}

// Deps returns the shared dependencies (for tests and the dev command).
func (s *Server) Deps() listener.Deps { return s.deps }

// SetTestHooks installs hooks that tests use to act inside the protocols
// (make a session panic). Call it before Start; production never does.
func (s *Server) SetTestHooks(h *listener.TestHooks) { s.deps.Hooks = h }

// Start opens every configured listener whose protocol exists. A listener
// that cannot bind is an error: better to fail at start than to run half.
func (s *Server) Start() error {
	log := s.deps.Logger
	qctx, stop := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stopQueue, s.queueDone = stop, make(chan error, 1)
	s.mu.Unlock()
	go func() { s.queueDone <- s.deps.Queue.Run(qctx) }()
	s.startReports()
	for _, l := range Listeners(s.deps.Config) {
		factory := s.factories[l.Protocol]
		if l.Protocol == "metrics" && s.metrics != nil {
			factory = s.metricsFactory
		}
		if factory == nil {
			log.Debug("listener not started: protocol not implemented yet", "listener", l.Key, "addr", l.Addr)
			continue
		}
		if l.ImplicitTLS && s.deps.TLS == nil {
			return fmt.Errorf("listen.%s needs TLS, and none is configured", l.Key)
		}
		proto, err := factory(s.deps, l.ImplicitTLS)
		if err != nil {
			return fmt.Errorf("listen.%s: %w", l.Key, err)
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fmt.Errorf("listen.%s: %w", l.Key, err)
		}
		// Limits apply below TLS, so a refused client costs no handshake.
		if cl, ok := proto.(listener.ConnLimiter); ok {
			reject := cl.RejectConn
			if l.ImplicitTLS {
				reject = func(net.Conn, string) {} // it expects a handshake, not text
			}
			ln = connlimit.NewListener(ln, cl.ConnLimits(), reject)
		}
		if l.ImplicitTLS {
			ln = tls.NewListener(ln, s.deps.TLS.TLSConfig())
		}
		r := running{l: l, ln: ln, proto: proto, done: make(chan error, 1)}
		go func() { r.done <- proto.Serve(ln) }()
		s.mu.Lock()
		s.running = append(s.running, r)
		s.listening = append(s.listening, Listener{Key: l.Key, Addr: ln.Addr().String(), Protocol: l.Protocol, ImplicitTLS: l.ImplicitTLS})
		s.mu.Unlock()
		log.Info("listening", "listener", l.Key, "addr", ln.Addr().String(), "tls", l.ImplicitTLS)
	}
	s.started.Store(true)
	return nil
}

// Listening returns the listeners actually started, with their bound addresses.
func (s *Server) Listening() []Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Listener(nil), s.listening...)
}

// Shutdown stops accepting, gives sessions until ctx ends to finish, then
// closes the store cleanly.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	rs := s.running
	s.running = nil
	s.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	stopListener := func(r running) {
		r.ln.Close()
		if err := r.proto.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			emu.Lock()
			errs = append(errs, fmt.Errorf("listen.%s: %w", r.l.Key, err))
			emu.Unlock()
		}
	}
	// The metrics listener stops last: while sessions drain, /readyz
	// answers 503 "draining" rather than refusing connections, and the
	// last scrape sees the drain.
	var last []running
	for _, r := range rs {
		if r.l.Protocol == "metrics" {
			last = append(last, r)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stopListener(r)
		}()
	}
	wg.Wait()
	for _, r := range last {
		stopListener(r)
	}
	s.mu.Lock()
	stop, done := s.stopQueue, s.queueDone
	s.stopQueue = nil
	s.mu.Unlock()
	if stop != nil {
		// Deliveries in progress may finish within the shutdown time.
		stop()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("queue: %w", err))
			}
		case <-ctx.Done():
			s.deps.Queue.Abort()
			<-done
		}
	}
	if s.deps.Junk != nil {
		s.deps.Junk.Shutdown(ctx) // trains what users did before the store closes
	}
	if err := s.stopReports(); err != nil {
		errs = append(errs, fmt.Errorf("reports: %w", err))
	}
	s.deps.Mailboxes.Close()
	if err := s.deps.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	s.lock.Close()
	return errors.Join(errs...)
}

// Run starts the server and runs it until ctx ends (SIGINT/SIGTERM), then
// shuts down within the configured shutdown_timeout.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger, factories map[string]listener.Factory, ready func(*Server)) error {
	s, err := New(ctx, cfg, logger, factories)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	logger.Info("mailroom started", "hostname", cfg.Hostname, "data_dir", cfg.DataDir, "listeners", len(s.Listening()))
	if ready != nil {
		ready(s)
	}
	<-ctx.Done()
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.Std().String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Std())
	defer cancel()
	err = s.Shutdown(sctx)
	logger.Info("mailroom stopped")
	return err
}

// mtaSTSHosts allows ACME certificates for mta-sts.<domain> of every hosted
// domain, where senders fetch the MTA-STS policy the web listener serves
// (RFC 8461 section 3.3: HTTPS with a certificate valid for that name);
// nil without an HTTPS listener, which is where the policy is served.
func mtaSTSHosts(cfg config.Config, st store.Store) func(context.Context, string) bool {
	if cfg.Listen.HTTPS == "" {
		return nil
	}
	return func(ctx context.Context, name string) bool {
		domain, ok := strings.CutPrefix(name, "mta-sts.")
		if !ok || domain == "" {
			return false
		}
		_, err := st.Domain(ctx, domain)
		return err == nil
	}
}
