// Package testrig runs a real Mailroom on loopback for tests: the server
// with the protocols a test passes, a self-signed certificate, the domain
// example.test, accounts with one known password, and its log kept in
// memory and printed when the test fails. It is the one rig under the
// tests of internal/imap, pop3, smtp, web, server, loadgen, e2e and
// cmd/mailroom, so that a change to how a server starts is made once.
//
// It is a normal package so that those packages' tests can share it, but
// only _test.go files import it: it calls t.Fatal and cheapens password
// hashing, nothing a program may do. It imports no protocol package
// (callers pass the factories), so a protocol's own in-package tests can
// use it without an import cycle.
package testrig

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"mailroom/internal/testrig/logbuf"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/delivery"
	"mailroom/internal/listener"
	"mailroom/internal/mailtest"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

// Password is the password of every account Account creates.
const Password = "correct horse"

// Domain is the local domain every rig has.
const Domain = "example.test"

// HashParams are argon2id parameters cheap enough for tests that log in
// many times; production's cost a real fraction of a second each.
func HashParams() auth.Params { return auth.Params{Time: 1, MemoryKiB: 64, Threads: 1} }

// ClientTLS is a client configuration that accepts the rig's self-signed
// certificate. A new one each call: a test may change it.
func ClientTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"} }

// Factories maps a protocol name ("imap", "smtp", "http" …) to its
// implementation, as server.New takes them.
type Factories = map[string]listener.Factory

// Option changes how Start sets up a rig.
type Option func(*setup)

type setup struct {
	listen   []string
	tweak    []func(*config.Config)
	srvOpts  []server.Option
	hooks    *listener.TestHooks
	dataDir  string
	jsonLogs bool
	node     *Rig // SecondNode: share this rig's store
}

// Listen limits the listeners to the given [listen] keys ("imaps",
// "submission" …), each on 127.0.0.1:0. Without it every listener of every
// protocol given to Start listens; for the web that includes https, where
// the http listener then sends browsers (to its configured port, 0).
func Listen(keys ...string) Option {
	return func(s *setup) { s.listen = append(s.listen, keys...) }
}

// Config changes the configuration before the server starts (after the
// listeners are set, so it may change those too).
func Config(fn func(*config.Config)) Option {
	return func(s *setup) { s.tweak = append(s.tweak, fn) }
}

// ServerOptions are passed to server.New: tests make the disk fill up or
// fail this way.
func ServerOptions(opts ...server.Option) Option {
	return func(s *setup) { s.srvOpts = append(s.srvOpts, opts...) }
}

// Hooks installs test hooks in the protocols (see listener.TestHooks).
func Hooks(h *listener.TestHooks) Option { return func(s *setup) { s.hooks = h } }

// DataDir starts the server on dir instead of a new temporary directory:
// one a test prepared (a small tmpfs) or another rig left behind.
func DataDir(dir string) Option { return func(s *setup) { s.dataDir = dir } }

// JSONLogs logs JSON records instead of text, for a test that reads
// the log's fields.
func JSONLogs() Option { return func(s *setup) { s.jsonLogs = true } }

// Rig is a running Mailroom. Server and Store change on Restart.
type Rig struct {
	T      testing.TB
	Server *server.Server
	Store  store.Store
	Config config.Config // as started
	Log    *LogBuffer    // everything the server logged, at DEBUG and up
	// DNS is the server's DNS ([dns] servers): a loopback server that
	// knows no names until a test adds them, so that no test asks the
	// machine's resolver (slow, flaky, or absent) and sender checks and
	// outbound lookups answer at once.
	DNS *mailtest.DNS

	factories Factories
	setup     setup

	mu      sync.Mutex
	running bool
	addrs   map[string]string
}

// Start starts a Mailroom with the given protocols and creates the domain
// example.test; the server shuts down when the test ends. With the same
// data directory a second time, the domain is already there.
func Start(t testing.TB, factories Factories, opts ...Option) *Rig {
	t.Helper()
	r := &Rig{T: t, factories: factories, Log: &LogBuffer{}}
	for _, o := range opts {
		o(&r.setup)
	}
	cfg := config.Default()
	cfg.Hostname = "mail." + Domain
	cfg.DataDir = r.setup.dataDir
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if len(r.setup.srvOpts) > 0 {
		// They are the SQLite store's fault injections.
		RequireSQLite(t)
	}
	if r.setup.node != nil {
		// A second node: its own data directory, the first's database.
		cfg.Store = r.setup.node.Config.Store
	} else {
		useBackend(t, &cfg)
	}
	cfg.Listen = listenOn(r.setup.listen, factories)
	cfg.TLS.SelfSigned = true
	r.DNS = mailtest.NewDNS(t)
	cfg.DNS.Servers = []string{r.DNS.Addr}
	for _, fn := range r.setup.tweak {
		fn(&cfg)
	}
	r.Config = cfg
	r.start()
	// Registered once, whatever the restarts: it stops the server running
	// then.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Shutdown(ctx)
		if t.Failed() {
			t.Logf("server log:\n%s", r.Log.String())
		}
	})
	r.AddDomain(Domain)
	return r
}

