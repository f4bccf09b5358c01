package pop3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

func TestCapaAndTLSRules(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	c := r.dial(r.Addr("pop3"), false)
	c.cmd("CAPA", "+OK")
	capa := c.multi()
	for _, want := range []string{"TOP\r\n", "UIDL\r\n", "RESP-CODES\r\n", "AUTH-RESP-CODE\r\n", "PIPELINING\r\n", "STLS\r\n", "IMPLEMENTATION Mailroom\r\n"} {
		if !strings.Contains(capa, want) {
			t.Errorf("CAPA before STLS lacks %q:\n%s", want, capa)
		}
	}
	if strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") {
		t.Errorf("CAPA offers passwords before TLS:\n%s", capa)
	}
	c.cmd("USER ann@example.test", "-ERR [AUTH]")
	c.cmd("PASS "+password, "-ERR [AUTH]")
	c.cmd("AUTH PLAIN", "-ERR [AUTH]")
	c.cmd("STAT", "-ERR")
	c.cmd("STLS", "+OK")
	c.StartTLS()
	c.cmd("CAPA", "+OK")
	capa = c.multi()
	if strings.Contains(capa, "STLS") || !strings.Contains(capa, "USER\r\n") || !strings.Contains(capa, "SASL PLAIN LOGIN SCRAM-SHA-256\r\n") {
		t.Fatalf("CAPA after STLS:\n%s", capa)
	}
	c.cmd("STLS", "-ERR")
	c.cmd("PASS x", "-ERR") // PASS without USER
	c.cmd("USER ann@example.test", "+OK")
	c.cmd("PASS wrong", "-ERR [AUTH]")
	c.cmd("USER ann@example.test", "+OK")
	c.cmd("PASS "+password, "+OK maildrop has 0 messages")
	c.cmd("USER x", "-ERR")
	c.cmd("FROB", "-ERR")
	c.cmd("NOOP", "+OK")
	c.cmd("QUIT", "+OK")
	if !c.Closed() {
		t.Fatal("not closed after QUIT")
	}
	// Implicit TLS: USER offered at once.
	s := r.dial(r.Addr("pop3s"), true)
	s.cmd("CAPA", "+OK")
	if capa := s.multi(); !strings.Contains(capa, "USER\r\n") || strings.Contains(capa, "STLS") {
		t.Fatalf("CAPA on pop3s:\n%s", capa)
	}
}

