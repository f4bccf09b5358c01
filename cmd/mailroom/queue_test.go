package main

import (
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"mailroom/internal/mailtest"
)

func TestDomainDNSAndQueueCommands(t *testing.T) {
	e := newEnv(t)
	out := e.ok("", "domain", "add", "example.test")
	if !regexp.MustCompile(`DKIM selectors mr\d{6}e \(Ed25519\) and mr\d{6}r \(RSA\)`).MatchString(out) {
		t.Fatalf("domain add: %q", out)
	}
	out = e.ok("", "domain", "dns", "example.test")
	for _, want := range []string{
		"example.test.", "MX", "10 mail.example.test.", `"v=spf1 mx ~all"`, "._domainkey.example.test.",
		"k=ed25519", "k=rsa", "_dmarc.example.test.", "v=DMARC1", "_submissions._tcp.example.test.", "SRV\t0 0 0 .", // every listener is off here
		"_imaps._tcp.example.test.", "_pop3s._tcp.example.test.", "autoconfig.example.test.", // no _autodiscover SRV: https is off
	} {
		if !strings.Contains(out, want) {
			t.Errorf("domain dns lacks %q:\n%s", want, out)
		}
	}
	e.fails(`unknown domain`, "domain", "dns", "other.test")
	if out := e.ok("", "queue", "list"); !strings.Contains(out, "the queue is empty") {
		t.Fatalf("queue list: %q", out)
	}
	e.fails(`queued message 7: not found`, "queue", "show", "7")
	e.fails(`not a queue ID`, "queue", "drop", "x")
	if out := e.ok("", "queue", "retry", "all"); !strings.Contains(out, "0 recipient(s)") {
		t.Fatalf("queue retry all: %q", out)
	}
}

// TestQueueSurvivesSIGKILL submits mail for two remote domains through a
// real `mailroom serve`, kills it with SIGKILL while one delivery is in
// progress and the rest wait for a retry, starts it again, and checks that
// every recipient gets exactly one copy.
func TestQueueSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	e := newEnv(t)
	ports := freePorts(t, 2)
	dns := mailtest.NewDNS(t)
	sinkPort := ports[1]
	one := mailtest.NewSink(t, "127.0.0.2:"+sinkPort)
	two := mailtest.NewSink(t, "127.0.0.3:"+sinkPort)
	dns.Add(t, "one.test. MX 10 mx.one.test.", "mx.one.test. A 127.0.0.2", "two.test. MX 10 mx.two.test.", "mx.two.test. A 127.0.0.3")

	// one.test holds the first transaction (until released); two.test
	// says "try later" until the restart.
	var mu sync.Mutex
	hold, held := make(chan struct{}), make(chan struct{}, 10)
	accepting := false
	one.OnRcpt = func(string) *mailtest.Reply {
		held <- struct{}{}
		<-hold
		return nil
	}
	two.OnRcpt = func(string) *mailtest.Reply {
		mu.Lock()
		defer mu.Unlock()
		if !accepting {
			return &mailtest.Reply{Code: 451, Enhanced: [3]int{4, 3, 0}, Text: "not yet"}
		}
		return nil
	}
	os.WriteFile(e.config, []byte(`hostname = "mail.example.test"
data_dir = "data"
[listen]
smtp = ""
submission = "127.0.0.1:`+ports[0]+`"
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
https = ""
[auth]
allow_insecure = true
[queue]
remote_port = `+sinkPort+`
retry_intervals = ["300ms"]
[dns]
servers = ["`+dns.Addr+`"]
`), 0o600)
	e.ok("", "domain", "add", "example.test")
	e.ok("pw\n", "user", "add", "ann@example.test", "--password-stdin")

	start := func() *exec.Cmd {
		serve := exec.Command(bin, "serve", "--config", e.config)
		stderr, _ := serve.StderrPipe()
		if err := serve.Start(); err != nil {
			t.Fatal(err)
		}
		waitLog(t, stderr, "mailroom started")
		go io.Copy(io.Discard, stderr)
		return serve
	}
	serve := start()
	rcpts := []string{"a@one.test", "b@one.test", "c@two.test", "d@two.test"}
	c, err := smtpDial("127.0.0.1:" + ports[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "ann@example.test", "pw")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("ann@example.test", rcpts, strings.NewReader("From: ann@example.test\r\nSubject: once\r\n\r\nexactly once\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()

	select {
	case <-held: // one.test's transaction is in progress
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery attempt to one.test")
	}
	time.Sleep(500 * time.Millisecond) // two.test has refused at least once
	serve.Process.Signal(syscall.SIGKILL)
	serve.Wait()
	close(hold) // the killed transaction's connection is gone: nothing is accepted
	mu.Lock()
	accepting = true
	mu.Unlock()

	serve = start()
	defer func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		done := true
		for _, r := range rcpts {
			sink := one
			if strings.HasSuffix(r, "two.test") {
				sink = two
			}
			if sink.Count(r) == 0 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after the restart:\none.test:\n%stwo.test:\n%s", one, two)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // time for any duplicate to show up
	for _, r := range rcpts {
		sink := one
		if strings.HasSuffix(r, "two.test") {
			sink = two
		}
		if n := sink.Count(r); n != 1 {
			t.Errorf("%s received %d copies", r, n)
		}
	}
	if out := e.ok("", "queue", "list"); !strings.Contains(out, "the queue is empty") {
		t.Fatalf("queue after delivery:\n%s", out)
	}
}
