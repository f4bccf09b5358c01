// Package imap serves IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) on 143
// with STARTTLS and 993 with implicit TLS. The protocol grammar is in
// internal/imap/wire; the shared in-memory state of open mailboxes in
// internal/imap/index; this package holds the sessions and commands.
package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/connlimit"
	"mailroom/internal/delivery"
	"mailroom/internal/imap/index"
	"mailroom/internal/server"
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
	Registry      *index.Registry // shared by every IMAP listener
	Logger        *slog.Logger
	// IdleTimeout ends a session silent this long outside IDLE (RFC 9051
	// 5.4: at least 30 minutes).
	IdleTimeout time.Duration
	// AppendLimit is the largest message APPEND accepts (APPENDLIMIT).
	AppendLimit int64
	// MaxConnections / MaxConnectionsPerIP limit connections.
	MaxConnections, MaxConnectionsPerIP int
}

// Factory returns the server.Factory for IMAP. Call it once: the
// listeners it builds share one mailbox index registry.
func Factory() server.Factory {
	var once sync.Once
	var reg *index.Registry
	return func(d server.Deps, implicitTLS bool) (server.Protocol, error) {
		once.Do(func() { reg = index.NewRegistry(d.Store, d.Logger.With("component", "imap-index")) })
		_ = implicitTLS // server.Start wraps implicit-TLS listeners; sessions detect *tls.Conn
		return New(Options{
			Hostname:            d.Config.Hostname,
			AllowInsecure:       d.Config.Auth.AllowInsecure,
			TLS:                 d.TLSConfig(),
			Store:               d.Store,
			Auth:                d.Auth,
			Delivery:            d.Delivery,
			Registry:            reg,
			Logger:              d.Logger,
			IdleTimeout:         d.Config.IMAP.IdleTimeout.Std(),
			AppendLimit:         int64(d.Config.SMTP.MaxMessageSize),
			MaxConnections:      d.Config.IMAP.MaxConnections,
			MaxConnectionsPerIP: d.Config.IMAP.MaxConnectionsPerIP,
		}), nil
	}
}

// Server is one IMAP listener. It implements server.Protocol.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup
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
	if opts.Registry == nil {
		opts.Registry = index.NewRegistry(opts.Store, opts.Logger)
	}
	return &Server{opts: opts, log: opts.Logger.With("proto", "imap"), sessions: map[*session]struct{}{}}
}

// Serve implements server.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		sess := s.newSession(c)
		if sess == nil {
			c.Close()
			continue
		}
		go func() {
			defer s.wg.Done()
			sess.serve()
		}()
	}
}

func (s *Server) newSession(c net.Conn) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	sess := &session{srv: s, conn: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 16<<10)}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return sess
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Shutdown implements server.Protocol: idle sessions (waiting for a command
// or in IDLE) get "* BYE" at once; a command in progress completes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for sess := range s.sessions {
		sess.interruptIfIdle()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.conn.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// ConnLimits implements server.ConnLimiter.
func (s *Server) ConnLimits() connlimit.Limits {
	return connlimit.Limits{Total: s.opts.MaxConnections, PerIP: s.opts.MaxConnectionsPerIP}
}

// RejectConn implements server.ConnLimiter.
func (s *Server) RejectConn(c net.Conn, reason string) {
	fmt.Fprintf(c, "* BYE [UNAVAILABLE] too many connections (%s), try again later\r\n", reason)
}
