package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

const password = "fault-test-pass"

// buildMailroom builds cmd/mailroom into the test's temporary directory.
func buildMailroom(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailroom")
	cmd := exec.Command("go", "build", "-o", bin, "mailroom/cmd/mailroom")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// node is one `mailroom serve` process.
type node struct {
	t      *testing.T
	name   string
	bin    string
	config string
	log    string
	addr   map[string]string // listener → host:port
	cmd    *exec.Cmd
	exited chan struct{}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newNode writes the configuration of a node named name (its host name
// is name.example.test, its lease owner in the queue) on the PostgreSQL
// database dsn, with SMTP (inbound), submission and plaintext IMAP on
// loopback; extra is appended TOML.
func newNode(t *testing.T, bin, name, dsn, extra string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{t: t, name: name, bin: bin, config: filepath.Join(dir, "mailroom.toml"), log: filepath.Join(dir, "mailroom.log"),
		addr: map[string]string{"smtp": freeAddr(t), "submission": freeAddr(t), "imap": freeAddr(t), "pop3": freeAddr(t)}}
	var b strings.Builder
	fmt.Fprintf(&b, "hostname = %q\ndata_dir = %q\n", name+".example.test", filepath.Join(dir, "data"))
	// Top-level keys end here: the sections follow.
	fmt.Fprintf(&b, "[listen]\n")
	for _, k := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve", "http", "https", "debug"} {
		fmt.Fprintf(&b, "%s = %q\n", k, n.addr[k])
	}
	fmt.Fprintf(&b, "[tls]\nself_signed = true\n[auth]\nallow_insecure = true\n[store]\nbackend = \"postgres\"\ndsn = %q\nmax_conns = 8\n%s\n[log]\nlevel = \"warn\"\n", dsn, extra)
	if err := os.WriteFile(n.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// admin runs a mailroom admin command on the node's configuration.
func (n *node) admin(stdin string, args ...string) {
	n.t.Helper()
	cmd := exec.Command(n.bin, append(args, "--config", n.config)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("mailroom %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// start starts `mailroom serve` and waits until its listeners accept
// connections. The test's end stops it (SIGTERM) unless it was killed.
func (n *node) start() {
	n.t.Helper()
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd = exec.Command(n.bin, "serve", "--config", n.config)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	logf.Close()
	n.exited = make(chan struct{})
	cmd, exited := n.cmd, n.exited
	go func() { cmd.Wait(); close(exited) }()
	n.t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if n.t.Failed() {
			n.dumpLog()
		}
	})
	for _, k := range []string{"smtp", "submission", "imap", "pop3"} {
		for deadline := time.Now().Add(30 * time.Second); ; {
			c, err := net.DialTimeout("tcp", n.addr[k], time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				n.dumpLog()
				n.t.Fatalf("node %s exited at start", n.name)
			default:
			}
			if time.Now().After(deadline) {
				n.dumpLog()
				n.t.Fatalf("node %s: %s %s does not accept connections: %v", n.name, k, n.addr[k], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// kill ends the process with SIGKILL, as a crash would: no shutdown, no
// lease released, connections cut.
func (n *node) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatal(err)
	}
	<-n.exited
}

// dumpLog logs the node's log, each distinct message once (with how
// often it came): an outage repeats the same error thousands of times.
func (n *node) dumpLog() {
	b, _ := os.ReadFile(n.log)
	seen := map[string]int{}
	var order []string
	for _, l := range strings.Split(string(b), "\n") {
		k := l
		if i := strings.Index(l, "msg="); i >= 0 {
			k = l[i:min(len(l), i+60)]
		}
		if seen[k] == 0 {
			order = append(order, k)
		}
		seen[k]++
		if seen[k] == 1 {
			order[len(order)-1] = l
		}
	}
	var out strings.Builder
	for _, l := range order {
		k := l
		if i := strings.Index(l, "msg="); i >= 0 {
			k = l[i:min(len(l), i+60)]
		}
		fmt.Fprintf(&out, "%s (×%d)\n", l[:min(len(l), 600)], seen[k])
	}
	n.t.Logf("log of node %s (distinct messages, first of each):\n%s", n.name, out.String())
}

// pop3Login logs ann in over plaintext POP3 and returns the reply to PASS.
func pop3Login(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	var reply string
	for _, cmd := range []string{"", "USER ann@example.test", "PASS " + password} {
		if cmd != "" {
			if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
				return "", err
			}
		}
		if reply, err = r.ReadString('\n'); err != nil {
			return "", err
		}
		if !strings.HasPrefix(reply, "+OK") {
			break
		}
	}
	fmt.Fprintf(c, "QUIT\r\n")
	return strings.TrimRight(reply, "\r\n"), nil
}

// imapLogin logs ann in over plaintext IMAP, with a deadline on the
// whole connection (imapclient's commands have none of their own).
func imapLogin(addr string, opts *imapclient.Options, deadline time.Duration) (*imapclient.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(deadline))
	c := imapclient.New(conn, opts)
	if err := c.Login("ann@example.test", password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// subjects returns how often each Subject occurs in ann's INBOX, read
// over IMAP from addr.
func subjects(t *testing.T, addr string) map[string]int {
	t.Helper()
	c, err := imapLogin(addr, nil, 2*time.Minute)
	if err != nil {
		t.Fatalf("IMAP login at %s: %v", addr, err)
	}
	defer c.Close()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	got := map[string]int{}
	if sel.NumMessages == 0 {
		return got
	}
	msgs, err := c.Fetch(goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	for _, m := range msgs {
		got[m.Envelope.Subject]++
	}
	return got
}

// smtpSend sends one message with the subject to rcpt over addr
// (authenticated as ann when auth is set): nil on 250.
func smtpSend(ctx context.Context, addr, helo string, auth bool, from, rcpt, subject string) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := gosmtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(helo); err != nil {
		return err
	}
	if auth {
		if err := c.Auth(sasl.NewPlainClient("", "ann@example.test", password)); err != nil {
			return err
		}
	}
	msg := "From: " + from + "\r\nTo: " + rcpt + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@faults.test>\r\n\r\n" +
		strings.Repeat("Fault test body line.\r\n", 40)
	if err := c.SendMail(from, []string{rcpt}, bytes.NewReader([]byte(msg))); err != nil {
		return err
	}
	c.Quit()
	return nil
}
