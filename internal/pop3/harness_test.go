package pop3

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

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

var testParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

const password = "correct horse"

// rig is a real Mailroom (store, TLS, auth, POP3 on 110-style STLS and
// 995-style implicit TLS listeners) on loopback.
type rig struct {
	t     testing.TB
	srv   *server.Server
	st    store.Store
	cfg   config.Config
	plain string // listen.pop3
	tls   string // listen.pop3s
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

func newRig(t *testing.T, tweak func(*config.Config)) *rig { return newRigWith(t, tweak) }

// newRigTB is newRig for benchmarks.
func newRigTB(b *testing.B) *rig { return newRigWith(b, nil) }

func newRigWith(t testing.TB, tweak func(*config.Config)) *rig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{POP3: "127.0.0.1:0", POP3S: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	if tweak != nil {
		tweak(&cfg)
	}
	r := &rig{t: t, cfg: cfg, log: &lockedBuffer{}}
	r.start()
	ctx := context.Background()
	if _, err := r.st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) start() {
	r.t.Helper()
	logger := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), r.cfg, logger, map[string]listener.Factory{"pop3": Factory()})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.srv, r.st = srv, srv.Deps().Store
	for _, l := range srv.Listening() {
		switch l.Key {
		case "pop3":
			r.plain = l.Addr
		case "pop3s":
			r.tls = l.Addr
		}
	}
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.srv.Shutdown(ctx)
	if r.t.Failed() {
		r.t.Logf("server log:\n%s", r.log.String())
	}
}

// restart stops the server and starts it again on the same data (new ports).
func (r *rig) restart() {
	r.stop()
	r.start()
}

// account creates an account with the test password and optional settings.
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
	r.set(acct, settings...)
	return acct
}

func (r *rig) set(acct store.Account, settings ...string) {
	r.t.Helper()
	if len(settings) == 0 {
		return
	}
	m := map[string]string{}
	for i := 0; i+1 < len(settings); i += 2 {
		m[settings[i]] = settings[i+1]
	}
	if err := r.st.SetSettings(context.Background(), acct.ID, m); err != nil {
		r.t.Fatal(err)
	}
}

// deliver puts a message into the account's INBOX, as SMTP would.
func (r *rig) deliver(acct store.Account, raw string) store.Delivered {
	r.t.Helper()
	ctx := context.Background()
	inbox := r.mailbox(acct, "INBOX")
	m, err := r.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		r.t.Fatal(err)
	}
	return d[0]
}

// deliverAt delivers with a given arrival time.
func (r *rig) deliverAt(acct store.Account, raw string, at time.Time) {
	r.t.Helper()
	ctx := context.Background()
	m, err := r.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.st.Deliver(ctx, m, []store.Target{{MailboxID: r.mailbox(acct, "INBOX").ID, InternalDate: at}}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) mailbox(acct store.Account, name string) store.Mailbox {
	r.t.Helper()
	mb, err := r.st.Mailbox(context.Background(), acct.ID, name)
	if err != nil {
		r.t.Fatal(err)
	}
	return mb
}

// messages lists a mailbox, as an IMAP client would see it.
func (r *rig) messages(acct store.Account, name string) []store.MessageMeta {
	r.t.Helper()
	list, err := r.st.MessageList(context.Background(), r.mailbox(acct, name).ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return list
}

func message(subject, body string) string {
	return "From: a@remote.example\r\nTo: ann@example.test\r\nSubject: " + subject + "\r\n\r\n" + body
}

var clientTLS = &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}

// client is a line-level POP3 client.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (r *rig) dial(addr string, implicitTLS bool) *client {
	r.t.Helper()
	var c net.Conn
	var err error
	if implicitTLS {
		c, err = tls.Dial("tcp", addr, clientTLS)
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	cl := &client{t: r.t, conn: c, r: bufio.NewReader(c)}
	cl.expect("+OK")
	return cl
}

// login connects with STLS and logs in with USER/PASS.
func (r *rig) login(email string) *client {
	r.t.Helper()
	c := r.dial(r.plain, false)
	c.cmd("STLS", "+OK")
	c.starttls()
	c.cmd("USER "+email, "+OK")
	c.cmd("PASS "+password, "+OK")
	return c
}

func (c *client) starttls() {
	c.t.Helper()
	tc := tls.Client(c.conn, clientTLS)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *client) expect(prefix string) string {
	c.t.Helper()
	l := c.line()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("got %q, want %s…", l, prefix)
	}
	return l
}

// cmd sends a command and checks the first line of the reply.
func (c *client) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line)
	return c.expect(prefix)
}

// multi reads a multi-line body after a +OK line, undoing byte-stuffing;
// it returns the exact octets (CRLF line ends kept).
func (c *client) multi() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if l == ".\r\n" {
			return b.String()
		}
		if !strings.HasSuffix(l, "\r\n") {
			c.t.Fatalf("line without CRLF: %q", l)
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}

// closed reports whether the server closed the connection.
func (c *client) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	return err != nil
}
