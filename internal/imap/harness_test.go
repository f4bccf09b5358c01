package imap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

var testParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

const password = "correct horse"

// rig is a real Mailroom with IMAP on 143-style (STARTTLS) and 993-style
// (implicit TLS) listeners on loopback.
type rig struct {
	t     testing.TB
	srv   *server.Server
	st    store.Store
	plain string
	tls   string
	log   *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := startRig(t, t.TempDir(), nil)
	if _, err := r.st.CreateDomain(context.Background(), "example.test"); err != nil {
		t.Fatal(err)
	}
	return r
}

// startRig starts a server on dataDir (new, or one a previous rig left);
// tweak, if not nil, may change the configuration before the start.
func startRig(t testing.TB, dataDir string, tweak func(*config.Config), opts ...server.Option) *rig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = dataDir
	cfg.Listen = config.Listen{IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	if tweak != nil {
		tweak(&cfg)
	}
	r := &rig{t: t, log: &lockedBuffer{}}
	logger := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg, logger, map[string]listener.Factory{"imap": Factory()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	r.srv, r.st = srv, srv.Deps().Store
	for _, l := range srv.Listening() {
		switch l.Key {
		case "imap":
			r.plain = l.Addr
		case "imaps":
			r.tls = l.Addr
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if t.Failed() {
			t.Logf("server log:\n%s", r.log.String())
		}
	})
	return r
}

func (r *rig) account(email string, settings ...string) store.Account {
	r.t.Helper()
	ctx := context.Background()
	cred, err := auth.HashPassword(password, testParams)
	if err != nil {
		r.t.Fatal(err)
	}
	acct, err := r.st.CreateAccount(ctx, email, cred)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(settings) > 0 {
		m := map[string]string{}
		for i := 0; i+1 < len(settings); i += 2 {
			m[settings[i]] = settings[i+1]
		}
		if err := r.st.SetSettings(ctx, acct.ID, m); err != nil {
			r.t.Fatal(err)
		}
	}
	return acct
}

func (r *rig) mailbox(acct store.Account, name string) store.Mailbox {
	r.t.Helper()
	mb, err := r.st.Mailbox(context.Background(), acct.ID, name)
	if err != nil {
		r.t.Fatal(err)
	}
	return mb
}

func (r *rig) deliver(acct store.Account, raw string) store.Delivered {
	r.t.Helper()
	ctx := context.Background()
	m, err := r.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.st.Deliver(ctx, m, []store.Target{{MailboxID: r.mailbox(acct, "INBOX").ID}})
	if err != nil {
		r.t.Fatal(err)
	}
	return d[0]
}

var clientTLS = &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}

// client logs in with go-imap's imapclient over implicit TLS.
func (r *rig) client(email string, opts *imapclient.Options) *imapclient.Client {
	r.t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = clientTLS
	c, err := imapclient.DialTLS(r.tls, opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	if err := c.Login(email, password).Wait(); err != nil {
		r.t.Fatalf("LOGIN %s: %v", email, err)
	}
	return c
}

// raw is a line-level client for exact protocol checks.
type raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (r *rig) raw(implicitTLS bool) *raw {
	r.t.Helper()
	var c net.Conn
	var err error
	if implicitTLS {
		c, err = tls.Dial("tcp", r.tls, clientTLS)
	} else {
		c, err = net.Dial("tcp", r.plain)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	x := &raw{t: r.t, conn: c, r: bufio.NewReader(c)}
	x.expect("* OK")
	return x
}

func (x *raw) send(s string) {
	x.t.Helper()
	if _, err := io.WriteString(x.conn, s+"\r\n"); err != nil {
		x.t.Fatal(err)
	}
}

func (x *raw) line() string {
	x.t.Helper()
	l, err := x.r.ReadString('\n')
	if err != nil {
		x.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (x *raw) expect(prefix string) string {
	x.t.Helper()
	l := x.line()
	if !strings.HasPrefix(l, prefix) {
		x.t.Fatalf("got %q, want %s…", l, prefix)
	}
	return l
}

// cmd sends a tagged command and returns every line up to and including
// the tagged reply, which must start with want ("OK", "NO", "BAD").
func (x *raw) cmd(tag, command, want string) []string {
	x.t.Helper()
	x.send(tag + " " + command)
	var lines []string
	for {
		l := x.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" "+want) {
				x.t.Fatalf("%s: got %q, want %s (all: %q)", command, l, want, lines)
			}
			return lines
		}
	}
}

func (x *raw) starttls() {
	x.t.Helper()
	tc := tls.Client(x.conn, clientTLS)
	if err := tc.Handshake(); err != nil {
		x.t.Fatal(err)
	}
	x.conn, x.r = tc, bufio.NewReader(tc)
}

func has(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
