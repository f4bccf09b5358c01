package smtp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/store"
)

func msg(subject string) string {
	return "From: Sender <sender@remote.example>\r\nTo: someone\r\nSubject: " + subject + "\r\n\r\nHello " + subject + "\r\n"
}

func TestDeliverToAccountWithTraceHeaders(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	ctx := context.Background()
	inbox, _ := r.Store.Mailbox(ctx, acct.ID, "INBOX")
	sub := r.Store.Subscribe(acct.ID)
	defer sub.Close()

	c := r.dial(r.Addr("smtp"))
	if err := send(c, "sender@remote.example", []string{"Ann@Example.test"}, msg("one")); err != nil {
		t.Fatal(err)
	}
	got := r.Bodies("ann@example.test", "INBOX")
	if len(got) != 1 {
		t.Fatalf("%d messages in INBOX", len(got))
	}
	m := got[0]
	for _, want := range []string{
		"Return-Path: <sender@remote.example>\r\nDelivered-To: ann@example.test\r\nReceived: from client.example.org ([127.0.0.1])\r\n\tby mx.example.test (Mailroom) with ESMTP id ",
		"\r\n\tfor <ann@example.test>; ",
		"\r\nFrom: Sender <sender@remote.example>\r\n", "\r\n\r\nHello one\r\n",
	} {
		if !strings.Contains(m, want) {
			t.Fatalf("stored message lacks %q:\n%s", want, m)
		}
	}
	// The change feed told subscribers at once.
	select {
	case <-sub.Ready():
		ev, _, _ := sub.Next()
		if len(ev) == 0 || ev[0].Kind != store.EventMessageAdded || ev[0].MailboxID != inbox.ID {
			t.Fatalf("feed events %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change event for the delivered message")
	}
}

func TestAliasPlusPostmasterCatchAll(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	r.Account("boss@other.test", "admin", "true")
	if err := r.Store.AddAlias(ctx, "team@example.test", []string{"ann@example.test", "bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Store.AddAlias(ctx, "everyone@example.test", []string{"team@example.test", "ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	c := r.dial(r.Addr("smtp"))
	// An alias to two accounts, and an alias of an alias that names ann
	// twice: each account gets exactly one copy per message.
	if err := send(c, "x@remote.example", []string{"team@example.test"}, msg("team")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "x@remote.example", []string{"everyone@example.test", "ann@example.test"}, msg("everyone")); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 2 {
		t.Fatalf("ann has %d messages, want 2", n)
	}
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 2 {
		t.Fatalf("bob has %d messages, want 2", n)
	}
	// Plus-addressing.
	if err := send(c, "x@remote.example", []string{"bob+lists@example.test"}, msg("plus")); err != nil {
		t.Fatal(err)
	}
	if got := r.Bodies("bob@example.test", "INBOX"); len(got) != 3 || !strings.Contains(got[2], "Delivered-To: bob@example.test") {
		t.Fatalf("plus-addressed mail: %d messages", len(got))
	}
	// postmaster@ any local domain reaches the admin. (A bare <postmaster>
	// without domain never reaches us: go-smtp's path parser refuses it
	// with 501; see docs/operations.md.)
	if err := send(c, "x@remote.example", []string{"postmaster@example.test"}, msg("pm1")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "x@remote.example", []string{"POSTMASTER@other.test"}, msg("pm2")); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Bodies("boss@other.test", "INBOX")); n != 2 {
		t.Fatalf("admin got %d postmaster messages, want 2", n)
	}
	// Unknown user, then a catch-all.
	err := send(c, "x@remote.example", []string{"nobody@example.test"}, msg("lost"))
	wantCode(t, err, 550, "5.1.1")
	c.Reset()
	if err := r.Store.AddAlias(ctx, "@example.test", []string{"ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "x@remote.example", []string{"nobody@example.test"}, msg("caught")); err != nil {
		t.Fatal(err)
	}
	if got := r.Bodies("ann@example.test", "INBOX"); len(got) != 3 || !strings.Contains(got[2], "Hello caught") {
		t.Fatalf("catch-all: ann has %d messages", len(got))
	}
}

func TestNeverAnOpenRelay(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	ctx := context.Background()
	if err := r.Store.AddAlias(ctx, "fwd@example.test", []string{"friend@remote.example"}); err != nil {
		t.Fatal(err)
	}
	c := r.dial(r.Addr("smtp"))
	err := send(c, "x@remote.example", []string{"victim@remote.example"}, msg("spam"))
	wantCode(t, err, 554, "5.7.1")
	c.Reset()
	// Tricks that must not relay either.
	for _, rcpt := range []string{"victim@remote.example@example.test", "\"victim@remote.example\"@example.test", "victim%remote.example@example.test"} {
		if err := c.Mail("x@remote.example", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(rcpt, nil); err == nil {
			t.Fatalf("RCPT %s accepted", rcpt)
		}
		c.Reset()
	}
	// An alias to an external address is ours to forward: the message
	// goes to the outbound queue (not an open relay: the alias is local).
	if err := send(c, "x@remote.example", []string{"fwd@example.test"}, msg("fwd")); err != nil {
		t.Fatalf("mail to an alias forwarding elsewhere: %v", err)
	}
	if q, err := r.Store.QueuedMessages(context.Background()); err != nil || len(q) != 1 || q[0].Recipients[0].Domain != "remote.example" {
		t.Fatalf("forwarded copy not queued: %+v, %v", q, err)
	}
	c.Reset()
	// Submission without AUTH: MAIL is refused.
	s := r.dial(r.Addr("submission"))
	wantCode(t, s.Mail("ann@example.test", nil), 530, "5.7.0")
}

func TestSizeLimitWhileStreaming(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxMessageSize = 10 << 10 })
	r.Account("ann@example.test")
	c := r.dial(r.Addr("smtp"))
	if ok, v := c.Extension("SIZE"); !ok || v != "10240" {
		t.Fatalf("SIZE extension %v %q", ok, v)
	}
	// Declared too big: refused at MAIL.
	wantCode(t, c.Mail("x@remote.example", &gosmtp.MailOptions{Size: 20 << 10}), 552, "5.3.4")
	c.Reset()
	// Undeclared: refused while streaming, nothing stored.
	big := msg("big") + strings.Repeat("0123456789012345678901234567890123456789\r\n", 600)
	err := send(c, "x@remote.example", []string{"ann@example.test"}, big)
	wantCode(t, err, 552, "5.3.4")
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 0 {
		t.Fatalf("%d messages stored after the size limit", n)
	}
	// The session goes on.
	c.Reset()
	if err := send(c, "x@remote.example", []string{"ann@example.test"}, msg("small")); err != nil {
		t.Fatal(err)
	}
}

func TestPipeliningAndBDAT(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO client.example.org\r\n")
	ehlo := x.expect("250")
	_ = ehlo
	// Everything in one write: the server must answer each in order.
	x.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
	x.expect("250")
	x.expect("250")
	x.expect("550 5.1.1")
	x.expect("250")
	x.expect("354")
	x.send("Subject: pipelined\r\n\r\nbody\r\n.\r\n")
	x.expect("250")
	// CHUNKING (RFC 3030): two chunks, no dot-stuffing.
	part1 := "Subject: chunked\r\n\r\n"
	part2 := ".leading dot kept\r\n"
	x.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.test>\r\n")
	x.expect("250")
	x.expect("250")
	x.send(fmt.Sprintf("BDAT %d\r\n%s", len(part1), part1))
	x.expect("250")
	x.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(part2), part2))
	x.expect("250")
	x.send("QUIT\r\n")
	x.expect("221")

	if got := r.Bodies("ann@example.test", "INBOX"); len(got) != 1 || !strings.HasSuffix(got[0], "Subject: pipelined\r\n\r\nbody\r\n") {
		t.Fatalf("pipelined: %q", got)
	}
	got := r.Bodies("bob@example.test", "INBOX")
	if len(got) != 2 || !strings.HasSuffix(got[1], "Subject: chunked\r\n\r\n.leading dot kept\r\n") {
		t.Fatalf("BDAT: %q", got)
	}
}

