// Package listener is the plumbing under the protocols: what a protocol
// gets from the server (Deps), what it must implement to be started on a
// listener (Protocol, Factory, and optionally ConnLimiter), the accept loop
// and session tracking the line protocols share (Sessions), and the
// containment of panics in sessions and HTTP requests.
//
// It sits below the protocol packages and above the store, auth and
// delivery: internal/server, at the top, builds the Deps and starts the
// listeners; no protocol imports internal/server.
package listener

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/connlimit"
	"mailroom/internal/delivery"
	"mailroom/internal/junkfilter"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailfetch"
	"mailroom/internal/panics"
	"mailroom/internal/queue"
	"mailroom/internal/store"
	"mailroom/internal/tlsconf"
)

// Deps is what every protocol gets.
type Deps struct {
	Config   config.Config
	Logger   *slog.Logger
	Store    store.Store
	Auth     *auth.Authenticator
	TLS      *tlsconf.Manager // nil without TLS
	Delivery *delivery.Agent
	Queue    *queue.Queue // the outbound queue Delivery hands remote recipients to
	// Mailboxes is the mailbox service: the shared in-memory state of open
	// mailboxes and the operations that change mail (IMAP sessions
	// and webmail pages on one mailbox see one index).
	Mailboxes *mailbox.Service
	// Junk is the junk filter; nil when junk.enabled is off.
	Junk *junkfilter.Filter
	// Fetch collects mail from the users' accounts on other servers;
	// nil when fetch.enabled is off.
	Fetch *mailfetch.Fetcher
	// Panics counts the panics that ended a session or a task, in every
	// protocol and worker of this server; the debug listener shows it.
	Panics *panics.Counter
	// Metrics counts sessions, commands and deliveries; nil when
	// listen.metrics is off (use ProtocolMetrics and DeliveryMetrics).
	Metrics Metrics
	// Hooks are for tests only: nil in production.
	Hooks *TestHooks
}

// TLSConfig returns the TLS configuration, or nil without TLS.
func (d Deps) TLSConfig() *tls.Config {
	if d.TLS == nil {
		return nil
	}
	return d.TLS.TLSConfig()
}

// ConnLimiter is implemented by protocols that limit their connections:
// a connection over the limits is passed to RejectConn and closed.
type ConnLimiter interface {
	ConnLimits() connlimit.Limits
	RejectConn(c net.Conn, reason string)
}

// Protocol serves one listener's sessions.
type Protocol interface {
	// Serve accepts sessions on ln until it is closed.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, lets sessions finish until ctx ends, then
	// closes what is left.
	Shutdown(ctx context.Context) error
}

// Factory builds a protocol for one listener. implicitTLS is true for the
// listeners that start with a TLS handshake (465, 993, 995, 443).
type Factory func(d Deps, implicitTLS bool) (Protocol, error)

// TestHooks let tests make something happen, a panic above all, at fixed
// points of the protocols, through the real server and real clients.
// Production never sets them.
type TestHooks struct {
	// Command is called before a session handles a command. proto is the
	// protocol ("imap", "pop3", "smtp", "submission", "http"), remote the
	// client's address (net.Conn.RemoteAddr().String(), so a test can pick
	// one of its connections), and name the command in upper case as the
	// client sent it (IMAP: without the tag; SMTP: MAIL only, the one
	// command go-smtp hands us by name; HTTP: "GET /path").
	Command func(proto, remote, name string)
}

// BeforeCommand calls h.Command if it is set; h may be nil.
func (h *TestHooks) BeforeCommand(proto, remote, name string) {
	if h != nil && h.Command != nil {
		h.Command(proto, remote, name)
	}
}