// listenOn is the [listen] section: the keys asked for, or else every
// listener of the protocols there are factories for, on loopback with a
// port the kernel picks.
func listenOn(keys []string, factories Factories) config.Listen {
	var l config.Listen
	fields := map[string]*string{
		"smtp": &l.SMTP, "submission": &l.Submission, "submissions": &l.Submissions,
		"imap": &l.IMAP, "imaps": &l.IMAPS, "pop3": &l.POP3, "pop3s": &l.POP3S, "managesieve": &l.ManageSieve,
		"http": &l.HTTP, "https": &l.HTTPS, "debug": &l.Debug, "metrics": &l.Metrics,
	}
	if keys == nil {
		// server.Listeners knows which keys serve which protocol.
		var all config.Listen
		for _, f := range []*string{&all.SMTP, &all.Submission, &all.Submissions, &all.IMAP, &all.IMAPS,
			&all.POP3, &all.POP3S, &all.ManageSieve, &all.HTTP, &all.HTTPS, &all.Debug} {
			*f = "x"
		}
		for _, x := range server.Listeners(config.Config{Listen: all}) {
			if factories[x.Protocol] != nil {
				keys = append(keys, x.Key)
			}
		}
	}
	for _, k := range keys {
		f := fields[k]
		if f == nil {
			panic("testrig: no listener " + k)
		}
		*f = "127.0.0.1:0"
	}
	return l
}

func (r *Rig) start() {
	r.T.Helper()
	var h slog.Handler = slog.NewTextHandler(r.Log, &slog.HandlerOptions{Level: slog.LevelDebug})
	if r.setup.jsonLogs {
		h = slog.NewJSONHandler(r.Log, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	srv, err := server.New(context.Background(), r.Config, slog.New(h), r.factories, r.setup.srvOpts...)
	if err != nil {
		r.T.Fatal(err)
	}
	if r.setup.hooks != nil {
		srv.SetTestHooks(r.setup.hooks)
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		r.T.Fatal(err)
	}
	addrs := map[string]string{}
	for _, l := range srv.Listening() {
		addrs[l.Key] = l.Addr
	}
	r.mu.Lock()
	r.Server, r.Store, r.addrs, r.running = srv, srv.Deps().Store, addrs, true
	r.mu.Unlock()
}

// Addr is the address a listener ("imaps", "smtp" …) is bound to; the test
// fails if it does not listen.
func (r *Rig) Addr(key string) string {
	r.T.Helper()
	r.mu.Lock()
	a := r.addrs[key]
	r.mu.Unlock()
	if a == "" {
		r.T.Fatalf("testrig: listener %q is not listening", key)
	}
	return a
}

// Shutdown stops the server gracefully, sessions given until ctx ends; a
// server already stopped is left alone. The rig calls it when the test
// ends.
func (r *Rig) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	running := r.running
	r.running = false
	r.mu.Unlock()
	if !running {
		return nil
	}
	return r.Server.Shutdown(ctx)
}

// Restart stops the server if it runs and starts it again on the same
// data and configuration. The listeners get new ports: ask Addr again.
func (r *Rig) Restart() {
	r.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		r.T.Logf("testrig: shutdown before restart: %v", err)
	}
	r.start()
}

// AddDomain makes name a local domain, if it is not one already.
func (r *Rig) AddDomain(name string) {
	r.T.Helper()
	if _, err := r.Store.CreateDomain(context.Background(), name); err != nil && !errors.Is(err, store.ErrExists) {
		r.T.Fatal(err)
	}
}

// Account creates an account with Password and the given settings, as
// key, value pairs ("pop3.enabled", "false").
func (r *Rig) Account(email string, settings ...string) store.Account {
	r.T.Helper()
	cred, err := auth.HashPassword(Password, HashParams())
	if err != nil {
		r.T.Fatal(err)
	}
	acct, err := r.Store.CreateAccount(context.Background(), email, cred)
	if err != nil {
		r.T.Fatal(err)
	}
	r.SetSettings(acct, settings...)
	return acct
}

// SetSettings stores settings given as key, value pairs.
func (r *Rig) SetSettings(acct store.Account, settings ...string) {
	r.T.Helper()
	if len(settings) == 0 {
		return
	}
	m := map[string]string{}
	for i := 0; i+1 < len(settings); i += 2 {
		m[settings[i]] = settings[i+1]
	}
	if err := r.Store.SetSettings(context.Background(), acct.ID, m); err != nil {
		r.T.Fatal(err)
	}
}

