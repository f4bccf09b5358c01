// Package managesieve serves ManageSieve (RFC 5804) on port 4190: mail
// clients (Thunderbird's Sieve add-on, Roundcube, sieve-connect) list,
// upload, check, activate, download, rename and delete the account's Sieve
// filters.
//
// go-managesieve's managesieveserver owns the wire protocol (commands,
// quoted strings and literals, SASL PLAIN framing, STARTTLS, the state
// machine and its bounds); this package is its Session: logins through the
// same authenticator and throttle as IMAP and POP3, scripts checked with
// internal/sieve and kept by the store (store.SieveScripts).
package managesieve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	msrv "github.com/migadu/go-managesieve/managesieveserver"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/connlimit"
	"mailroom/internal/listener"
	"mailroom/internal/panics"
	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// Scripts is what sessions need of the store's Sieve scripts
// (store.SieveScripts without delivery's parts).
type Scripts interface {
	SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error)
	SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error)
	PutSieveScript(ctx context.Context, accountID int64, name, content string) error
	RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error
	DeleteSieveScript(ctx context.Context, accountID int64, name string) error
	SetActiveSieveScript(ctx context.Context, accountID int64, name string) error
}

// Accounts gives the account settings a login checks (imap.enabled).
type Accounts interface {
	Settings(ctx context.Context, accountID int64) (store.Settings, error)
}

// Bounds on what a client can make a session hold or wait for. The script
// itself is bounded by store.MaxSieveScriptSize (MAXSCRIPTSIZE), which the
// library checks against a literal's announced size before it reads a byte
// of it; a script arrives only after login.
const (
	// maxLine bounds a command line, and a script name or other argument
	// sent as a literal (the library reads those into memory like a
	// line). The longest legitimate line is AUTHENTICATE with a PLAIN
	// initial response (two names and a password, base64) or RENAMESCRIPT
	// with two names of store.MaxSieveScriptName octets quoted: far below.
	// It is also what one connection can make us buffer before login.
	maxLine = 8 << 10
	// maxAuthLiteral bounds an AUTHENTICATE response sent as a literal,
	// for the same reason as maxLine.
	maxAuthLiteral = 8 << 10
	// maxErrors: after this many protocol errors (unknown commands, bad
	// syntax, failed logins) the connection is closed. Guessing passwords
	// is slowed by the shared login throttle, not by this; it only stops
	// one connection from being used to fuzz for ever.
	maxErrors = 10
	// authIdleTimeout bounds the wait for a command, a TLS handshake or a
	// SASL response before login: clients log in at once.
	authIdleTimeout = time.Minute
	// commandTimeout bounds the store work of one command.
	commandTimeout = time.Minute
)

// Options configure a Server.
type Options struct {
	Config        config.ManageSieve
	AllowInsecure bool        // allow AUTHENTICATE without TLS (loopback tests only)
	TLS           *tls.Config // for STARTTLS; nil disables it
	Scripts       Scripts
	Accounts      Accounts
	Auth          *auth.Authenticator
	Logger        *slog.Logger
	Panics        *panics.Counter     // sessions ended by a panic (nil: logged, not counted)
	Hooks         *listener.TestHooks // for tests (nil in production)
	// Metrics counts sessions and times commands (nil: not counted).
	Metrics listener.ProtocolMetrics
}

// Factory returns the listener.Factory for ManageSieve.
func Factory() listener.Factory {
	return func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
		if implicitTLS {
			return nil, errors.New("ManageSieve has no implicit-TLS port (RFC 5804: STARTTLS on 4190)")
		}
		return New(Options{
			Config:        d.Config.ManageSieve,
			AllowInsecure: d.Config.Auth.AllowInsecure,
			TLS:           d.TLSConfig(),
			Scripts:       d.Store,
			Accounts:      d.Store,
			Auth:          d.Auth,
			Logger:        d.Logger,
			Panics:        d.Panics,
			Hooks:         d.Hooks,
			Metrics:       d.ProtocolMetrics("managesieve", CommandNames()),
		}), nil
	}
}

