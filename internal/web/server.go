// Package web serves the webmail, the account settings, the admin pages
// and automatic client setup over HTTP(S). Pages are rendered on the
// server (html/template, assets embedded); a small script adds live
// updates from the store's change feed and confirmations, and every page
// works without it.
//
// Mail is reached only through the store interface and the shared mailbox
// index, as IMAP and POP3 reach it, so a change made here is seen by every
// other client at once and the other way round.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/autoconfig"
	"mailroom/internal/config"
	"mailroom/internal/delivery"
	"mailroom/internal/htmlmail"
	"mailroom/internal/imapmigrate"
	"mailroom/internal/jmap"
	"mailroom/internal/listener"
	"mailroom/internal/mailbox"
	"mailroom/internal/mtasts"
	"mailroom/internal/panics"
	"mailroom/internal/queue"
	"mailroom/internal/store"
	"mailroom/internal/tlsconf"
	"mailroom/internal/webapp"
)

// Options configure a Server.
type Options struct {
	Config   config.Config
	Store    store.Store
	Auth     *auth.Authenticator
	Delivery *delivery.Agent
	Queue    *queue.Queue
	// Mailboxes is the mailbox service IMAP and POP3 share: pages read
	// open mailboxes from it and make every change through it.
	Mailboxes *mailbox.Service
	TLS       *tlsconf.Manager // nil without TLS
	Logger    *slog.Logger
	// Secure says pages are served over HTTPS (cookies get Secure).
	Secure bool
	// Redirect makes this listener send browsers to HTTPS (plain HTTP
	// when an HTTPS listener exists), except for ACME and autoconfig.
	Redirect bool
	// Sessions is shared by the HTTP and HTTPS listeners (nil: sessions
	// in Store of their own).
	Sessions *Sessions
	// Migrations runs the imports from other accounts ("Import from
	// another account"); shared by the listeners like Sessions (nil: the
	// server's own).
	Migrations *imapmigrate.Jobs
	// Panics counts requests ended by a panic (nil: logged, not counted).
	Panics *panics.Counter
	// Hooks are for tests (nil in production).
	Hooks *listener.TestHooks
	// Fetch collects mail from the users' other accounts (nil: [fetch]
	// is off, and the page says so).
	Fetch Fetcher
	// Metrics counts connections and times requests by route pattern
	// (nil: not counted).
	Metrics listener.ProtocolMetrics
}

// sessionLifetime ends every web session this long after login.
const sessionLifetime = 12 * time.Hour

// Factory returns the listener.Factory for the http and https listeners.
// Call it once: the listeners share the login sessions' flash messages
// and live-update streams (the sessions themselves are in the store).
func Factory() listener.Factory {
	var mu sync.Mutex
	var sessions *Sessions
	var migrations *imapmigrate.Jobs
	return func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
		mu.Lock()
		if sessions == nil || sessions.store != d.Store {
			// A server started again in the same process (tests) has a
			// new store.
			sessions = NewSessions(d.Store, sessionLifetime, d.Logger)
		}
		if migrations == nil || migrations.Stopped() {
			migrations = imapmigrate.NewJobs()
		}
		mu.Unlock()
		var fetch Fetcher
		if d.Fetch != nil {
			fetch = d.Fetch // a nil *Fetcher must stay a nil interface
		}
		return New(Options{
			Fetch:      fetch,
			Config:     d.Config,
			Store:      d.Store,
			Auth:       d.Auth,
			Delivery:   d.Delivery,
			Queue:      d.Queue,
			Mailboxes:  d.Mailboxes,
			TLS:        d.TLS,
			Logger:     d.Logger,
			Secure:     implicitTLS,
			Redirect:   !implicitTLS && d.Config.Listen.HTTPS != "",
			Sessions:   sessions,
			Migrations: migrations,
			Panics:     d.Panics,
			Hooks:      d.Hooks,
			// nil commands: the route patterns name the requests.
			Metrics: d.ProtocolMetrics("web", nil),
		})
	}
}

// Server is one web listener. It implements listener.Protocol.
type Server struct {
	opts  Options
	log   *slog.Logger
	pages *pages
	setup *autoconfig.Handler
	html  *htmlmail.Sanitizer
	http  *http.Server
	// app is the webmail's browser application (internal/webapp).
	app *webapp.App
	// jmap serves JMAP on this listener (jmap.go); the app's shell
	// carries its session.
	jmap *jmap.Server

	// mtaSTS serves our MTA-STS policy to mta-sts.DOMAIN (RFC 8461).
	mtaSTS http.Handler
}

