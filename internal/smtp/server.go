// Package smtp serves SMTP: the MX listener that receives mail for local
// domains (port 25) and submission for our users (587 with STARTTLS, 465
// with implicit TLS; RFC 6409, RFC 8314).
//
// The protocol engine is github.com/emersion/go-smtp; the session logic,
// limits, authentication, smuggling protection, trace headers and delivery
// are ours. Mail reaches mailboxes only through internal/delivery.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/connlimit"
	"mailroom/internal/delivery"
	"mailroom/internal/dmarcreport"
	"mailroom/internal/listener"
	"mailroom/internal/panics"
	"mailroom/internal/store"
)

// Mode says which listener a Server is.
type Mode int

// The listeners.
const (
	// Inbound is the MX: mail for local addresses from anyone, no AUTH.
	Inbound Mode = iota
	// Submission is for our users: AUTH required before MAIL.
	Submission
)

func (m Mode) String() string {
	if m == Submission {
		return "submission"
	}
	return "smtp"
}

// Options configure a Server.
type Options struct {
	Mode          Mode
	Hostname      string
	Config        config.SMTP
	AllowInsecure bool        // allow AUTH without TLS (loopback tests only)
	TLS           *tls.Config // STARTTLS, or nil
	ImplicitTLS   bool        // the listener already speaks TLS (465)
	Store         store.Store
	Auth          *auth.Authenticator
	Delivery      *delivery.Agent
	Logger        *slog.Logger
	Panics        *panics.Counter     // sessions ended by a panic (nil: logged, not counted)
	Hooks         *listener.TestHooks // for tests (nil in production)
	// Metrics counts sessions and times MAIL, RCPT and DATA; Deliveries
	// counts what is accepted and refused (nil: not counted).
	Metrics    listener.ProtocolMetrics
	Deliveries listener.DeliveryMetrics
	// Senders checks who sent inbound mail (SPF, DKIM, DMARC…); nil
	// skips the checks. Reporter, if set, counts DMARC evaluations and
	// sends the daily aggregate reports while the MX runs. Factory sets
	// both for the MX.
	Senders  SenderChecker
	Reporter *dmarcreport.Reporter
	// Mailboxes stores the copies submission keeps in a delegation
	// owner's Sent (delegate.go): the mailbox service, so that the
	// owner's sessions see it at once. nil: the store directly.
	Mailboxes Appender
}

// Appender puts a staged message into mailboxes; the mailbox service
// implements it.
type Appender interface {
	Append(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error)
}

// storeAppender appends with the store alone (a server without a
// mailbox service, in tests).
type storeAppender struct{ st store.Store }

func (a storeAppender) Append(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error) {
	return a.st.Deliver(ctx, msg, targets)
}

// Server is one SMTP listener. It implements listener.Protocol.
type Server struct {
	opts    Options
	log     *slog.Logger
	gs      *gosmtp.Server
	senders SenderChecker // nil on submission
	// mailboxes is Options.Mailboxes, or the store.
	mailboxes Appender

	mu         sync.Mutex
	conns      map[*trackedConn]struct{}
	forceClose atomic.Bool // Shutdown's time is up: close without draining

	stopReports context.CancelFunc // ends the reporter's loop
	reportsDone chan struct{}
	shutDown    bool // Shutdown was called: Serve starts no reporter
}

// New returns an SMTP server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = listener.NopMetrics{}
	}
	if opts.Deliveries == nil {
		opts.Deliveries = listener.NopMetrics{}
	}
	s := &Server{opts: opts, log: opts.Logger.With("proto", opts.Mode.String()), conns: map[*trackedConn]struct{}{}}
	if opts.Mode == Inbound {
		s.senders = opts.Senders
	}
	s.mailboxes = opts.Mailboxes
	if s.mailboxes == nil {
		s.mailboxes = storeAppender{opts.Store}
	}
	gs := gosmtp.NewServer(backend{s})
	gs.Domain = opts.Hostname
	gs.MaxMessageBytes = int64(opts.Config.MaxMessageSize)
	gs.MaxRecipients = opts.Config.MaxRecipients
	gs.MaxLineLength = opts.Config.MaxLineLength
	gs.ReadTimeout = opts.Config.IdleTimeout.Std()
	gs.WriteTimeout = time.Minute
	gs.EnableSMTPUTF8 = true
	gs.EnableDSN = true
	gs.AllowInsecureAuth = opts.AllowInsecure
	if !opts.ImplicitTLS {
		gs.TLSConfig = opts.TLS // STARTTLS
	}
	gs.ErrorLog = log.New(slogWriter{log: s.log, proto: opts.Mode.String(), panics: opts.Panics}, "", 0)
	s.gs = gs
	return s
}

// Factory builds the SMTP listener of the given mode for the server wiring.
func Factory(mode Mode) listener.Factory {
	return func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
		var senders SenderChecker
		var reporter *dmarcreport.Reporter
		if mode == Inbound {
			senders, reporter = newSenderChecks(d)
		}
		var mailboxes Appender
		if d.Mailboxes != nil { // a nil *mailbox.Service is no Appender
			mailboxes = d.Mailboxes
		}
		return New(Options{
			Mailboxes:     mailboxes,
			Senders:       senders,
			Reporter:      reporter,
			Mode:          mode,
			Hostname:      d.Config.Hostname,
			Config:        d.Config.SMTP,
			AllowInsecure: d.Config.Auth.AllowInsecure,
			TLS:           d.TLSConfig(),
			ImplicitTLS:   implicitTLS,
			Store:         d.Store,
			Auth:          d.Auth,
			Delivery:      d.Delivery,
			Logger:        d.Logger,
			Panics:        d.Panics,
			Hooks:         d.Hooks,
			Metrics:       d.ProtocolMetrics(mode.String(), CommandNames()),
			Deliveries:    d.DeliveryMetrics(mode.String()),
		}), nil
	}
}

