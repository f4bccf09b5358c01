package mailfetch_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/config"
	imapsrv "mailroom/internal/imap"
	"mailroom/internal/mailfetch"
	"mailroom/internal/pop3"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// TestMain starts the PostgreSQL cluster the rigs need when
// MAILROOM_TEST_BACKEND=postgres.
func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }

const (
	remoteUser = "old@example.test"
	localUser  = "ann@example.test"
)

// env is two real Mailrooms: the remote one, with POP3 and IMAP
// listeners and the account mail is collected from, and the local one,
// whose store, delivery agent and mailbox service the fetcher under test
// delivers with. Neither runs its own schedule ([fetch] off): the test
// runs the sources itself.
type env struct {
	t             testing.TB
	remote, local *testrig.Rig
	remoteAcct    store.Account
	ann           store.Account
	f             *mailfetch.Fetcher
}

func noSchedule(c *config.Config) { c.Fetch.Enabled = false }

func newEnv(t testing.TB) *env {
	t.Helper()
	remote := testrig.Start(t, testrig.Factories{"pop3": pop3.Factory(), "imap": imapsrv.Factory()}, testrig.Config(noSchedule))
	local := testrig.Start(t, testrig.Factories{}, testrig.Config(noSchedule))
	e := &env{t: t, remote: remote, local: local, remoteAcct: remote.Account(remoteUser), ann: local.Account(localUser)}
	e.f = e.fetcher(nil)
	return e
}

