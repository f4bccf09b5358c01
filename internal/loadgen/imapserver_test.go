package loadgen

import (
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/imap"
	"mailroom/internal/testrig"
)

// The IMAP tests run against the real Mailroom IMAP server, in process:
// a test IMAP server good enough to load would be a second implementation.

// imapRig is a Mailroom with IMAP on a STARTTLS (143-style) and an implicit
// TLS (993-style) listener on loopback, both with a self-signed certificate.
type imapRig struct {
	*testrig.Rig
	plain, tls string
}

// startIMAPRig starts the server with users user1..users (password
// testrig.Password), each with msgs messages in INBOX.
func startIMAPRig(t *testing.T, users, msgs int) *imapRig {
	t.Helper()
	r := testrig.Start(t, testrig.Factories{"imap": imap.Factory()})
	for u, acct := range addUsers(r, users) {
		for i := range msgs {
			r.Deliver(acct, testIMAPMessage(u+1, i))
		}
	}
	return &imapRig{Rig: r, plain: r.Addr("imap"), tls: r.Addr("imaps")}
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