func TestTransactionCommands(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	m1 := message("one", "first body\r\n")
	m2 := message("dots", ".leading dot\r\n..two dots\r\nline\r\n.\r\nafter a lone dot\r\n")
	m3 := message("no final newline", "line one\r\nline two")
	for _, m := range []string{m1, m2, m3} {
		r.Deliver(acct, m)
	}
	c := r.login("ann@example.test")
	total := len(m1) + len(m2) + len(m3)
	if got := c.cmd("STAT", "+OK"); got != fmt.Sprintf("+OK 3 %d", total) {
		t.Fatalf("STAT %q", got)
	}
	c.cmd("LIST", "+OK")
	if got := c.multi(); got != fmt.Sprintf("1 %d\r\n2 %d\r\n3 %d\r\n", len(m1), len(m2), len(m3)) {
		t.Fatalf("LIST %q", got)
	}
	if got := c.cmd("LIST 2", "+OK"); got != fmt.Sprintf("+OK 2 %d", len(m2)) {
		t.Fatalf("LIST 2 %q", got)
	}
	c.cmd("LIST 4", "-ERR")
	c.cmd("LIST x", "-ERR")
	c.cmd("UIDL", "+OK")
	uidls := strings.Fields(c.multi())
	if len(uidls) != 6 {
		t.Fatalf("UIDL listing %v", uidls)
	}
	if got := c.cmd("UIDL 3", "+OK"); got != "+OK 3 "+uidls[5] {
		t.Fatalf("UIDL 3 %q", got)
	}
	// RETR: exact octets; byte-stuffing undone by the client gives the message back.
	for i, m := range []string{m1, m2} {
		if got := c.cmd(fmt.Sprintf("RETR %d", i+1), "+OK"); got != fmt.Sprintf("+OK %d octets", len(m)) {
			t.Fatalf("RETR reply %q", got)
		}
		if body := c.multi(); body != m {
			t.Fatalf("RETR %d:\n%q\nwant\n%q", i+1, body, m)
		}
	}
	c.cmd("RETR 3", "+OK")
	if body := c.multi(); body != m3+"\r\n" {
		t.Fatalf("RETR of a message without final CRLF: %q", body)
	}
	// TOP n 0, TOP n 1, TOP beyond the body.
	c.cmd("TOP 2 0", "+OK")
	if got := c.multi(); got != "From: a@remote.example\r\nTo: ann@example.test\r\nSubject: dots\r\n\r\n" {
		t.Fatalf("TOP 2 0 %q", got)
	}
	c.cmd("TOP 2 1", "+OK")
	if got := c.multi(); !strings.HasSuffix(got, "\r\n\r\n.leading dot\r\n") {
		t.Fatalf("TOP 2 1 %q", got)
	}
	c.cmd("TOP 2 100", "+OK")
	if got := c.multi(); got != m2 {
		t.Fatalf("TOP beyond the body %q", got)
	}
	c.cmd("TOP 2", "-ERR")
	c.cmd("TOP 2 -1", "-ERR")
	// DELE, RSET.
	c.cmd("DELE 1", "+OK")
	c.cmd("DELE 1", "-ERR")
	c.cmd("RETR 1", "-ERR")
	c.cmd("LIST", "+OK")
	if got := c.multi(); strings.HasPrefix(got, "1 ") {
		t.Fatalf("deleted message listed: %q", got)
	}
	if got := c.cmd("STAT", "+OK"); got != fmt.Sprintf("+OK 2 %d", len(m2)+len(m3)) {
		t.Fatalf("STAT after DELE %q", got)
	}
	c.cmd("RSET", "+OK maildrop has 3 messages")
	c.cmd("DELE 3", "+OK")
	c.cmd("QUIT", "+OK")
	// Committed: message 3 expunged (default mode), 1 and 2 retrieved -> \Seen.
	list := r.Messages(acct, "INBOX")
	if len(list) != 2 || list[0].Flags&store.FlagSeen == 0 || list[1].Flags&store.FlagSeen == 0 {
		t.Fatalf("after QUIT: %+v", list)
	}
}

func TestPipelining(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("p", "x\r\n"))
	c := r.dial(r.Addr("pop3s"), true)
	c.Send("USER ann@example.test\r\nPASS " + password + "\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nQUIT")
	c.Expect("+OK")
	c.Expect("+OK maildrop")
	c.Expect("+OK 1 ")
	c.Expect("+OK")
	c.multi()
	c.Expect("+OK 1 ")
	c.Expect("+OK")
	if got := c.multi(); got != message("p", "x\r\n") {
		t.Fatalf("pipelined RETR %q", got)
	}
	c.Expect("+OK")
	c.Expect("+OK")
}

func TestSASL(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	c := r.dial(r.Addr("pop3s"), true)
	c.cmd("AUTH", "+OK")
	if got := c.multi(); got != "PLAIN\r\nLOGIN\r\nSCRAM-SHA-256\r\n" {
		t.Fatalf("AUTH list %q", got)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00ann@example.test\x00wrong"))
	c.cmd("AUTH PLAIN "+ir, "-ERR [AUTH]")
	c.cmd("AUTH PLAIN", "+ ")
	c.cmd("*", "-ERR")
	c.cmd("AUTH BOGUS", "-ERR")

	// SCRAM-SHA-256 with the client checking the server's proof.
	cl, _ := scram.SHA256.NewClient("ann@example.test", password, "")
	conv := cl.NewConversation()
	first, _ := conv.Step("")
	ch := c.cmd("AUTH SCRAM-SHA-256 "+base64.StdEncoding.EncodeToString([]byte(first)), "+ ")
	serverFirst, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ch, "+ "))
	final, err := conv.Step(string(serverFirst))
	if err != nil {
		t.Fatal(err)
	}
	ch = c.cmd(base64.StdEncoding.EncodeToString([]byte(final)), "+ ")
	serverFinal, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ch, "+ "))
	if _, err := conv.Step(string(serverFinal)); err != nil || !conv.Valid() {
		t.Fatalf("server proof: %v", err)
	}
	c.cmd("", "+OK maildrop")
}

