package imap

import (
	"strings"
	"testing"
	"time"
)

// TestCondstoreFlagChangesCarryUID: once CONDSTORE is on, every untagged
// FETCH that reports a flag change carries UID and MODSEQ, whether it
// answers a STORE by sequence number, a FETCH that set \Seen, or tells of
// another client's change (RFC 7162 3.1). Found replaying Thunderbird and
// Apple Mail, which enable CONDSTORE but not QRESYNC or IMAP4rev2.
func TestCondstoreFlagChangesCarryUID(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	for i := 0; i < 3; i++ {
		r.Deliver(acct, "Subject: m"+itoa(i)+"\r\n\r\nbody\r\n")
	}
	x, y := r.raw(true), r.raw(true)
	for _, c := range []*raw{x, y} {
		c.cmd("l", `LOGIN ann@example.test "`+password+`"`, "OK")
	}
	x.cmd("s", "SELECT INBOX (CONDSTORE)", "OK")
	y.cmd("s", "SELECT INBOX", "OK")
	if lines := x.cmd("a1", `STORE 1 +FLAGS (\Flagged)`, "OK"); !has(lines, `* 1 FETCH (UID 1 FLAGS (\Flagged \Recent) MODSEQ (`) {
		t.Fatalf("STORE: %q", lines)
	}
	if lines := x.cmd("a2", "FETCH 2 (BODY[TEXT])", "OK"); !strings.HasPrefix(lines[0], "* 2 FETCH (UID 2 BODY[TEXT] ") ||
		!has(lines, `FLAGS (\Seen \Recent) MODSEQ (`) {
		t.Fatalf("FETCH setting \\Seen: %q", lines)
	}
	// UID asked for explicitly stays where it was asked, and only once.
	if lines := x.cmd("a3", "FETCH 3 (FLAGS UID BODY[TEXT])", "OK"); !strings.HasPrefix(lines[0], "* 3 FETCH (FLAGS (\\Seen \\Recent) UID 3 BODY[TEXT] ") ||
		strings.Count(strings.Join(lines, " "), "UID 3") != 1 {
		t.Fatalf("FETCH with UID asked: %q", lines)
	}
	y.cmd("b1", `STORE 3 +FLAGS (\Answered)`, "OK")
	if lines := x.cmd("a4", "NOOP", "OK"); !has(lines, `* 3 FETCH (UID 3 FLAGS (\Seen \Answered \Recent) MODSEQ (`) {
		t.Fatalf("another client's change: %q", lines)
	}
	// Without CONDSTORE nothing changes: the other session gets no UID.
	if lines := y.cmd("b2", `STORE 1 -FLAGS (\Flagged)`, "OK"); !has(lines, "* 1 FETCH (FLAGS ())") {
		t.Fatalf("STORE without CONDSTORE: %q", lines)
	}
}

// TestFetchSeesAnnouncedMessages: a FETCH that announces new mail ("* n
// EXISTS") before its results includes the new messages in "1:*"; it used
// to resolve the set in the view from before the announcement, so a
// CHANGEDSINCE resync told of a message it then left out. Found replaying
// Apple Mail.
func TestFetchSeesAnnouncedMessages(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: one\r\n\r\nx\r\n")
	x, watcher := r.raw(true), r.raw(true)
	for _, c := range []*raw{x, watcher} {
		c.cmd("l", `LOGIN ann@example.test "`+password+`"`, "OK")
	}
	lines := x.cmd("s", "SELECT INBOX (CONDSTORE)", "OK")
	modseq := itoa(int(number(t, lines, `HIGHESTMODSEQ (\d+)`)))
	watcher.cmd("s", "SELECT INBOX", "OK")
	// Deliveries reach the shared mailbox index asynchronously: wait until
	// the watcher sees the message, so x's next command finds it there.
	arrived := func(n string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !has(watcher.cmd("w", "NOOP", "OK"), "* "+n+" EXISTS") {
			if time.Now().After(deadline) {
				t.Fatalf("message %s never arrived", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	r.Deliver(acct, "Subject: two\r\n\r\nx\r\n")
	arrived("2")
	lines = x.cmd("a1", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+modseq+")", "OK")
	if !has(lines, "* 2 EXISTS") || !has(lines, "* 2 FETCH (UID 2 FLAGS (") {
		t.Fatalf("UID FETCH CHANGEDSINCE after new mail: %q", lines)
	}
	r.Deliver(acct, "Subject: three\r\n\r\nx\r\n")
	arrived("3")
	lines = x.cmd("a2", "FETCH 1:* (UID)", "OK")
	if !has(lines, "* 3 EXISTS") || !has(lines, "* 3 FETCH (UID 3)") {
		t.Fatalf("FETCH 1:* after new mail: %q", lines)
	}
}
