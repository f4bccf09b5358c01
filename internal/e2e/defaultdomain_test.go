package e2e

import (
	"encoding/base64"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// loginsBare tries the bare login name "ann" over IMAP, POP3 and SMTP
// submission (AUTH PLAIN) and returns each protocol's answer to it.
func loginsBare(r *rig) (imapReply, popReply, smtpReply string) {
	t := r.T
	t.Helper()
	l := dial(t, r.Addr("imaps"))
	l.Line()
	imapReply = l.cmd(`a LOGIN ann "` + password + `"`)
	if strings.HasPrefix(imapReply, "a OK") {
		// The session is ann's: her INBOX, with the message delivered to her.
		if st := strings.Join(l.imapCmd("s", "STATUS INBOX (MESSAGES)"), "\n"); !strings.Contains(st, "MESSAGES 1") {
			t.Fatalf("STATUS after LOGIN ann: %q", st)
		}
	}

	p := dial(t, r.Addr("pop3s"))
	p.Line()
	p.cmd("USER ann")
	popReply = p.cmd("PASS " + password)

	s := dial(t, r.Addr("submissions"))
	s.Expect("220")
	s.Send("EHLO client.example.test")
	for line := s.Line(); !strings.HasPrefix(line, "250 "); line = s.Line() {
	}
	smtpReply = s.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00ann\x00"+password)))
	return imapReply, popReply, smtpReply
}

// TestDefaultDomainLogin: with auth.default_domain a bare local part logs
// in to every protocol as the account at that domain; without it the same
// name is refused like any unknown account.
func TestDefaultDomainLogin(t *testing.T) {
	r := start(t, testrig.Config(func(c *config.Config) { c.Auth.DefaultDomain = "example.test" }))
	r.deliver("hello ann")
	im, pop, sm := loginsBare(r)
	if !strings.HasPrefix(im, "a OK") || !strings.HasPrefix(pop, "+OK") || !strings.HasPrefix(sm, "235") {
		t.Fatalf("with auth.default_domain, login as ann: IMAP %q, POP3 %q, SMTP %q", im, pop, sm)
	}

	r = start(t)
	r.deliver("hello ann")
	im, pop, sm = loginsBare(r)
	if !strings.HasPrefix(im, "a NO") || !strings.HasPrefix(pop, "-ERR") || !strings.HasPrefix(sm, "535") {
		t.Fatalf("without auth.default_domain, login as ann: IMAP %q, POP3 %q, SMTP %q", im, pop, sm)
	}
}
