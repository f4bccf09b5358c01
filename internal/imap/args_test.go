package imap

import (
	"strings"
	"testing"
)

// TestArgumentErrors pins what a client sees of the command readers in
// internal/imap/wire (each has its table test there): the BAD texts come
// through unchanged, a command is parsed whole before anything is looked
// up, and the session goes on after each.
func TestArgumentErrors(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")
	for _, c := range []struct{ cmd, want string }{
		{`STATUS INBOX (MESSAGES BOGUS)`, "BAD unknown STATUS item BOGUS"},
		{`STATUS nosuch (BOGUS)`, "BAD unknown STATUS item BOGUS"},
		{`STATUS nosuch (MESSAGES)`, "NO [NONEXISTENT]"},
		{`APPEND INBOX`, "BAD APPEND needs a message"},
		{`LIST (RECURSIVEMATCH) "" *`, "BAD RECURSIVEMATCH needs another selection option"},
		{`LIST "" * RETURN (FOO)`, "BAD unknown LIST return option FOO"},
		{`CREATE x (FOO (\Archive))`, "BAD unknown CREATE parameter FOO"},
		{`ID foo`, "BAD ID wants a parameter list or NIL"},
		{`SELECT INBOX (QRESYNC (1 2))`, "BAD QRESYNC must be enabled first"},
		{`SELECT INBOX (FOO)`, "BAD unknown SELECT parameter FOO"},
		{`SELECT INBOX`, "OK"},
		{`STORE 1 FLAG (\Seen)`, "BAD STORE wants FLAGS, +FLAGS or -FLAGS"},
		{`STORE 1 (FOO 1) FLAGS (\Seen)`, "BAD unknown STORE modifier FOO"},
		{`STORE 1 () FLAGS (\Seen)`, "BAD empty STORE modifier list"},
		{`COPY 1:* nosuch extra`, "BAD expected end of line"},
		{`NOOP`, "OK"},
	} {
		lines := x.cmd("t", c.cmd, strings.Fields(c.want)[0])
		if got := lines[len(lines)-1]; !strings.HasPrefix(got, "t "+c.want) {
			t.Errorf("%s: got %q, want t %s…", c.cmd, got, c.want)
		}
	}
	// LIST-STATUS: the items read in RETURN reach every listed mailbox.
	lines := x.cmd("u", `LIST "" INBOX RETURN (STATUS (MESSAGES UIDNEXT))`, "OK")
	if !has(lines, `* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1)`) {
		t.Errorf("LIST-STATUS: %q", lines)
	}
}