func TestDroppedConnectionCommitsNothing(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("keep me", "x\r\n"))
	c := r.login("ann@example.test")
	c.cmd("RETR 1", "+OK")
	c.multi()
	c.cmd("DELE 1", "+OK")
	c.Conn.Close() // no QUIT
	waitUnlocked(t, r, "ann@example.test")
	list := r.Messages(acct, "INBOX")
	if len(list) != 1 || list[0].Flags&store.FlagSeen != 0 {
		t.Fatalf("a dropped session changed the mailbox: %+v", list)
	}
}

// waitUnlocked waits until the account's maildrop lock is free again (the
// server notices the dropped connection asynchronously).
func waitUnlocked(t *testing.T, r *rig, email string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := r.dial(r.Addr("pop3s"), true)
		c.Send("USER " + email)
		c.Expect("+OK")
		c.Send("PASS " + password)
		if strings.HasPrefix(c.Line(), "+OK") {
			c.cmd("QUIT", "+OK")
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("maildrop still locked")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeleteModes(t *testing.T) {
	for _, mode := range []string{"expunge", "trash", "keep"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, nil)
			acct := r.Account("ann@example.test", "pop3.delete_mode", mode)
			r.Deliver(acct, message("a", "x\r\n"))
			r.Deliver(acct, message("b", "y\r\n"))
			c := r.login("ann@example.test")
			c.cmd("CAPA", "+OK")
			if capa := c.multi(); strings.Contains(capa, "EXPIRE NEVER") != (mode == "keep") {
				t.Fatalf("mode %s: CAPA %q", mode, capa)
			}
			c.cmd("UIDL 2", "+OK")
			c.cmd("DELE 1", "+OK")
			c.cmd("QUIT", "+OK")

			inbox, trash := r.Messages(acct, "INBOX"), r.Messages(acct, "Trash")
			switch mode {
			case "expunge":
				if len(inbox) != 1 || len(trash) != 0 {
					t.Fatalf("expunge: inbox %d trash %d", len(inbox), len(trash))
				}
			case "trash":
				if len(inbox) != 1 || len(trash) != 1 {
					t.Fatalf("trash: inbox %d trash %d", len(inbox), len(trash))
				}
			case "keep":
				if len(inbox) != 2 || len(trash) != 0 {
					t.Fatalf("keep: inbox %d trash %d", len(inbox), len(trash))
				}
			}
			// POP3 never lists the deleted message again, in every mode.
			c = r.login("ann@example.test")
			if got := c.cmd("STAT", "+OK"); !strings.HasPrefix(got, "+OK 1 ") {
				t.Fatalf("mode %s: next session STAT %q", mode, got)
			}
			c.cmd("QUIT", "+OK")
		})
	}
}

// TestUIDLStable: the same message keeps its UIDL across restarts and
// across a move out of INBOX and back (as IMAP would do it).
func TestUIDLStable(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	d := r.Deliver(acct, message("stable", "x\r\n"))
	r.Deliver(acct, message("other", "y\r\n"))
	uidl := func() string {
		c := r.login("ann@example.test")
		defer c.cmd("QUIT", "+OK")
		c.cmd("UIDL", "+OK")
		return c.multi()
	}
	before := uidl()
	r.Restart()
	if after := uidl(); after != before {
		t.Fatalf("UIDL changed across restart:\n%s\n%s", before, after)
	}
	ctx := context.Background()
	inbox, archive := r.Mailbox(acct, "INBOX"), r.Mailbox(acct, "Archive")
	mv, err := r.Store.Move(ctx, inbox.ID, []uint32{d.UID}, archive.ID, store.KeepAll)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.Move(ctx, archive.ID, mv.DestUIDs, inbox.ID, store.KeepAll); err != nil {
		t.Fatal(err)
	}
	after := uidl()
	want := strings.Fields(before)
	got := strings.Fields(after)
	// The moved message is now second (a new IMAP UID), with its old UIDL.
	if len(got) != 4 || got[3] != want[1] || got[1] != want[3] {
		t.Fatalf("UIDL after moving out and back:\n%s\nwas\n%s", after, before)
	}
}

