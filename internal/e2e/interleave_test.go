package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/listener"
	"mailroom/internal/pop3"
	"mailroom/internal/server"
	"mailroom/internal/smtp"
)

const password = "correct horse"

var clientTLS = &tls.Config{InsecureSkipVerify: true}

type line struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *line {
	t.Helper()
	c, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return &line{t: t, conn: c, r: bufio.NewReader(c)}
}

func (l *line) send(s string) {
	l.t.Helper()
	if _, err := io.WriteString(l.conn, s+"\r\n"); err != nil {
		l.t.Fatal(err)
	}
}

func (l *line) read() string {
	l.t.Helper()
	s, err := l.r.ReadString('\n')
	if err != nil {
		l.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// imapCmd runs a tagged IMAP command and returns its untagged lines.
func (l *line) imapCmd(tag, cmd string) []string {
	l.t.Helper()
	l.send(tag + " " + cmd)
	var out []string
	for {
		s := l.read()
		if strings.HasPrefix(s, tag+" ") {
			if !strings.HasPrefix(s, tag+" OK") {
				l.t.Fatalf("%s: %s", cmd, s)
			}
			return out
		}
		out = append(out, s)
	}
}

var fetchLine = regexp.MustCompile(`^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$`)

// imapView asks a session for every message's sequence number, UID, flags
// and modseq, as the session sees them now.
func (l *line) imapView(tag string) []string {
	l.t.Helper()
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
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", IMAPS: "127.0.0.1:0", POP3S: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{
		"smtp": smtp.Factory(smtp.Inbound), "pop3": pop3.Factory(), "imap": imap.Factory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	addr := map[string]string{}
	for _, l := range srv.Listening() {
		addr[l.Key] = l.Addr
	}
	st := srv.Deps().Store
	ctx := context.Background()
	st.CreateDomain(ctx, "example.test")
	cred, _ := auth.HashPassword(password, auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	acct, err := st.CreateAccount(ctx, "ann@example.test", cred)
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := st.Mailbox(ctx, acct.ID, "INBOX")

	smtpSend := func(subject string) {
		t.Helper()
		c, err := gosmtp.Dial(addr["smtp"])
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
		s := dial(t, addr["imaps"])
		s.read() // greeting
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
	pop := func(cmds ...string) {
		t.Helper()
		p := dial(t, addr["pop3s"])
		p.read()
		p.send("USER ann@example.test")
		p.read()
		p.send("PASS " + password)
		if s := p.read(); !strings.HasPrefix(s, "+OK") {
			t.Fatalf("POP3 login: %s", s)
		}
		for _, c := range cmds {
			p.send(c)
			s := p.read()
			if !strings.HasPrefix(s, "+OK") {
				t.Fatalf("POP3 %s: %s", c, s)
			}
			if strings.HasPrefix(c, "RETR") {
				for p.read() != "." {
				}
			}
		}
		p.send("QUIT")
		p.read()
	}

	smtpSend("one")
	smtpSend("two")
	smtpSend("three")
	check("three SMTP deliveries")
	sessions[0].imapCmd("a", "STORE 2 +FLAGS (\\Flagged)")
	check("IMAP STORE")
	pop("RETR 1", "DELE 3")
	check("POP3 RETR 1 (mark seen) and DELE 3 (expunge)")
	sessions[1].imapCmd("b", "STORE 1 +FLAGS (\\Deleted)")
	sessions[1].imapCmd("c", "EXPUNGE")
	smtpSend("four")
	check("IMAP EXPUNGE and another delivery")
	sessions[2].imapCmd("d", "MOVE 1 Archive")
	sessions[0].imapCmd("f", "STORE 1 -FLAGS (\\Flagged)")
	check("IMAP MOVE and unflag")
	pop("DELE 1")
	smtpSend("five")
	check("POP3 DELE and a delivery")
}
