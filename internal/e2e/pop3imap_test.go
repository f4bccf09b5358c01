package e2e

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/listener"
	"mailroom/internal/pop3"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

type rig struct {
	t    *testing.T
	st   store.Store
	addr map[string]string
	acct store.Account
}

func start(t *testing.T) *rig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{IMAPS: "127.0.0.1:0", POP3S: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{"pop3": pop3.Factory(), "imap": imap.Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	r := &rig{t: t, st: srv.Deps().Store, addr: map[string]string{}}
	for _, l := range srv.Listening() {
		r.addr[l.Key] = l.Addr
	}
	ctx := context.Background()
	r.st.CreateDomain(ctx, "example.test")
	cred, _ := auth.HashPassword(password, auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if r.acct, err = r.st.CreateAccount(ctx, "ann@example.test", cred); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) deliver(subject string) {
	r.t.Helper()
	ctx := context.Background()
	inbox, _ := r.st.Mailbox(ctx, r.acct.ID, "INBOX")
	m, _ := r.st.Stage(ctx, strings.NewReader("Subject: "+subject+"\r\n\r\nx\r\n"))
	if _, err := r.st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) imap() *line {
	l := dial(r.t, r.addr["imaps"])
	l.read()
	l.imapCmd("l", "LOGIN ann@example.test \""+password+"\"")
	return l
}

// pop runs a POP3 session: login, the commands, QUIT; it returns the
// replies' first lines and UIDL listing lines.
func (r *rig) pop(cmds ...string) []string {
	r.t.Helper()
	p := dial(r.t, r.addr["pop3s"])
	p.read()
	p.send("USER ann@example.test")
	p.read()
	p.send("PASS " + password)
	if s := p.read(); !strings.HasPrefix(s, "+OK") {
		r.t.Fatalf("POP3 login: %s", s)
	}
	var out []string
	for _, c := range cmds {
		p.send(c)
		s := p.read()
		if !strings.HasPrefix(s, "+OK") {
			r.t.Fatalf("POP3 %s: %s", c, s)
		}
		if c == "UIDL" || strings.HasPrefix(c, "RETR") {
			for l := p.read(); l != "."; l = p.read() {
				if c == "UIDL" {
					out = append(out, l)
				}
			}
		}
	}
	p.send("QUIT")
	p.read()
	return out
}

// TestPOP3DeleteModesOverIMAP: DELE+QUIT in each pop3.delete_mode, checked
// with an IMAP client, as a user would see it.
func TestPOP3DeleteModesOverIMAP(t *testing.T) {
	for mode, want := range map[string]struct{ inbox, trash string }{
		"expunge": {"* STATUS \"INBOX\" (MESSAGES 1 UNSEEN 0)", "* STATUS \"Trash\" (MESSAGES 0 UNSEEN 0)"},
		"trash":   {"* STATUS \"INBOX\" (MESSAGES 1 UNSEEN 0)", "* STATUS \"Trash\" (MESSAGES 1 UNSEEN 1)"},
		"keep":    {"* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 1)", "* STATUS \"Trash\" (MESSAGES 0 UNSEEN 0)"},
	} {
		t.Run(mode, func(t *testing.T) {
			r := start(t)
			if err := r.st.SetSettings(context.Background(), r.acct.ID, map[string]string{"pop3.delete_mode": mode}); err != nil {
				t.Fatal(err)
			}
			r.deliver("kept")
			r.deliver("deleted")
			r.pop("RETR 1", "DELE 2")
			c := r.imap()
			inbox := c.imapCmd("s1", "STATUS INBOX (MESSAGES UNSEEN)")
			trash := c.imapCmd("s2", "STATUS Trash (MESSAGES UNSEEN)")
			if len(inbox) != 1 || inbox[0] != want.inbox || len(trash) != 1 || trash[0] != want.trash {
				t.Fatalf("mode %s over IMAP: %q %q, want %q %q", mode, inbox, trash, want.inbox, want.trash)
			}
		})
	}
}

// TestUIDLSurvivesIMAPMove: an IMAP client moves a message out of INBOX and
// back; POP3 sees the same UIDL for it.
func TestUIDLSurvivesIMAPMove(t *testing.T) {
	r := start(t)
	r.deliver("a")
	r.deliver("b")
	before := r.pop("UIDL")
	c := r.imap()
	c.imapCmd("s", "SELECT INBOX")
	c.imapCmd("m", "MOVE 1 Archive")
	c.imapCmd("s2", "SELECT Archive")
	c.imapCmd("m2", "MOVE 1 INBOX")
	after := r.pop("UIDL")
	uid := func(line string) string { return line[strings.IndexByte(line, ' ')+1:] }
	// The moved message is now second, with its old UIDL.
	if len(before) != 2 || len(after) != 2 || uid(after[1]) != uid(before[0]) || uid(after[0]) != uid(before[1]) {
		t.Fatalf("UIDL before %q, after moving out and back %q", before, after)
	}
}