func TestSMTPUTF8(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("jürgen@example.test")
	c := r.dial(r.Addr("smtp"))
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		t.Fatal("SMTPUTF8 not advertised")
	}
	if err := c.Mail("用户@例子.example", &gosmtp.MailOptions{UTF8: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("Jürgen@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "From: 用户 <用户@例子.example>\r\nSubject: Grüße aus 北京\r\n\r\nUTF-8 body ✓\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := r.Bodies("jürgen@example.test", "INBOX")
	if len(got) != 1 || !strings.Contains(got[0], "with UTF8SMTP id") || !strings.Contains(got[0], "Return-Path: <用户@例子.example>") {
		t.Fatalf("stored %q", got)
	}
	ctx := context.Background()
	inbox, _ := r.Store.Mailbox(ctx, acct.ID, "INBOX")
	s, err := r.Store.Structure(ctx, inbox.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Envelope.DecodedSubject != "Grüße aus 北京" {
		t.Fatalf("envelope subject %q", s.Root.Envelope.DecodedSubject)
	}
}

// TestSmugglingRefused: bare LF and bare CR line ends are refused, so no
// "second message" hidden behind \n.\n or \r.\r is ever delivered.
func TestSmugglingRefused(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	for _, smuggle := range []string{"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n"} {
		x := r.raw(r.Addr("smtp"))
		x.send("EHLO attacker.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
		x.expect("250")
		x.expect("250")
		x.expect("250")
		x.expect("354")
		x.send("Subject: first\r\n\r\nhello" + smuggle + "MAIL FROM:<admin@example.test>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
		x.expect("550 5.6.0")
		// The session is in sync again: a clean message goes through.
		x.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
		x.expect("250")
		x.expect("250")
		x.expect("354")
		x.send("Subject: clean\r\n\r\nok\r\n.\r\n")
		x.expect("250")
	}
	for _, m := range r.Bodies("ann@example.test", "INBOX") {
		if strings.Contains(m, "smuggled") || strings.Contains(m, "Subject: first") {
			t.Fatalf("smuggled content stored:\n%s", m)
		}
	}
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 4 {
		t.Fatalf("%d messages stored, want the 4 clean ones", n)
	}
}

func TestOversizedCommandLine(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxLineLength = 1000 })
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO " + strings.Repeat("a", 5000) + "\r\n")
	x.expect("500 5.4.0")
	if !x.closed() {
		t.Fatal("connection still open after an oversized line")
	}
}

// TestStalledDataDropped: a client that stops sending mid-DATA is dropped
// at the data deadline and nothing is stored.
func TestStalledDataDropped(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.DataTimeout = config.Duration(time.Second) })
	r.Account("ann@example.test")
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO slow.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
	x.expect("250")
	x.expect("250")
	x.expect("250")
	x.expect("354")
	x.send("Subject: never finished\r\n\r\npart of a body\r\n")
	start := time.Now()
	x.expect("421")
	if !x.closed() {
		t.Fatal("stalled client not disconnected")
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("dropped after %v", waited)
	}
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 0 {
		t.Fatalf("%d messages stored from a stalled transfer", n)
	}
}

func TestLimitsRecipientsAndErrors(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxRecipients = 3; c.SMTP.MaxErrors = 4 })
	r.Account("ann@example.test")
	c := r.dial(r.Addr("smtp"))
	if err := c.Mail("x@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := c.Rcpt("ann@example.test", nil); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, c.Rcpt("ann@example.test", nil), 452, "4.5.3")
	c.Reset()

	x := r.raw(r.Addr("smtp"))
	x.send("EHLO guesser.example\r\nMAIL FROM:<a@remote.example>\r\n")
	x.expect("250")
	x.expect("250")
	for i := 0; i < 3; i++ {
		x.send(fmt.Sprintf("RCPT TO:<guess%d@example.test>\r\n", i))
		x.expect("550 5.1.1")
	}
	x.send("RCPT TO:<guess9@example.test>\r\n")
	x.expect("421 4.7.0")
	if !x.closed() {
		t.Fatal("not disconnected after too many errors")
	}
}