// fetcher builds a fetcher delivering into the local rig that trusts the
// remote's certificate (and pool's, if given).
func (e *env) fetcher(pool *x509.CertPool) *mailfetch.Fetcher {
	if pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(e.remote.CertFile("imaps"))
	if err != nil {
		e.t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	deps := e.local.Server.Deps()
	// It logs into the local server's log, which tests can search.
	logger := slog.New(slog.NewTextHandler(e.local.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return mailfetch.New(mailfetch.Config{Store: e.local.Store, Deliver: deps.Delivery, Mailboxes: deps.Mailboxes,
		RootCAs: pool, Timeout: 10 * time.Second, RunTimeout: time.Minute, MaxMessageSize: 1 << 20, Logger: logger})
}

func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// source adds a source of ann's reaching the remote's listener key.
func (e *env) source(protocol, key, security string, tweak func(*store.FetchSource)) store.FetchSource {
	e.t.Helper()
	src := store.FetchSource{AccountID: e.ann.ID, Protocol: protocol, Host: "localhost", Port: port(e.t, e.remote.Addr(key)),
		Security: security, Username: remoteUser, Password: testrig.Password, Enabled: true}
	if tweak != nil {
		tweak(&src)
	}
	src, err := e.local.Store.AddFetchSource(context.Background(), src)
	if err != nil {
		e.t.Fatal(err)
	}
	return src
}

// run collects the source now and returns how many messages arrived.
func (e *env) run(src store.FetchSource) (int, error) {
	e.t.Helper()
	res, err := e.f.RunSource(context.Background(), e.ann, src.ID)
	return res.Fetched, err
}

func (e *env) mustRun(src store.FetchSource, want int) {
	e.t.Helper()
	n, err := e.run(src)
	if err != nil {
		e.t.Fatalf("run: %v\nstatus: %+v", err, e.status(src))
	}
	if n != want {
		e.t.Fatalf("run collected %d messages, want %d", n, want)
	}
}

func (e *env) status(src store.FetchSource) store.FetchSource {
	e.t.Helper()
	got, err := e.local.Store.FetchSource(context.Background(), src.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// appendRemote puts messages into a remote folder with IMAP APPEND.
func (e *env) appendRemote(folder string, raws ...string) {
	e.t.Helper()
	c, err := imapclient.DialTLS(e.remote.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(remoteUser, testrig.Password).Wait(); err != nil {
		e.t.Fatal(err)
	}
	for _, raw := range raws {
		cmd := c.Append(folder, int64(len(raw)), nil)
		if _, err := cmd.Write([]byte(raw)); err != nil {
			e.t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			e.t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			e.t.Fatalf("APPEND to %s: %v", folder, err)
		}
	}
	c.Logout().Wait()
}

func message(n int) string {
	return fmt.Sprintf("From: sender%d@remote.example\r\nTo: old@example.test\r\nSubject: message %d\r\nMessage-ID: <%d@remote.example>\r\n\r\nbody %d\r\n.leading dot\r\n", n, n, n, n)
}

// wantLocal checks that ann's mailbox holds exactly the messages, once
// each, with their original bytes after the delivery's trace fields.
// (The server's own notices, a quota warning, are not counted.)
func (e *env) wantLocal(mailbox string, ns ...int) {
	e.t.Helper()
	var bodies []string
	for _, b := range e.local.Bodies(localUser, mailbox) {
		if strings.Contains(b, "@remote.example>") {
			bodies = append(bodies, b)
		}
	}
	if len(bodies) != len(ns) {
		e.t.Fatalf("%s holds %d messages, want %d", mailbox, len(bodies), len(ns))
	}
	for _, n := range ns {
		found := 0
		for _, b := range bodies {
			if strings.HasSuffix(b, message(n)) {
				found++
			}
		}
		if found != 1 {
			e.t.Errorf("message %d is in %s %d times, want once with its bytes intact", n, mailbox, found)
		}
	}
}

func (e *env) remoteCount(folder string) int {
	e.t.Helper()
	return len(e.remote.Messages(e.remoteAcct, folder))
}

// TestPOP3LeaveOnServer: POP3 over implicit TLS, mail left on the server:
// each message arrives once, a second run collects nothing, new mail comes
// on the next run, and the remote keeps everything.
func TestPOP3LeaveOnServer(t *testing.T) {
	e := newEnv(t)
	e.appendRemote("INBOX", message(1), message(2), message(3))
	src := e.source(store.FetchPOP3, "pop3s", store.FetchTLS, nil)
	e.mustRun(src, 3)
	e.wantLocal("INBOX", 1, 2, 3)
	e.mustRun(src, 0)
	e.wantLocal("INBOX", 1, 2, 3)
	e.appendRemote("INBOX", message(4))
	e.mustRun(src, 1)
	e.wantLocal("INBOX", 1, 2, 3, 4)
	if n := e.remoteCount("INBOX"); n != 4 {
		t.Errorf("the remote holds %d messages, want all 4 left on it", n)
	}
	st := e.status(src)
	if st.Fetched != 4 || st.LastError != "" || st.LastSuccess.IsZero() || st.Failures != 0 {
		t.Errorf("status %+v: want 4 fetched, a success, no error", st)
	}
}

// TestPOP3DeleteAfterFetch: POP3 with STLS, delete after fetching: the
// remote is emptied, and the recorded ids of the deleted messages are
// forgotten on the next run.
func TestPOP3DeleteAfterFetch(t *testing.T) {
	e := newEnv(t)
	e.appendRemote("INBOX", message(1), message(2))
	src := e.source(store.FetchPOP3, "pop3", store.FetchSTARTTLS, func(s *store.FetchSource) { s.Delete = true })
	e.mustRun(src, 2)
	e.wantLocal("INBOX", 1, 2)
	if n := e.remoteCount("INBOX"); n != 0 {
		t.Errorf("the remote still holds %d messages", n)
	}
	e.appendRemote("INBOX", message(3))
	e.mustRun(src, 1)
	e.wantLocal("INBOX", 1, 2, 3)
	ids, err := e.local.Store.FetchedUIDs(context.Background(), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Errorf("recorded ids %q: want only the last message's (the others are gone from the server)", ids)
	}
}

// TestIMAPFetch: IMAP over implicit TLS leaves the remote untouched (no
// \Seen, nothing deleted); over STARTTLS from another folder into a
// local folder, with mark-read and delete, it empties that folder.
func TestIMAPFetch(t *testing.T) {
	e := newEnv(t)
	e.appendRemote("INBOX", message(1), message(2))
	src := e.source(store.FetchIMAP, "imaps", store.FetchTLS, nil)
	e.mustRun(src, 2)
	e.wantLocal("INBOX", 1, 2)
	e.mustRun(src, 0)
	e.appendRemote("INBOX", message(3))
	e.mustRun(src, 1)
	e.wantLocal("INBOX", 1, 2, 3)
	for _, m := range e.remote.Messages(e.remoteAcct, "INBOX") {
		if m.Flags&store.FlagSeen != 0 || m.Flags&store.FlagDeleted != 0 {
			t.Errorf("remote message %d got flags %v", m.UID, m.Flags)
		}
	}
	if st := e.status(src); st.Fetched != 3 || st.LastUID == 0 || st.UIDValidity == 0 {
		t.Errorf("status %+v: want 3 fetched and a cursor", st)
	}

	e.appendRemote("Archive", message(10), message(11))
	arch := e.source(store.FetchIMAP, "imap", store.FetchSTARTTLS, func(s *store.FetchSource) {
		s.Folder, s.Mailbox, s.Delete, s.MarkRead = "Archive", "Archive", true, true
	})
	e.mustRun(arch, 2)
	e.wantLocal("Archive", 10, 11)
	if n := e.remoteCount("Archive"); n != 0 {
		t.Errorf("the remote Archive still holds %d messages", n)
	}
	e.mustRun(arch, 0)
}

// TestWrongPassword: a refused login is the source's status, in words,
// and nothing arrives.
func TestWrongPassword(t *testing.T) {
	e := newEnv(t)
	e.appendRemote("INBOX", message(1))
	for _, proto := range []string{store.FetchPOP3, store.FetchIMAP} {
		key := map[string]string{store.FetchPOP3: "pop3s", store.FetchIMAP: "imaps"}[proto]
		src := e.source(proto, key, store.FetchTLS, func(s *store.FetchSource) { s.Password = "Wr0ng-pa55-" + proto })
		if _, err := e.run(src); err == nil {
			t.Fatalf("%s: a wrong password collected", proto)
		}
		st := e.status(src)
		if !strings.HasPrefix(st.LastError, "login failed: the server said") || st.Failures != 1 || st.LastAttempt.IsZero() {
			t.Errorf("%s: status %+v: want a login failure in words", proto, st.FetchStatus)
		}
		if strings.Contains(st.LastError, "Wr0ng-pa55") {
			t.Errorf("%s: the status shows the password: %q", proto, st.LastError)
		}
		if msg, err := e.f.Test(context.Background(), src); err == nil || !strings.Contains(err.Error(), "login failed") {
			t.Errorf("%s: test connection: %q, %v", proto, msg, err)
		}
	}
	e.wantLocal("INBOX")
	logged := e.local.Log.String()
	if !strings.Contains(logged, "collecting mail failed") {
		t.Error("the failures were not logged")
	}
	if strings.Contains(logged, "Wr0ng-pa55") {
		t.Error("the server logged a remote password")
	}
}

// TestOverQuota: a source whose account fills up stops with the reason
// in its status; nothing is lost (the rest stays on the remote, even
// with delete after fetching) and everything arrives once there is room.
func TestOverQuota(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.appendRemote("INBOX", message(1), message(2), message(3))
	scope := store.QuotaScope{AccountID: e.ann.ID}
	if err := e.local.Store.SetQuotaLimits(ctx, scope, store.QuotaLimits{Storage: store.Inherit, Messages: 2}); err != nil {
		t.Fatal(err)
	}
	src := e.source(store.FetchPOP3, "pop3s", store.FetchTLS, func(s *store.FetchSource) { s.Delete = true })
	n, err := e.run(src)
	if err == nil || n != 2 {
		t.Fatalf("over quota: %d collected, %v; want 2 and an error", n, err)
	}
	if st := e.status(src); !strings.Contains(st.LastError, "mailbox here is full") {
		t.Errorf("status error %q", st.LastError)
	}
	if n := e.remoteCount("INBOX"); n != 1 {
		t.Errorf("the remote holds %d messages, want the 1 not collected", n)
	}
	if err := e.local.Store.SetQuotaLimits(ctx, scope, store.QuotaLimits{Storage: store.Inherit, Messages: store.Unlimited}); err != nil {
		t.Fatal(err)
	}
	e.mustRun(src, 1)
	e.wantLocal("INBOX", 1, 2, 3)
	if st := e.status(src); st.LastError != "" || st.Fetched != 3 {
		t.Errorf("after room was made: %+v", st)
	}
}

// TestTestConnection: "test connection" logs in and counts, changing
// nothing.
func TestTestConnection(t *testing.T) {
	e := newEnv(t)
	e.appendRemote("INBOX", message(1), message(2))
	for _, proto := range []string{store.FetchPOP3, store.FetchIMAP} {
		key := map[string]string{store.FetchPOP3: "pop3", store.FetchIMAP: "imap"}[proto]
		src := store.FetchSource{AccountID: e.ann.ID, Protocol: proto, Host: "localhost", Port: port(t, e.remote.Addr(key)),
			Security: store.FetchSTARTTLS, Username: remoteUser, Password: testrig.Password}
		msg, err := e.f.Test(context.Background(), src)
		if err != nil || !strings.Contains(msg, "holds 2 messages") {
			t.Errorf("%s: %q, %v", proto, msg, err)
		}
	}
	e.wantLocal("INBOX")
	if _, err := e.f.Test(context.Background(), store.FetchSource{AccountID: e.ann.ID, Protocol: store.FetchIMAP, Host: "localhost",
		Port: port(t, e.remote.Addr("imaps")), Security: store.FetchTLS, Username: remoteUser, Password: testrig.Password,
		Folder: "No such folder"}); err == nil || !strings.Contains(err.Error(), "No such folder") {
		t.Errorf("a missing folder: %v", err)
	}
}

// TestFiltersAndTrust: mail collected into INBOX passes the account's
// Sieve script like any delivery; a remote whose certificate is not
// trusted is refused, in words.
func TestFiltersAndTrust(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	script := "require \"fileinto\";\nif header :contains \"subject\" \"message 2\" { fileinto \"Archive\"; }\n"
	if err := e.local.Store.PutSieveScript(ctx, e.ann.ID, "rules", script); err != nil {
		t.Fatal(err)
	}
	if err := e.local.Store.SetActiveSieveScript(ctx, e.ann.ID, "rules"); err != nil {
		t.Fatal(err)
	}
	e.appendRemote("INBOX", message(1), message(2))
	src := e.source(store.FetchIMAP, "imaps", store.FetchTLS, nil)
	e.mustRun(src, 2)
	e.wantLocal("INBOX", 1)
	e.wantLocal("Archive", 2)

	deps := e.local.Server.Deps()
	distrust := mailfetch.New(mailfetch.Config{Store: e.local.Store, Deliver: deps.Delivery, Mailboxes: deps.Mailboxes,
		RootCAs: x509.NewCertPool(), Timeout: 10 * time.Second})
	if _, err := distrust.RunSource(ctx, e.ann, src.ID); err == nil {
		t.Fatal("collected from a server with an untrusted certificate")
	}
	if st := e.status(src); !strings.Contains(st.LastError, "the certificate of localhost cannot be trusted") {
		t.Errorf("status error %q", st.LastError)
	}
}

// TestIMAPTooBigAndNewFolder: a message over the size limit stays on the
// remote, said so in the status, and the cursor passes it; a folder
// recreated (a new UIDVALIDITY) is collected from its start again, so
// its new mail is not missed although its UIDs restart below the old
// cursor.
func TestIMAPTooBigAndNewFolder(t *testing.T) {
	e := newEnv(t)
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 70000) // over the fetcher's 1 MiB
	e.appendRemote("Archive", message(1), big, message(2))
	src := e.source(store.FetchIMAP, "imaps", store.FetchTLS, func(s *store.FetchSource) { s.Folder = "Archive" })
	e.mustRun(src, 2)
	e.wantLocal("INBOX", 1, 2)
	if st := e.status(src); !strings.Contains(st.LastError, "1 messages are larger than this server accepts") {
		t.Errorf("status %q", st.LastError)
	}
	e.mustRun(src, 0)
	if n := e.remoteCount("Archive"); n != 3 {
		t.Errorf("the remote Archive holds %d messages, want 3", n)
	}

	c, err := imapclient.DialTLS(e.remote.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(remoteUser, testrig.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	c.Close()
	e.appendRemote("Archive", message(3))
	before := e.status(src).UIDValidity
	e.mustRun(src, 1)
	if after := e.status(src).UIDValidity; after == before {
		t.Errorf("UIDVALIDITY stayed %d across the folder's recreation", after)
	}
	e.wantLocal("INBOX", 1, 2, 3)
}
