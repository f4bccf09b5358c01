package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

var fetchLine = regexp.MustCompile(`^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$`)

// imapView asks a session for every message's sequence number, UID, flags
// and modseq, as the session sees them now.
func (l *line) imapView(tag string) []string {
	l.T.Helper()
	var out []string
	for _, s := range l.imapCmd(tag, "FETCH 1:* (UID FLAGS MODSEQ)") {
		if m := fetchLine.FindStringSubmatch(s); m != nil {
			out = append(out, fmt.Sprintf("%s:%s:%s:%s", m[1], m[2], strings.TrimSpace(strings.ReplaceAll(m[3], `\Recent`, "")), m[4]))
		}
	}
	return out
}

// TestEveryClientSeesTheSameMailbox interleaves three IMAP sessions, POP3
// and SMTP delivery on one INBOX, and after every step checks that each
// IMAP session's sequence numbers, UIDs, flags and modseqs agree with the
// store.
func TestEveryClientSeesTheSameMailbox(t *testing.T) {
	r := start(t)
	st, acct, ctx := r.Store, r.acct, context.Background()
	inbox, _ := st.Mailbox(ctx, acct.ID, "INBOX")

	smtpSend := func(subject string) {
		t.Helper()
		c, err := gosmtp.Dial(r.Addr("smtp"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail("x@remote.example", []string{"ann@example.test"}, strings.NewReader("Subject: "+subject+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	sessions := make([]*line, 3)
	for i := range sessions {
		s := dial(t, r.Addr("imaps"))
		s.Line() // greeting
		s.imapCmd("l", "LOGIN ann@example.test \""+password+"\"")
		s.imapCmd("e", "ENABLE CONDSTORE")
		s.imapCmd("s", "SELECT INBOX")
		sessions[i] = s
	}
	check := func(step string) {
		t.Helper()
		// Let the change feed reach every session's index.
		deadline := time.Now().Add(5 * time.Second)
		for {
			list, err := st.MessageList(ctx, inbox.ID)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, m := range list {
				want = append(want, fmt.Sprintf("%d:%d:%s:%d", i+1, m.UID, strings.Join(append(m.Flags.Names(), m.Keywords...), " "), m.ModSeq))
			}
			ok := true
			var got [][]string
			for i, s := range sessions {
				s.imapCmd("n"+strconv.Itoa(i), "NOOP") // applies pending EXPUNGE/EXISTS
				v := s.imapView("v" + strconv.Itoa(i))
				got = append(got, v)
				if strings.Join(v, ",") != strings.Join(want, ",") {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: sessions %q, store %q", step, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	smtpSend("one")
	smtpSend("two")
	smtpSend("three")
	check("three SMTP deliveries")
	sessions[0].imapCmd("a", "STORE 2 +FLAGS (\\Flagged)")
	check("IMAP STORE")
	r.pop("RETR 1", "DELE 3")
	check("POP3 RETR 1 (mark seen) and DELE 3 (expunge)")
	sessions[1].imapCmd("b", "STORE 1 +FLAGS (\\Deleted)")
	sessions[1].imapCmd("c", "EXPUNGE")
	smtpSend("four")
	check("IMAP EXPUNGE and another delivery")
	sessions[2].imapCmd("d", "MOVE 1 Archive")
	sessions[0].imapCmd("f", "STORE 1 -FLAGS (\\Flagged)")
	check("IMAP MOVE and unflag")
	r.pop("DELE 1")
	smtpSend("five")
	check("POP3 DELE and a delivery")
}
