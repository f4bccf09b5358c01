package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

// The IMAP tests run against the real Mailroom IMAP server, in process:
// a test IMAP server good enough to load would be a second implementation.

// imapRig is a Mailroom with IMAP on a STARTTLS (143-style) and an implicit
// TLS (993-style) listener on loopback, both with a self-signed certificate.
type imapRig struct {
	plain, tls string
	st         store.Store
}

// startIMAPRig starts the server with users user1..users (password
// "secret"), each with msgs messages in INBOX.
func startIMAPRig(t *testing.T, users, msgs int) *imapRig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(context.Background(), cfg, logger, map[string]server.Factory{"imap": imap.Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	r := &imapRig{st: srv.Deps().Store}
	for _, l := range srv.Listening() {
		switch l.Key {
		case "imap":
			r.plain = l.Addr
		case "imaps":
			r.tls = l.Addr
		}
	}
	ctx := context.Background()
	if _, err := r.st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword("secret", auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for u := 1; u <= users; u++ {
		acct, err := r.st.CreateAccount(ctx, fmt.Sprintf("user%d@example.test", u), cred)
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := r.st.Mailbox(ctx, acct.ID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			m, err := r.st.Stage(ctx, strings.NewReader(testIMAPMessage(u, i)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// testIMAPMessage is message i of user u: some with a multipart body, one
// with a Subject that servers send as a literal (it has 8-bit octets).
func testIMAPMessage(u, i int) string {
	subject := fmt.Sprintf("message %d for user %d", i, u)
	if i == 1 {
		subject = "caf\xc3\xa9 \"quoted\" (parens)"
	}
	body := "Content-Type: text/plain\r\n\r\n" + strings.Repeat(fmt.Sprintf("line of message %d\r\n", i), 20+i*50)
	if i%3 == 2 {
		body = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n" +
			"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n", 100) + "--b--\r\n"
	}
	return fmt.Sprintf("From: sender%d@example.org\r\nTo: user%d@example.test\r\nSubject: %s\r\n"+
		"Date: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <%d.%d@example.org>\r\nMIME-Version: 1.0\r\n%s",
		i, u, subject, u, i, body)
}