// Serve implements listener.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	if s.opts.Mode == Inbound && s.opts.Reporter != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		s.mu.Lock()
		if !s.shutDown {
			s.stopReports, s.reportsDone = cancel, done
			go func() {
				defer close(done)
				s.opts.Reporter.Run(ctx)
			}()
		} else {
			cancel()
		}
		s.mu.Unlock()
	}
	err := s.gs.Serve(&trackingListener{Listener: ln, srv: s})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown implements listener.Protocol: stop accepting, let transfers in
// progress finish until ctx is done, then close what is left. Sessions
// waiting for a command are ended at once with 421 (go-smtp's timeout
// reply): they have nothing in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutDown = true
	stopReports, reportsDone := s.stopReports, s.reportsDone
	s.mu.Unlock()
	if stopReports != nil {
		// Before the store closes: a report being queued finishes.
		stopReports()
		defer func() {
			select {
			case <-reportsDone:
			case <-ctx.Done():
			}
		}()
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			s.mu.Lock()
			for c := range s.conns {
				if !c.inData.Load() {
					c.SetReadDeadline(time.Now())
				}
			}
			s.mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := s.gs.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.forceClose.Store(true) // go-smtp closes them one by one: no draining
		s.gs.Close()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil // the server wiring closed the listener first
	}
	return err
}

// trackingListener records every connection so Shutdown can end the idle
// ones. An implicit-TLS connection is unwrapped and wrapped again around
// the tracked one: go-smtp must still see a *tls.Conn.
type trackingListener struct {
	net.Listener
	srv *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok && l.srv.opts.TLS != nil {
		return tls.Server(l.srv.newTrackedConn(tc.NetConn()), l.srv.opts.TLS), nil
	}
	return l.srv.newTrackedConn(c), nil
}

// trackedConn is a live connection of this server.
type trackedConn struct {
	net.Conn
	srv    *Server
	inData atomic.Bool // a message transfer is in progress
	// eof: the session is over after the pending reply. Reads end, and
	// writes after that reply are dropped: go-smtp still runs the commands
	// it had buffered, and the client must see nothing after the 421.
	eof     atomic.Bool
	replied atomic.Bool
	once    sync.Once
}

// Read implements net.Conn.
func (c *trackedConn) Read(p []byte) (int, error) {
	if c.eof.Load() {
		return 0, io.EOF
	}
	return c.Conn.Read(p)
}

// Write implements net.Conn.
func (c *trackedConn) Write(p []byte) (int, error) {
	if c.eof.Load() && c.replied.Swap(true) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (s *Server) newTrackedConn(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, srv: s}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	// Sessions are counted by connection: go-smtp starts a new session
	// object after STARTTLS, but it is the same client.
	s.opts.Metrics.SessionOpened()
	return tc
}

// Close implements net.Conn.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.srv.opts.Metrics.SessionClosed()
	})
	if c.srv.forceClose.Load() {
		return c.Conn.Close()
	}
	// The last reply (a 500 for an over-long line, a 421) must reach the
	// client even if it sent more than was read (go-smtp closes right
	// after replying): see listener.CloseGracefully. Under implicit TLS
	// the tls.Conn above has sent its close_notify already.
	return listener.CloseGracefully(c.Conn)
}

// NetConn returns the wrapped connection.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

// tracked finds the trackedConn under a connection (beneath TLS).
func tracked(c net.Conn) *trackedConn {
	for {
		switch x := c.(type) {
		case *trackedConn:
			return x
		case *tls.Conn:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

// ConnLimits implements the server package's optional connection limits.
func (s *Server) ConnLimits() connlimit.Limits {
	return connlimit.Limits{Total: s.opts.Config.MaxConnections, PerIP: s.opts.Config.MaxConnectionsPerIP}
}

// RejectConn answers a connection over the limits.
func (s *Server) RejectConn(c net.Conn, reason string) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "421 4.7.0 %s Too many connections (%s), try again later\r\n", s.opts.Hostname, reason)
	s.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
}

type backend struct{ s *Server }

func (b backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return newSession(b.s, c), nil
}

// slogWriter routes go-smtp's error log into slog.
//
// go-smtp contains a panic in a command (our session's methods included)
// to its connection by itself: it recovers, answers 421 and closes that
// connection, then logs "panic serving <remote>: <value>\n<stack>" here.
// So there is nothing to wrap; such a line becomes our ERROR record with
// the stack, and is counted. (Logout, which go-smtp calls outside its
// recover, only cancels a context.)
type slogWriter struct {
	log    *slog.Logger
	proto  string
	panics *panics.Counter
}

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(trimNewline(p))
	if rest, ok := strings.CutPrefix(msg, "panic serving "); ok {
		head, stack, _ := strings.Cut(rest, "\n")
		remote, value, _ := strings.Cut(head, ": ")
		w.panics.ReportStack(w.log, w.proto+" session", value, []byte(stack), "proto", w.proto, "remote", remote)
		return len(p), nil
	}
	w.log.Warn(msg)
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