// Mailbox returns one of the account's mailboxes.
func (r *Rig) Mailbox(acct store.Account, name string) store.Mailbox {
	r.T.Helper()
	mb, err := r.Store.Mailbox(context.Background(), acct.ID, name)
	if err != nil {
		r.T.Fatal(err)
	}
	return mb
}

// Deliver puts a message straight into the account's INBOX, past SMTP and
// the delivery agent (no trace headers, no sieve or forwarding).
func (r *Rig) Deliver(acct store.Account, raw string) store.Delivered {
	r.T.Helper()
	return r.DeliverInto(store.Target{MailboxID: r.Mailbox(acct, "INBOX").ID}, raw)
}

// DeliverInto is Deliver to any mailbox, with the target's internal date
// and flags.
func (r *Rig) DeliverInto(target store.Target, raw string) store.Delivered {
	r.T.Helper()
	ctx := context.Background()
	m, err := r.Store.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.T.Fatal(err)
	}
	d, err := r.Store.Deliver(ctx, m, []store.Target{target})
	if err != nil {
		r.T.Fatal(err)
	}
	return d[0]
}

// DeliverTo delivers a message as SMTP does once it has it: through the
// delivery agent, to whatever rcpt leads to (aliases, forwarding,
// vacation replies), from carol@example.org.
func (r *Rig) DeliverTo(rcpt, raw string) {
	r.T.Helper()
	ctx := context.Background()
	agent := r.Server.Deps().Delivery
	res, err := agent.Resolve(ctx, rcpt, false)
	if err != nil {
		r.T.Fatalf("resolve %s: %v", rcpt, err)
	}
	staged, err := r.Store.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.T.Fatal(err)
	}
	defer staged.Discard()
	env := delivery.Envelope{From: "carol@example.org", Recipients: []delivery.Recipient{{Address: rcpt, Resolved: res}}}
	if err := agent.Deliver(ctx, staged, env); err != nil {
		r.T.Fatalf("deliver to %s: %v", rcpt, err)
	}
}

// Messages lists a mailbox of the account's, as the store has it.
func (r *Rig) Messages(acct store.Account, mailbox string) []store.MessageMeta {
	r.T.Helper()
	list, err := r.Store.MessageList(context.Background(), r.Mailbox(acct, mailbox).ID)
	if err != nil {
		r.T.Fatal(err)
	}
	return list
}

// Message is a stored message read back.
type Message struct {
	Meta store.MessageMeta
	Raw  string // as a client fetches it, header prefix included
}

// Read returns the messages in a mailbox of the account with address
// email, bodies read: what arrived for an address, as a test addressed it.
func (r *Rig) Read(email, mailbox string) []Message {
	r.T.Helper()
	ctx := context.Background()
	acct, err := r.Store.Account(ctx, email)
	if err != nil {
		r.T.Fatal(err)
	}
	mb := r.Mailbox(acct, mailbox)
	list, err := r.Store.MessageList(ctx, mb.ID)
	if err != nil {
		r.T.Fatal(err)
	}
	var out []Message
	for _, meta := range list {
		b, err := r.Store.OpenBody(ctx, mb.ID, meta.UID)
		if err != nil {
			r.T.Fatal(err)
		}
		raw, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		if err != nil {
			r.T.Fatal(err)
		}
		out = append(out, Message{Meta: meta, Raw: string(raw)})
	}
	return out
}

// Bodies is Read without the metadata.
func (r *Rig) Bodies(email, mailbox string) []string {
	r.T.Helper()
	var out []string
	for _, m := range r.Read(email, mailbox) {
		out = append(out, m.Raw)
	}
	return out
}

// LogBuffer collects a server's log: written by its goroutines, read by
// the test's.
type LogBuffer = logbuf.Buffer

// CertFile writes the certificate the TLS listener key ("imaps" …) presents
// to a PEM file and returns its name, for clients told to trust exactly
// that certificate (mbsync's CertificateFile, NeoMutt's certificate_file).
// It is taken from a handshake: the server keeps it in its store, not in a
// file of the data directory.
func (r *Rig) CertFile(key string) string {
	r.T.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", r.Addr(key), ClientTLS())
	if err != nil {
		r.T.Fatalf("testrig: TLS handshake with %s: %v", key, err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		r.T.Fatalf("testrig: %s presented no certificate", key)
	}
	name := filepath.Join(r.T.TempDir(), key+".crt")
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0].Raw}), 0o644); err != nil {
		r.T.Fatal(err)
	}
	return name
}
