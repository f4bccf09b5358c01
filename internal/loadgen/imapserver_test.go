package loadgen

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/listener"
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
	st, accts, addrs := startMailroom(t, "mail.example.test", config.Listen{IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0"},
		map[string]listener.Factory{"imap": imap.Factory()}, users)
	ctx := context.Background()
	for u, acct := range accts {
		inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			m, err := st.Stage(ctx, strings.NewReader(testIMAPMessage(u+1, i)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &imapRig{st: st, plain: addrs["imap"], tls: addrs["imaps"]}
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