func TestInUse(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("a", "x\r\n"))
	first := r.login("ann@example.test")
	second := r.dial(r.Addr("pop3s"), true)
	second.cmd("USER ann@example.test", "+OK")
	second.cmd("PASS "+password, "-ERR [IN-USE]")
	// IMAP and the web keep working meanwhile, and see the commit at QUIT.
	sub := r.Store.Subscribe(acct.ID)
	defer sub.Close()
	first.cmd("DELE 1", "+OK")
	first.cmd("QUIT", "+OK")
	select {
	case <-sub.Ready():
		if ev, _, _ := sub.Next(); len(ev) == 0 || ev[0].Kind != store.EventExpunged {
			t.Fatalf("events %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("POP3 commit not published")
	}
	second.cmd("USER ann@example.test", "+OK")
	second.cmd("PASS "+password, "+OK maildrop has 0 messages")
}

func TestSettings(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test", "pop3.enabled", "false")
	c := r.dial(r.Addr("pop3s"), true)
	c.cmd("USER ann@example.test", "+OK")
	if got := c.cmd("PASS "+password, "-ERR [AUTH]"); !strings.Contains(got, "switched off") {
		t.Fatalf("disabled POP3: %q", got)
	}
	// mark_seen off: RETR does not mark read.
	r.SetSettings(acct, "pop3.enabled", "true", "pop3.mark_seen", "false")
	old := time.Now().Add(-time.Hour)
	r.DeliverInto(store.Target{MailboxID: r.Mailbox(acct, "INBOX").ID, InternalDate: old}, message("unread", "x\r\n"))
	c = r.login("ann@example.test")
	c.cmd("RETR 1", "+OK")
	c.multi()
	c.cmd("QUIT", "+OK")
	if list := r.Messages(acct, "INBOX"); list[0].Flags&store.FlagSeen != 0 {
		t.Fatal("mark_seen=false still marked the message seen")
	}
	// scope since-enabled: switching POP3 off and on again hides older mail.
	r.DeliverInto(store.Target{MailboxID: r.Mailbox(acct, "INBOX").ID, InternalDate: old}, message("old", "x\r\n"))
	r.SetSettings(acct, "pop3.enabled", "false")
	r.SetSettings(acct, "pop3.enabled", "true", "pop3.scope", "since-enabled")
	d := r.Deliver(acct, message("new", "x\r\n"))
	// Mail of the very second POP3 was enabled counts as after it.
	c = r.login("ann@example.test")
	if got := c.cmd("STAT", "+OK"); !strings.HasPrefix(got, "+OK 1 ") {
		t.Fatalf("since-enabled STAT %q (want only the new message)", got)
	}
	c.cmd("UIDL 1", "+OK 1 "+strconv.FormatInt(acct.ID, 10)+"."+strconv.FormatInt(d.ID, 10))
	c.cmd("QUIT", "+OK")
}

// TestMessageExpungedMeanwhile: a message expunged by IMAP after the POP3
// snapshot answers -ERR, and the session goes on.
func TestMessageExpungedMeanwhile(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	d := r.Deliver(acct, message("gone", "x\r\n"))
	r.Deliver(acct, message("stays", "y\r\n"))
	c := r.login("ann@example.test")
	if _, err := r.Store.Expunge(context.Background(), r.Mailbox(acct, "INBOX").ID, []uint32{d.UID}); err != nil {
		t.Fatal(err)
	}
	c.cmd("STAT", "+OK 2 ") // the snapshot is fixed
	c.cmd("RETR 1", "-ERR")
	c.cmd("TOP 1 0", "-ERR")
	c.cmd("RETR 2", "+OK")
	c.multi()
	c.cmd("DELE 1", "+OK")
	c.cmd("QUIT", "+OK")
	if list := r.Messages(acct, "INBOX"); len(list) != 1 {
		t.Fatalf("%d messages left", len(list))
	}
}

func TestLargeMessageStreams(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	line := strings.Repeat("0123456789", 7) + "\r\n"
	var b strings.Builder
	b.WriteString(message("big", ""))
	for b.Len() < 20<<20 {
		b.WriteString(line)
		b.WriteString(".dot line\r\n")
	}
	big := b.String()
	r.Deliver(acct, big)
	c := r.login("ann@example.test")
	if got := c.cmd("LIST 1", "+OK"); got != fmt.Sprintf("+OK 1 %d", len(big)) {
		t.Fatalf("LIST %q", got)
	}
	c.cmd("RETR 1", "+OK")
	if got := c.multi(); got != big {
		t.Fatalf("20 MB message came back as %d bytes", len(got))
	}
	c.cmd("QUIT", "+OK")
}

func TestLineTooLongAndIdle(t *testing.T) {
	r := newRig(t, nil)
	c := r.dial(r.Addr("pop3"), false)
	c.Send(strings.Repeat("A", 20000))
	c.Expect("-ERR line too long")
	if !c.Closed() {
		t.Fatal("not closed after an oversized line")
	}
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("a", "x\r\n"))
	c := r.login("ann@example.test")
	c.cmd("DELE 1", "+OK")
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Shutdown(ctx)
		close(done)
	}()
	c.Expect("-ERR [SYS/TEMP]")
	<-done
	// Restart on the same data: nothing was deleted.
	r.Restart()
	if n := len(r.Messages(acct, "INBOX")); n != 1 {
		t.Fatalf("%d messages after shutdown, want 1", n)
	}
}