// Server is one ManageSieve listener. It implements listener.Protocol and
// listener.ConnLimiter.
type Server struct {
	opts     Options
	log      *slog.Logger
	lib      *msrv.Server
	sessions *listener.Sessions
}

// New returns a ManageSieve server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = listener.NopMetrics{}
	}
	log := opts.Logger.With("proto", "managesieve")
	s := &Server{opts: opts, log: log, sessions: listener.NewSessions("managesieve", log, opts.Panics)}
	s.sessions.Metrics = opts.Metrics
	s.lib = msrv.New(msrv.Options{
		NewSession:      s.newSession,
		TLSConfig:       opts.TLS,
		InsecureAuth:    opts.AllowInsecure,
		Implementation:  "Mailroom",
		Greeting:        `"Mailroom ManageSieve server ready"`,
		SieveExtensions: sieve.Extensions(),
		MaxScriptSize:   store.MaxSieveScriptSize,
		MaxLineLength:   maxLine,
		MaxAuthLiteral:  maxAuthLiteral,
		MaxErrors:       maxErrors,
		IdleTimeout:     opts.Config.IdleTimeout.Std(),
		AuthIdleTimeout: min(authIdleTimeout, opts.Config.IdleTimeout.Std()),
		// Our sessions answer with *msrv.Error only; should a plain error
		// slip through, its text (a store's, say) must not reach the client.
		StrictSessionErrors: true,
		OnPanic: func(v any, stack []byte) {
			opts.Panics.ReportStack(log, "managesieve session", v, stack)
		},
		Logger: slog.New(libLog{log.Handler()}),
	})
	return s
}

// Serve implements listener.Protocol. The library serves each connection;
// listener.Sessions accepts and tracks them as for POP3 and IMAP, so that
// Shutdown can close the ones that do not end in time.
func (s *Server) Serve(ln net.Listener) error {
	return s.sessions.Serve(ln, func(c net.Conn, _ *listener.Session) {
		s.lib.ServeConn(&gracefulConn{Conn: c})
	})
}

// Shutdown implements listener.Protocol. The library's Close ends the
// sessions waiting for a command at once with BYE (TRYLATER); a command in
// progress finishes first (its store work does not take the library's
// cancellation, see session.work), then its session ends the same way. At
// ctx's end the rest are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.lib.Close()
	return s.sessions.Shutdown(ctx)
}

// ConnLimits implements listener.ConnLimiter.
func (s *Server) ConnLimits() connlimit.Limits {
	return connlimit.Limits{Total: s.opts.Config.MaxConnections, PerIP: s.opts.Config.MaxConnectionsPerIP}
}

// RejectConn implements listener.ConnLimiter: BYE is how RFC 5804 (1.3)
// ends a connection, TRYLATER that the client may come back.
func (s *Server) RejectConn(c net.Conn, reason string) {
	fmt.Fprintf(c, "BYE (TRYLATER) \"too many connections (%s), try again later\"\r\n", reason)
	s.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
}

// gracefulConn closes with listener.CloseGracefully: the library closes
// the connection right after its last answer (NO to an overlong line, BYE),
// and a plain close with the client's input unread resets the connection,
// whose client may then lose that answer.
type gracefulConn struct {
	net.Conn
	once sync.Once
	err  error
}

func (g *gracefulConn) Close() error {
	g.once.Do(func() { g.err = listener.CloseGracefully(g.Conn) })
	return g.err
}

// libLog is the library's logger, made to agree with ours: a panic is
// reported (with its stack, and counted) by Options.OnPanic, and a failed
// TLS handshake is a client's business, logged at DEBUG as POP3 and IMAP
// do.
type libLog struct{ slog.Handler }

func (h libLog) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "ManageSieve: panic in connection handler":
		return nil
	case "ManageSieve: TLS handshake failed":
		r.Level = slog.LevelDebug
		if !h.Handler.Enabled(ctx, r.Level) {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h libLog) WithAttrs(attrs []slog.Attr) slog.Handler { return libLog{h.Handler.WithAttrs(attrs)} }
func (h libLog) WithGroup(name string) slog.Handler       { return libLog{h.Handler.WithGroup(name)} }