func TestConnectionLimits(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.MaxConnectionsPerIP = 2 })
	a, b := r.raw(r.Addr("smtp")), r.raw(r.Addr("smtp"))
	third := r.rawNoGreeting(r.Addr("smtp"))
	if line := third.reply(); !strings.HasPrefix(line, "421 4.7.0") {
		t.Fatalf("third connection got %q", line)
	}
	// Closing one frees its slot.
	a.send("QUIT\r\n")
	a.expect("221")
	a.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		x := r.rawNoGreeting(r.Addr("smtp"))
		if strings.HasPrefix(x.reply(), "220") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not freed after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = b
}

// TestDSNParametersAccepted: RET/ENVID on MAIL and NOTIFY/ORCPT on RCPT
// (RFC 3461) are accepted and kept for the outbound queue's notifications.
func TestDSNParametersAccepted(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	x := r.raw(r.Addr("smtp"))
	x.send("EHLO client.example\r\n")
	x.expect("250")
	x.send("MAIL FROM:<a@remote.example> RET=HDRS ENVID=QQ314159\r\n")
	x.expect("250")
	x.send("RCPT TO:<ann@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;ann@example.test\r\n")
	x.expect("250")
	x.send("DATA\r\n")
	x.expect("354")
	x.send("Subject: dsn\r\n\r\nx\r\n.\r\n")
	x.expect("250")
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.IdleTimeout = config.Duration(500 * time.Millisecond) })
	x := r.raw(r.Addr("smtp"))
	x.expect("421 4.4.2")
	if !x.closed() {
		t.Fatal("idle connection not closed")
	}
}

// TestStoreFailureIs451: when storing fails (here: the recipient's account
// was deleted between RCPT and DATA), the client gets 451 4.3.0 and no
// recipient has a copy.
func TestStoreFailureIs451(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	c := r.dial(r.Addr("smtp"))
	if err := c.Mail("x@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"ann@example.test", "bob@example.test"} {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Store.DeleteAccount(context.Background(), "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, msg("half"))
	wantCode(t, w.Close(), 451, "4.3.0")
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 0 {
		t.Fatalf("ann has %d messages after a failed delivery", n)
	}
}