func TestAPOP(t *testing.T) {
	// Off by default: no timestamp, command refused.
	r := newRig(t, nil)
	c := r.dial(r.Addr("pop3s"), true)
	c.cmd("APOP ann@example.test 0123456789abcdef0123456789abcdef", "-ERR")

	r = newRig(t, func(c *config.Config) { c.POP3.APOP = true })
	cred, _ := auth.HashPassword(password, testrig.HashParams())
	cred.APOP = password
	if _, err := r.Store.CreateAccount(context.Background(), "ann@example.test", cred); err != nil {
		t.Fatal(err)
	}
	r.Account("bob@example.test") // password set without APOP: no secret
	apop := func(user, secret string) (string, string) {
		cl := &client{testrig.Dial(t, r.Addr("pop3s"), true)}
		defer cl.Conn.Close()
		greeting := cl.Expect("+OK")
		ts := greeting[strings.Index(greeting, "<"):]
		sum := md5.Sum([]byte(ts + secret))
		return cl.cmd("APOP "+user+" "+hex.EncodeToString(sum[:]), ""), ts
	}
	if got, ts := apop("ann@example.test", password); !strings.HasPrefix(got, "+OK maildrop") || !strings.HasSuffix(ts, "@mail.example.test>") {
		t.Fatalf("APOP with the right secret: %q (timestamp %q)", got, ts)
	}
	if got, _ := apop("ann@example.test", "wrong"); !strings.HasPrefix(got, "-ERR [AUTH]") {
		t.Fatalf("APOP with a wrong secret: %q", got)
	}
	if got, _ := apop("bob@example.test", password); !strings.HasPrefix(got, "-ERR [AUTH]") {
		t.Fatalf("APOP for an account without a stored secret: %q", got)
	}
	if got, _ := apop("ghost@example.test", password); !strings.HasPrefix(got, "-ERR [AUTH]") {
		t.Fatalf("APOP for an unknown account: %q", got)
	}
}
