// Package imap serves IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) on 143
// with STARTTLS and 993 with implicit TLS. The protocol grammar is in
// internal/imap/wire; the shared in-memory state of open mailboxes in
// internal/mailbox; this package holds the sessions and commands.
package imap

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/connbuf"
	"mailroom/internal/connlimit"
	"mailroom/internal/delivery"
	"mailroom/internal/listener"
	"mailroom/internal/mailbox"
	"mailroom/internal/panics"
	"mailroom/internal/store"
)

// Options configure a Server.
type Options struct {
	Hostname      string
	AllowInsecure bool        // allow LOGIN/AUTHENTICATE without TLS (loopback tests only)
	TLS           *tls.Config // for STARTTLS; nil disables it
	Store         store.Store
	Auth          *auth.Authenticator
	Delivery      *delivery.Agent
	Mailboxes     *mailbox.Service // the mailbox service, shared by every protocol
	Logger        *slog.Logger
	// IdleTimeout ends a session silent this long outside IDLE (RFC 9051
	// 5.4: at least 30 minutes).
	IdleTimeout time.Duration
	// AppendLimit is the largest message APPEND accepts (APPENDLIMIT).
	AppendLimit int64
	// MaxConnections / MaxConnectionsPerIP limit connections.
	MaxConnections, MaxConnectionsPerIP int
	// Panics counts sessions ended by a panic (nil: logged, not counted).
	Panics *panics.Counter
	// Hooks are for tests (nil in production).
	Hooks *listener.TestHooks
	// Metrics counts sessions and times commands (nil: not counted).
	Metrics listener.ProtocolMetrics
}

// Factory returns the listener.Factory for IMAP. Call it once: the
// listeners it builds share one mailbox index registry.
func Factory() listener.Factory {
	var once sync.Once
	var reg *mailbox.Service
	return func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
		once.Do(func() {
			reg = d.Mailboxes
			if reg == nil {
				reg = mailbox.NewService(d.Store, d.Logger.With("component", "imap-index"), d.Panics)
			}
		})
		_ = implicitTLS // server.Start wraps implicit-TLS listeners; sessions detect *tls.Conn
		return New(Options{
			Hostname:            d.Config.Hostname,
			AllowInsecure:       d.Config.Auth.AllowInsecure,
			TLS:                 d.TLSConfig(),
			Store:               d.Store,
			Auth:                d.Auth,
			Delivery:            d.Delivery,
			Mailboxes:           reg,
			Logger:              d.Logger,
			IdleTimeout:         d.Config.IMAP.IdleTimeout.Std(),
			AppendLimit:         int64(d.Config.SMTP.MaxMessageSize),
			MaxConnections:      d.Config.IMAP.MaxConnections,
			MaxConnectionsPerIP: d.Config.IMAP.MaxConnectionsPerIP,
			Panics:              d.Panics,
			Hooks:               d.Hooks,
			Metrics:             d.ProtocolMetrics("imap", CommandNames()),
		}), nil
	}
}

// Server is one IMAP listener. It implements listener.Protocol.
type Server struct {
	opts Options
	log  *slog.Logger

	sessions *listener.Sessions
	// deflaters: *flate.Writer for COMPRESS=DEFLATE sessions, held only
	// while a response burst is written (compress.go).
	deflaters sync.Pool
}

// New returns an IMAP server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.AppendLimit == 0 {
		opts.AppendLimit = 50 << 20
	}
	if opts.Mailboxes == nil {
		opts.Mailboxes = mailbox.NewService(opts.Store, opts.Logger, opts.Panics)
	}
	if opts.Metrics == nil {
		opts.Metrics = listener.NopMetrics{}
	}
	log := opts.Logger.With("proto", "imap")
	sessions := listener.NewSessions("imap", log, opts.Panics)
	sessions.Metrics = opts.Metrics
	return &Server{opts: opts, log: log, sessions: sessions}
}

// Serve implements listener.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	return s.sessions.Serve(ln, func(c net.Conn, t *listener.Session) {
		sess := &session{srv: s, conn: c, track: t, br: connbuf.NewReader(c), bw: connbuf.NewWriter(c)}
		sess.serve()
	})
}

// Shutdown implements listener.Protocol: idle sessions (waiting for a command
// or in IDLE) get "* BYE" at once; a command in progress completes.
func (s *Server) Shutdown(ctx context.Context) error { return s.sessions.Shutdown(ctx) }

// ConnLimits implements listener.ConnLimiter.
func (s *Server) ConnLimits() connlimit.Limits {
	return connlimit.Limits{Total: s.opts.MaxConnections, PerIP: s.opts.MaxConnectionsPerIP}
}

// RejectConn implements listener.ConnLimiter.
func (s *Server) RejectConn(c net.Conn, reason string) {
	fmt.Fprintf(c, "* BYE [UNAVAILABLE] too many connections (%s), try again later\r\n", reason)
}

// containPanic, deferred directly by a goroutine that a session starts
// beside its own (IDLE updates), ends the session on a panic: the session's
// goroutine, reading, sees its connection closed and returns. A panic in
// the session's own goroutine is contained by listener.Sessions.
func (s *session) containPanic(what string) {
	if v := recover(); v != nil {
		s.srv.opts.Panics.Report(s.srv.log, what, v, s.logger()...)
		s.conn.Close()
	}
}
