package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

// cheap argon2 parameters: these tests log in many times.
var testParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

const password = "correct horse"

// rig is a real Mailroom (store, TLS, auth, delivery, SMTP listeners) on
// loopback, configured like production except for the ports.
type rig struct {
	t      *testing.T
	srv    *server.Server
	st     store.Store
	mx     string // listen.smtp address
	sub    string // listen.submission (STARTTLS)
	subTLS string // listen.submissions (implicit TLS)
	log    syncWriter
}

func newRig(t *testing.T, tweak func(*config.Config), opts ...server.Option) *rig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mx.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", Submissions: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	cfg.ShutdownTimeout = config.Duration(2 * time.Second)
	if tweak != nil {
		tweak(&cfg)
	}
	r := &rig{t: t}
	r.log.w = &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(&r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg, logger, map[string]listener.Factory{
		"smtp": Factory(Inbound), "submission": Factory(Submission),
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	r.srv, r.st = srv, srv.Deps().Store
	for _, l := range srv.Listening() {
		switch l.Key {
		case "smtp":
			r.mx = l.Addr
		case "submission":
			r.sub = l.Addr
		case "submissions":
			r.subTLS = l.Addr
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if t.Failed() {
			r.log.mu.Lock()
			t.Logf("server log:\n%s", r.log.w.String())
			r.log.mu.Unlock()
		}
	})
	ctx := context.Background()
	for _, d := range []string{"example.test", "other.test"} {
		if _, err := r.st.CreateDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// account creates an account with the test password.
func (r *rig) account(email string, settings ...string) store.Account {
	r.t.Helper()
	cred, err := auth.HashPassword(password, testParams)
	if err != nil {
		r.t.Fatal(err)
	}
	acct, err := r.st.CreateAccount(context.Background(), email, cred)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(settings) > 0 {
		m := map[string]string{}
		for i := 0; i+1 < len(settings); i += 2 {
			m[settings[i]] = settings[i+1]
		}
		if err := r.st.SetSettings(context.Background(), acct.ID, m); err != nil {
			r.t.Fatal(err)
		}
	}
	return acct
}

// inbox returns the messages in an account's INBOX, bodies read.
func (r *rig) inbox(email string) []string {
	r.t.Helper()
	ctx := context.Background()
	acct, err := r.st.Account(ctx, email)
	if err != nil {
		r.t.Fatal(err)
	}
	mb, err := r.st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		r.t.Fatal(err)
	}
	list, err := r.st.MessageList(ctx, mb.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		b, err := r.st.OpenBody(ctx, mb.ID, m.UID)
		if err != nil {
			r.t.Fatal(err)
		}
		data, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		out = append(out, string(data))
	}
	return out
}

// dial connects a go-smtp client to addr (EHLO done).
func (r *rig) dial(addr string) *gosmtp.Client {
	r.t.Helper()
	c, err := gosmtp.Dial(addr)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := c.Hello("client.example.org"); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

var clientTLS = &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}

// dialStartTLS connects a go-smtp client to addr and runs STARTTLS.
func (r *rig) dialStartTLS(addr string) *gosmtp.Client {
	r.t.Helper()
	c, err := gosmtp.DialStartTLS(addr, clientTLS)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// login dials submission with STARTTLS and logs in with PLAIN.
func (r *rig) login(email string) *gosmtp.Client {
	r.t.Helper()
	c := r.dialStartTLS(r.sub)
	if err := c.Auth(gosasl.NewPlainClient("", email, password)); err != nil {
		r.t.Fatalf("AUTH PLAIN %s: %v", email, err)
	}
	return c
}

// send runs one transaction; it returns the first error.
func send(c *gosmtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// wantCode checks an SMTP error's code and enhanced code.
func wantCode(t *testing.T, err error, code int, enhanced string) {
	t.Helper()
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP error %d %s", err, code, enhanced)
	}
	ec := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != code || (enhanced != "" && ec != enhanced) {
		t.Fatalf("got %d %s %q, want %d %s", se.Code, ec, se.Message, code, enhanced)
	}
}

// raw is a line-level client for what go-smtp's client will not send.
type raw struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (rg *rig) raw(addr string) *raw {
	rg.t.Helper()
	x := rg.rawNoGreeting(addr)
	x.expect("220")
	return x
}

func (x *raw) send(s string) {
	x.t.Helper()
	if _, err := io.WriteString(x.conn, s); err != nil {
		x.t.Fatal(err)
	}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (x *raw) reply() string {
	x.t.Helper()
	for {
		line, err := x.r.ReadString('\n')
		if err != nil {
			x.t.Fatalf("reading reply: %v (got %q)", err, line)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		return strings.TrimRight(line, "\r\n")
	}
}

func (x *raw) expect(prefix string) string {
	x.t.Helper()
	line := x.reply()
	if !strings.HasPrefix(line, prefix) {
		x.t.Fatalf("reply %q, want %s…", line, prefix)
	}
	return line
}

// closed reports whether the server closed the connection.
func (x *raw) closed() bool {
	x.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := x.r.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reset by peer")
}

// rawNoGreeting connects without reading the greeting.
func (rg *rig) rawNoGreeting(addr string) *raw {
	rg.t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		rg.t.Fatal(err)
	}
	rg.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &raw{t: rg.t, conn: c, r: bufio.NewReader(c)}
}
