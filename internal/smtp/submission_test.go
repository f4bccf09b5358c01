package smtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/xdg-go/scram"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

func TestSubmissionStartTLSThenAuth(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.Account("bob@other.test")

	// Before TLS, AUTH is neither offered nor accepted.
	plain := r.dial(r.Addr("submission"))
	if ok, _ := plain.Extension("AUTH"); ok {
		t.Fatal("AUTH advertised before STARTTLS")
	}
	if ok, _ := plain.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	err := plain.Auth(gosasl.NewPlainClient("", "ann@example.test", password))
	if err == nil {
		t.Fatal("AUTH accepted over plaintext")
	}

	c := r.login("ann@example.test")
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "SCRAM-SHA-256") || !strings.Contains(mechs, "LOGIN") {
		t.Fatalf("AUTH mechanisms after TLS: %v %q", ok, mechs)
	}
	// Local recipient in another domain: delivered like inbound mail, with
	// the Message-ID and Date the client left out added.
	if err := send(c, "ann@example.test", []string{"bob@other.test"}, "From: Ann <ann@example.test>\r\nTo: bob@other.test\r\nSubject: hi\r\n\r\nhello bob\r\n"); err != nil {
		t.Fatal(err)
	}
	got := r.Bodies("bob@other.test", "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	for _, want := range []string{"with ESMTPSA id", "(using TLS 1.3 with cipher", "\r\nMessage-ID: <", "@mx.example.test>\r\n", "\r\nDate: ", "From: Ann <ann@example.test>"} {
		if !strings.Contains(got[0], want) {
			t.Fatalf("submitted message lacks %q:\n%s", want, got[0])
		}
	}
	// A message that has them keeps its own.
	if err := send(c, "ann@example.test", []string{"bob@other.test"}, "From: ann@example.test\r\nMessage-ID: <own@id>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	got = r.Bodies("bob@other.test", "INBOX")
	if strings.Count(got[1], "Message-ID:") != 1 || strings.Count(got[1], "Date:") != 1 || !strings.Contains(got[1], "<own@id>") {
		t.Fatalf("own Message-ID/Date not kept:\n%s", got[1])
	}
	// Remote recipients go to the outbound queue, durable before the 250.
	if err := send(c, "ann@example.test", []string{"someone@remote.example"}, "From: ann@example.test\r\n\r\nout\r\n"); err != nil {
		t.Fatal(err)
	}
	if q, err := r.Store.QueuedMessages(context.Background()); err != nil || len(q) != 1 || q[0].Recipients[0].Address != "someone@remote.example" || q[0].From != "ann@example.test" {
		t.Fatalf("remote recipient not queued: %+v, %v", q, err)
	}
}

func TestSubmissionImplicitTLS(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	c, err := gosmtp.DialTLS(r.Addr("submissions"), testrig.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(gosasl.NewLoginClient("ann@example.test", password)); err != nil {
		t.Fatalf("AUTH LOGIN over implicit TLS: %v", err)
	}
	if err := send(c, "ann@example.test", []string{"ann@example.test"}, "From: ann@example.test\r\nSubject: to self\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Bodies("ann@example.test", "INBOX")); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

// scramClient adapts xdg-go/scram to go-sasl's client interface.
type scramClient struct {
	conv *scram.ClientConversation
}

func newSCRAMClient(user, pass string) (*scramClient, error) {
	c, err := scram.SHA256.NewClient(user, pass, "")
	if err != nil {
		return nil, err
	}
	return &scramClient{conv: c.NewConversation()}, nil
}

func (c *scramClient) Start() (string, []byte, error) {
	first, err := c.conv.Step("")
	return "SCRAM-SHA-256", []byte(first), err
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	resp, err := c.conv.Step(string(challenge))
	return []byte(resp), err
}

func TestSubmissionSCRAM(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	c := r.dialStartTLS(r.Addr("submission"))
	bad, _ := newSCRAMClient("ann@example.test", "wrong")
	wantCode(t, c.Auth(bad), 535, "5.7.8")
	good, _ := newSCRAMClient("ann@example.test", password)
	if err := c.Auth(good); err != nil {
		t.Fatalf("SCRAM-SHA-256: %v", err)
	}
	if !good.conv.Valid() {
		t.Fatal("client did not verify the server's SCRAM signature")
	}
	if err := send(c, "ann@example.test", []string{"ann@example.test"}, "From: ann@example.test\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
}

func TestSubmissionSenderRules(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	if err := r.Store.AddAlias(ctx, "sales@example.test", []string{"ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	c := r.login("ann@example.test")
	// Someone else's address, and the null sender: refused.
	wantCode(t, c.Mail("bob@example.test", nil), 553, "5.7.1")
	wantCode(t, c.Mail("", nil), 553, "5.7.1")
	// Own alias and own plus-address: fine.
	for _, from := range []string{"sales@example.test", "ann+news@example.test"} {
		if err := send(c, from, []string{"bob@example.test"}, "From: "+from+"\r\n\r\nx\r\n"); err != nil {
			t.Fatalf("MAIL FROM %s: %v", from, err)
		}
	}
	// Envelope fine, From: header not hers: refused at the end of DATA.
	err := send(c, "ann@example.test", []string{"bob@example.test"}, "From: Boss <bob@example.test>\r\n\r\nforged\r\n")
	wantCode(t, err, 553, "5.7.1")
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 2 {
		t.Fatalf("bob has %d messages, want 2 (the forged one refused)", n)
	}
}

func TestSubmissionDisabledAccount(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test", "submission.enabled", "false")
	c := r.dialStartTLS(r.Addr("submission"))
	err := c.Auth(gosasl.NewPlainClient("", "ann@example.test", password))
	wantCode(t, err, 525, "5.7.13")
	if !strings.Contains(err.Error(), "switched off") {
		t.Fatalf("message does not say why: %v", err)
	}
}

// TestAuthThrottle: after repeated failures from one address, further
// attempts are refused at once with a temporary 454 (even with the right
// password) until the delay has passed, then checked again.
func TestAuthThrottle(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	// A new connection per guess: go-smtp's client sends "*" after a
	// failed AUTH, which the server counts as a protocol error.
	for i := 0; i < 5; i++ {
		c := r.dialStartTLS(r.Addr("submission"))
		wantCode(t, c.Auth(gosasl.NewPlainClient("", "ann@example.test", fmt.Sprint("guess", i))), 535, "5.7.8")
	}
	c := r.dialStartTLS(r.Addr("submission"))
	start := time.Now()
	wantCode(t, c.Auth(gosasl.NewPlainClient("", "ann@example.test", password)), 454, "4.7.0")
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("the throttled attempt took %v: it should be refused at once", took)
	}
	time.Sleep(1100 * time.Millisecond) // the first delay
	c = r.dialStartTLS(r.Addr("submission"))
	if err := c.Auth(gosasl.NewPlainClient("", "ann@example.test", password)); err != nil {
		t.Fatal(err)
	}
}

func TestSwaks(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Fatal("swaks is needed (scripts/install-test-deps.sh installs it)")
	}
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.Account("bob@example.test")
	run := func(args ...string) string {
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// Inbound to the MX.
	run("--server", r.Addr("smtp"), "--from", "someone@remote.example", "--to", "ann@example.test", "--header", "Subject: via swaks")
	// Submission: STARTTLS, AUTH PLAIN.
	host, port, _ := net.SplitHostPort(r.Addr("submission"))
	run("--server", host, "--port", port, "--tls", "--auth", "PLAIN", "--auth-user", "ann@example.test",
		"--auth-password", password, "--from", "ann@example.test", "--to", "bob@example.test",
		"--header", "From: ann@example.test", "--header", "Subject: submitted via swaks")
	// Implicit TLS with AUTH LOGIN.
	host, port, _ = net.SplitHostPort(r.Addr("submissions"))
	run("--server", host, "--port", port, "--tls-on-connect", "--auth", "LOGIN", "--auth-user", "ann@example.test",
		"--auth-password", password, "--from", "ann@example.test", "--to", "bob@example.test",
		"--header", "From: ann@example.test", "--header", "Subject: smtps via swaks")
	if got := r.Bodies("ann@example.test", "INBOX"); len(got) != 1 || !strings.Contains(got[0], "Subject: via swaks") {
		t.Fatalf("ann: %q", got)
	}
	got := r.Bodies("bob@example.test", "INBOX")
	if len(got) != 2 || !strings.Contains(got[0], "submitted via swaks") || !strings.Contains(got[1], "smtps via swaks") {
		t.Fatalf("bob: %d messages", len(got))
	}
	// Relay attempt through swaks too.
	out, _ := exec.Command(swaks, "--server", r.Addr("smtp"), "--from", "a@remote.example", "--to", "b@elsewhere.example").CombinedOutput()
	if !strings.Contains(string(out), "554 5.7.1") {
		t.Fatalf("swaks relay attempt:\n%s", out)
	}
}

// TestShutdownDuringData: a transfer in progress finishes during a
// graceful shutdown; an idle session is told 421 at once.
func TestShutdownDuringData(t *testing.T) {
	r := newRig(t, func(c *config.Config) {})
	r.Account("ann@example.test")
	idle := r.raw(r.Addr("smtp"))
	busy := r.raw(r.Addr("smtp"))
	busy.send("EHLO a.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\n")
	busy.expect("250")
	busy.expect("250")
	busy.expect("250")
	busy.expect("354")
	busy.send("Subject: in flight\r\n\r\n")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- r.Shutdown(ctx)
	}()
	if line := idle.reply(); !strings.HasPrefix(line, "421") {
		t.Fatalf("idle session got %q, want 421", line)
	}
	time.Sleep(200 * time.Millisecond)
	busy.send("last line\r\n.\r\n")
	busy.expect("250")
	if err := <-done; err != nil && !errors.Is(err, io.EOF) {
		t.Logf("shutdown: %v", err)
	}
}
