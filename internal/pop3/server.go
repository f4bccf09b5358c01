// Package pop3 serves POP3 (RFC 1939) with CAPA and response codes (RFC
// 2449, 3206), STLS (RFC 2595) and SASL AUTH (RFC 5034), on 110 with STLS
// and 995 with implicit TLS.
//
// The maildrop is the account's INBOX, snapshotted at login: message
// numbers and sizes stay fixed for the session. Nothing changes on the
// server until QUIT; then the account's pop3.delete_mode decides what DELE
// means (expunge, move to Trash, or keep on the server but never list to
// POP3 again), and pop3.mark_seen marks retrieved messages read. The store's
// change feed shows those changes to IMAP and the web at once.
package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/connlimit"
	"mailroom/internal/listener"
	"mailroom/internal/mailbox"
	"mailroom/internal/panics"
	"mailroom/internal/store"
)

// Options configure a Server.
type Options struct {
	Hostname      string
	Config        config.POP3
	AllowInsecure bool        // allow USER/PASS and AUTH without TLS (loopback tests only)
	APOP          bool        // offer APOP (config pop3.apop)
	TLS           *tls.Config // for STLS; nil disables it
	ImplicitTLS   bool        // the listener already speaks TLS (995)
	Store         store.Store
	// Mailboxes is the mailbox service every change at QUIT goes through,
	// so IMAP and web sessions see it at once; New makes one if nil.
	Mailboxes *mailbox.Service
	Auth      *auth.Authenticator
	// LockTTL is how long a maildrop lock lasts unless renewed: how long
	// an account stays locked after its node died (0: DefaultLockTTL).
	LockTTL time.Duration
	Logger  *slog.Logger
	Panics  *panics.Counter     // sessions ended by a panic (nil: logged, not counted)
	Hooks   *listener.TestHooks // for tests (nil in production)
	// Metrics counts sessions and times commands (nil: not counted).
	Metrics listener.ProtocolMetrics
}

// Factory returns the listener.Factory for POP3. The maildrop locks are
// leases in the store, which every listener of every node shares. tweaks,
// if any, change the Options of every server it builds (tests shorten
// LockTTL).
func Factory(tweaks ...func(*Options)) listener.Factory {
	return func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
		opts := Options{
			Hostname:      d.Config.Hostname,
			Config:        d.Config.POP3,
			AllowInsecure: d.Config.Auth.AllowInsecure,
			APOP:          d.Config.POP3.APOP,
			TLS:           d.TLSConfig(),
			ImplicitTLS:   implicitTLS,
			Store:         d.Store,
			Mailboxes:     d.Mailboxes,
			Auth:          d.Auth,
			Logger:        d.Logger,
			Panics:        d.Panics,
			Hooks:         d.Hooks,
			Metrics:       d.ProtocolMetrics("pop3", CommandNames()),
		}
		for _, tw := range tweaks {
			tw(&opts)
		}
		return New(opts), nil
	}
}

// Server is one POP3 listener. It implements listener.Protocol.
type Server struct {
	opts Options
	log  *slog.Logger

	sessions *listener.Sessions
}

// New returns a POP3 server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.Mailboxes == nil {
		opts.Mailboxes = mailbox.NewService(opts.Store, opts.Logger, opts.Panics)
	}
	log := opts.Logger.With("proto", "pop3")
	if opts.Metrics == nil {
		opts.Metrics = listener.NopMetrics{}
	}
	sessions := listener.NewSessions("pop3", log, opts.Panics)
	sessions.Metrics = opts.Metrics
	return &Server{opts: opts, log: log, sessions: sessions}
}

// Serve implements listener.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	return s.sessions.Serve(ln, func(c net.Conn, t *listener.Session) {
		sess := &session{srv: s, conn: c, track: t, r: bufio.NewReaderSize(c, 4096), w: bufio.NewWriterSize(c, 64<<10)}
		sess.serve()
	})
}

// Shutdown implements listener.Protocol. Sessions waiting for a command are
// ended at once (which commits nothing: the client's DELEs stay undone and
// it will simply download again); a command in progress, such as a RETR
// or the commit at QUIT, finishes first. At ctx's end the rest are closed.
func (s *Server) Shutdown(ctx context.Context) error { return s.sessions.Shutdown(ctx) }

// ConnLimits implements listener.ConnLimiter.
func (s *Server) ConnLimits() connlimit.Limits {
	return connlimit.Limits{Total: s.opts.Config.MaxConnections, PerIP: s.opts.Config.MaxConnectionsPerIP}
}

// RejectConn implements listener.ConnLimiter.
func (s *Server) RejectConn(c net.Conn, reason string) {
	fmt.Fprintf(c, "-ERR [SYS/TEMP] too many connections (%s), try again later\r\n", reason)
	s.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
}