// New returns a web server.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Sessions == nil {
		opts.Sessions = NewSessions(opts.Store, sessionLifetime, opts.Logger)
	}
	if opts.Migrations == nil {
		opts.Migrations = imapmigrate.NewJobs()
	}
	if opts.Metrics == nil {
		opts.Metrics = listener.NopMetrics{}
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	app, err := webapp.New()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger.With("proto", "http"), pages: p, html: htmlmail.NewSanitizer(), app: app}
	s.setup = autoconfig.New(clientServer(opts.Config), func(ctx context.Context, domain string) (bool, error) {
		_, err := opts.Store.Domain(ctx, domain)
		// The store says ErrUnknownDomain for a domain it does not host:
		// that is "not found" to clients, not a server error.
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnknownDomain) || errors.Is(err, store.ErrInvalid) {
			return false, nil
		}
		return err == nil, err
	})
	s.mtaSTS = mtasts.Handler(mtasts.FromConfig(opts.Config), func(ctx context.Context, domain string) (bool, error) {
		_, err := opts.Store.Domain(ctx, domain)
		if errors.Is(err, store.ErrUnknownDomain) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return false, nil // not ours: "not found", never a server error
		}
		return err == nil, err
	})
	var h http.Handler = s.timed(s.routes())
	if opts.Redirect {
		h = s.redirectToHTTPS(h)
	}
	if opts.TLS != nil && !opts.Secure {
		h = opts.TLS.HTTPHandler(h) // ACME http-01 challenges on port 80
	}
	s.http = &http.Server{
		// errorPages inside RecoverHTTP: a panic before the response
		// began is a 500 page, one after it an aborted connection.
		Handler:           listener.RecoverHTTP("http", s.log, opts.Panics, securityHeaders(s.errorPages(listener.Hooked("http", opts.Hooks, h)))),
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState:         s.countConn,
	}
	return s, nil
}

// clientServer describes the configured listeners for client setup.
func clientServer(c config.Config) autoconfig.Server {
	// An ephemeral port (":0", tests) has no fixed number to tell
	// clients: the service's standard port stands in for it.
	port := func(addr string, standard int) int {
		_, p, err := net.SplitHostPort(addr)
		if n, _ := strconv.Atoi(p); err == nil && n > 0 {
			return n
		}
		return standard
	}
	// The ports the listeners are bound to: what clients must use (a
	// server behind port forwarding binds the public ports inside too).
	var srv autoconfig.Server
	srv.Hostname = c.Hostname
	if c.Listen.IMAPS != "" {
		srv.IMAP = append(srv.IMAP, autoconfig.Endpoint{Port: port(c.Listen.IMAPS, 993), Security: "tls"})
	}
	if c.Listen.IMAP != "" {
		srv.IMAP = append(srv.IMAP, autoconfig.Endpoint{Port: port(c.Listen.IMAP, 143), Security: "starttls"})
	}
	if c.Listen.POP3S != "" {
		srv.POP3 = append(srv.POP3, autoconfig.Endpoint{Port: port(c.Listen.POP3S, 995), Security: "tls"})
	}
	if c.Listen.POP3 != "" {
		srv.POP3 = append(srv.POP3, autoconfig.Endpoint{Port: port(c.Listen.POP3, 110), Security: "starttls"})
	}
	if c.Listen.Submissions != "" {
		srv.Submission = append(srv.Submission, autoconfig.Endpoint{Port: port(c.Listen.Submissions, 465), Security: "tls"})
	}
	if c.Listen.Submission != "" {
		srv.Submission = append(srv.Submission, autoconfig.Endpoint{Port: port(c.Listen.Submission, 587), Security: "starttls"})
	}
	return srv
}

// Serve implements listener.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown implements listener.Protocol: idle connections close at once,
// requests in progress finish (live-update streams end).
func (s *Server) Shutdown(ctx context.Context) error {
	s.opts.Sessions.closeStreams()
	err := s.http.Shutdown(ctx)
	// The imports stop with the server; a new run goes on where they
	// stopped.
	s.opts.Migrations.Close()
	if errors.Is(err, net.ErrClosed) {
		// http.Server closes the listeners Serve still tracks; the one
		// internal/server closed first may be among them, its Serve not
		// having returned yet. Closed twice is still closed.
		return nil
	}
	return err
}

// redirectToHTTPS sends browsers to the HTTPS listener, except for client
// autoconfiguration, which some clients fetch over plain HTTP only.
func (s *Server) redirectToHTTPS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAutoconfig(r) {
			next.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/\\@") {
			host = s.opts.Config.Hostname
		}
		target := "https://" + host
		if _, p, err := net.SplitHostPort(s.opts.Config.Listen.HTTPS); err == nil && p != "443" {
			target += ":" + p
		}
		// Only the path is kept: a redirect never leaves this host.
		http.Redirect(w, r, target+r.URL.EscapedPath(), http.StatusMovedPermanently)
	})
}

func isAutoconfig(r *http.Request) bool {
	p := strings.ToLower(r.URL.Path)
	return strings.HasPrefix(p, "/.well-known/autoconfig/") || p == "/mail/config-v1.1.xml" ||
		strings.HasPrefix(p, "/autodiscover/")
}

// securityHeaders sets what every response carries. Pages tighten the
// Content-Security-Policy further where they show mail.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Security-Policy", defaultCSP)
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// defaultCSP allows only this origin's own scripts and styles; mail content
// is shown in sandboxed frames whose srcdoc inherits it.
const defaultCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'self'"

// containPanic, deferred directly by a goroutine a request starts beside
// its own (the message writer of compose), contains a panic there: it is
// logged and counted, and undo lets the request fail instead of waiting
// for that goroutine forever. A panic in the request's own goroutine is
// contained by listener.RecoverHTTP.
func (s *Server) containPanic(what string, undo func()) {
	if v := recover(); v != nil {
		s.opts.Panics.Report(s.log, what, v)
		undo()
	}
}
