package e2e

import (
	"strings"
	"testing"
)

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
			r.SetSettings(r.acct, "pop3.delete_mode", mode)
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
