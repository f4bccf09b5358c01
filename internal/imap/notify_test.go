package imap

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"mailroom/internal/testrig"
)

// await reads lines until one matches re (pushed without a command), and
// returns the lines read.
func (x *raw) await(re string) []string {
	x.T.Helper()
	rx := regexp.MustCompile(re)
	var lines []string
	for {
		l := x.Line()
		lines = append(lines, l)
		if rx.MatchString(l) {
			return lines
		}
	}
}

// TestNotifyOtherMailboxes: with NOTIFY SET, session A is told of B's
// changes as they happen, without sending a command: STATUS for mail in
// mailboxes it has not selected, LIST for CREATE, SUBSCRIBE, RENAME and
// DELETE (RFC 5465 5.2-5.5), also in IDLE; NOTIFY NONE stops it.
func TestNotifyOtherMailboxes(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	if lines := a.cmd("a0", "CAPABILITY", "OK"); !has(lines, " NOTIFY") {
		t.Fatalf("CAPABILITY: %q", lines)
	}
	b.appendMsg("b0", "Archive", "", "old")
	lines := a.cmd("n1", "NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))", "OK")
	if lineIndex(lines, `* STATUS "Archive" (UIDVALIDITY `) < 0 || lineIndex(lines, `MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ `) < 0 {
		t.Fatalf("NOTIFY SET STATUS: %q", lines)
	}

	b.cmd("b1", "CREATE Work", "OK")
	a.await(`^\* LIST \(\) "/" "Work"$`)
	b.appendMsg("b2", "Work", "", "w1")
	a.await(`^\* STATUS "Work" \(UIDVALIDITY \d+ MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ \d+\)$`)
	b.cmd("b3", "SUBSCRIBE Work", "OK")
	a.await(`^\* LIST \(\\Subscribed\) "/" "Work"$`)
	b.cmd("b4", "SELECT Work", "OK")
	b.cmd("b5", `STORE 1 +FLAGS (\Seen)`, "OK")
	a.await(`^\* STATUS "Work" \(UIDVALIDITY \d+ MESSAGES 1 UIDNEXT 2 UNSEEN 0 HIGHESTMODSEQ \d+\)$`)
	b.cmd("b6", `STORE 1 +FLAGS (\Deleted)`, "OK")
	b.cmd("b7", "EXPUNGE", "OK")
	b.cmd("b8", "UNSELECT", "OK")
	a.await(`^\* STATUS "Work" \(UIDVALIDITY \d+ MESSAGES 0 UIDNEXT 2 UNSEEN 0 HIGHESTMODSEQ \d+\)$`)
	b.cmd("b9", "RENAME Work Job", "OK")
	a.await(`^\* LIST \(\) "/" "Job" \("OLDNAME" \("Work"\)\)$`)
	b.cmd("b10", "DELETE Job", "OK")
	lines = a.await(`^\* LIST \(\\NonExistent\) "/" "Job"$`)
	b.cmd("b10b", "UNSUBSCRIBE Job", "OK") // the subscription outlives the mailbox
	lines = append(lines, a.await(`^\* LIST \(\) "/" "Job"$`)...)
	if len(lines) != 2 {
		t.Fatalf("RENAME, DELETE, UNSUBSCRIBE of a subscribed mailbox: %q", lines)
	}

	// In IDLE, nothing selected.
	a.Send("i1 IDLE")
	a.Expect("+ ")
	b.appendMsg("b11", "INBOX", "", "i")
	a.await(`^\* STATUS "INBOX" \(UIDVALIDITY \d+ MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ \d+\)$`)
	a.Send("DONE")
	a.Expect("i1 OK")

	// Only what was asked for: MailboxName alone says nothing of mail.
	a.cmd("n2", "NOTIFY SET (subtree Lists (MailboxName)) (mailboxes INBOX (MessageNew MessageExpunge))", "OK")
	b.cmd("b12", "CREATE Lists/x", "OK")
	b.cmd("b13", "CREATE Other", "OK")
	b.appendMsg("b14", "Lists/x", "", "l")
	b.appendMsg("b15", "INBOX", "", "i2")
	lines = a.await(`^\* STATUS "INBOX" \(UIDVALIDITY \d+ MESSAGES 2 UIDNEXT 3 UNSEEN 2\)$`)
	if lineIndex(lines, `"Other"`) >= 0 || lineIndex(lines, `STATUS "Lists/x"`) >= 0 || lineIndex(lines, `* LIST () "/" "Lists/x"`) < 0 {
		t.Fatalf("filters: %q", lines)
	}

	a.cmd("n3", "NOTIFY NONE", "OK")
	b.appendMsg("b16", "INBOX", "", "i3")
	b.cmd("b17", "CREATE Quiet", "OK")
	if lines = a.cmd("a1", "NOOP", "OK"); len(lines) != 1 {
		t.Fatalf("after NOTIFY NONE: %q", lines)
	}
}

// TestNotifySelected: SELECTED with MessageNew's FETCH attributes pushes
// EXISTS and the FETCH between commands and leaves the message unseen;
// STATUS is never sent for the selected mailbox; SELECTED-DELAYED holds
// expunges back until a command may report them.
func TestNotifySelected(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	a.cmd("a1", "SELECT INBOX", "OK")
	a.cmd("n1", `NOTIFY SET (selected (MessageNew (UID BODY[HEADER.FIELDS (Subject)]) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge))`, "OK")
	b.appendMsg("b1", "INBOX", "", "pushed")
	lines := a.await(`^\* 1 EXISTS$`)
	lines = append(lines, a.await(`^\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS \(Subject\)\] \{\d+\}$`)...)
	lines = append(lines, a.await(`^Subject: pushed$`)...)
	if lineIndex(lines, "STATUS") >= 0 {
		t.Fatalf("STATUS of the selected mailbox: %q", lines)
	}
	b.cmd("b2", "SELECT INBOX", "OK")
	lines = b.cmd("b3", "FETCH 1 FLAGS", "OK")
	if lineIndex(lines, `\Seen`) >= 0 {
		t.Fatalf("the notification set \\Seen: %q", lines)
	}
	b.cmd("b4", `STORE 1 +FLAGS (\Flagged)`, "OK")
	a.await(`^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged`) // with the UID (RFC 5465 5.1)
	b.cmd("b5", `STORE 1 +FLAGS (\Deleted)`, "OK")
	b.cmd("b6", "EXPUNGE", "OK")
	a.await(`^\* 1 EXPUNGE$`)

	// SELECTED-DELAYED: new mail is pushed, the expunge waits for NOOP.
	a.cmd("n2", `NOTIFY SET (selected-delayed (MessageNew MessageExpunge))`, "OK")
	b.appendMsg("b7", "INBOX", "", "d")
	a.await(`^\* 1 EXISTS$`)
	b.cmd("b8", `STORE 1 +FLAGS (\Deleted)`, "OK")
	b.cmd("b9", "EXPUNGE", "OK")
	b.appendMsg("b10", "INBOX", "", "e") // wakes A: EXISTS, not yet EXPUNGE
	lines = a.await(`^\* 2 EXISTS$`)
	if lineIndex(lines, "EXPUNGE") >= 0 {
		t.Fatalf("SELECTED-DELAYED pushed an expunge: %q", lines)
	}
	if lines = a.cmd("a2", "NOOP", "OK"); lineIndex(lines, "* 1 EXPUNGE") < 0 {
		t.Fatalf("NOOP: %q", lines)
	}
}

// TestNotifyErrors: the refusals of RFC 5465: unsupported events (NO
// [BADEVENT] listing the supported ones), MessageNew without
// MessageExpunge for the selected mailbox, mailbox events for SELECTED,
// FETCH attributes elsewhere, and syntax.
func TestNotifyErrors(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a := r.login("ann@example.test")
	for _, c := range []struct{ cmd, want string }{
		{"NOTIFY SET (personal (AnnotationChange))", "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"},
		{"NOTIFY SET (personal (ServerMetadataChange))", "NO [BADEVENT"},
		{"NOTIFY SET (inboxes (XUnknownEvent))", "NO [BADEVENT"},
		{"NOTIFY SET (selected (MessageNew))", "BAD"},
		{"NOTIFY SET (selected (FlagChange))", "BAD"},
		{"NOTIFY SET (selected (MessageNew MessageExpunge MailboxName))", "BAD"},
		{"NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))", "BAD"},
		{"NOTIFY SET (personal (MessageNew (UID)))", "BAD"},
		{"NOTIFY SET (nowhere (MessageNew))", "BAD"},
		{"NOTIFY SET", "BAD"},
		{"NOTIFY", "BAD"},
		// Elsewhere, one message event alone is fine: STATUS carries it.
		{"NOTIFY SET (personal (MessageExpunge))", "OK"},
		{"NOTIFY SET (mailboxes (INBOX nosuch) (FlagChange))", "OK"},
		{"NOTIFY NONE", "OK"},
	} {
		a.cmd("t", c.cmd, c.want)
	}
	a.cmd("t", "LOGOUT", "OK")
	x := r.raw(true)
	x.cmd("t", "NOTIFY NONE", "BAD") // not logged in
}

// TestNotifyOverflow: a client that stops reading cannot stall the server
// or make it buffer without bound: its pushes block on the connection,
// its bounded event queue overflows, and when it reads again it is told
// NOTIFICATIONOVERFLOW and hears no more (RFC 5465 5.8). Meanwhile the
// other session's commands go through.
func TestNotifyOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("writes some 30 MB through a stalled connection")
	}
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	// A small receive buffer, so that the server's pushes stall after a
	// few MB whatever the host's TCP autotuning allows.
	if tc, ok := a.Conn.(*tls.Conn); ok {
		if nc, ok := tc.NetConn().(*net.TCPConn); ok {
			nc.SetReadBuffer(32 << 10)
		}
	}
	a.cmd("a1", "SELECT INBOX", "OK")
	a.cmd("n1", `NOTIFY SET (selected (MessageNew (BODY.PEEK[]) MessageExpunge)) (personal (MessageNew MessageExpunge FlagChange))`, "OK")
	// A reads nothing from here on. Big pushes fill the connection.
	big := strings.Repeat(strings.Repeat("x", 998)+"\r\n", 1024) // 1 MB
	for i := 0; i < 30; i++ {
		// Not text: the full-text index has nothing to tokenize, which
		// under -race on a busy machine took longer than the client waits.
		msg := "Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n" + big
		b.cmd(fmt.Sprintf("b%d", i), fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg), "OK")
	}
	// Then more events than a subscription holds, in another mailbox.
	b.cmd("c0", "CREATE Other", "OK")
	var multi strings.Builder
	multi.WriteString("APPEND Other")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&multi, " {1+}\r\nx")
	}
	b.cmd("c1", multi.String(), "OK")
	b.cmd("c2", "SELECT Other", "OK")
	start := time.Now()
	for i := 0; i < 50; i++ {
		op := "+"
		if i%2 == 1 {
			op = "-"
		}
		b.cmd(fmt.Sprintf("c%d", i+3), "STORE 1:* "+op+`FLAGS.SILENT (\Flagged)`, "OK")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("B's STOREs took %v while A was stalled", d)
	}
	// The server runs in this process: its heap while A is stalled, after
	// 30 MB of pushes and 5,000 events for A, stays far below what
	// buffering them would take.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap in use while the NOTIFY client is stalled: %.1f MB", float64(ms.HeapInuse)/(1<<20))
	if ms.HeapInuse > 256<<20 {
		t.Fatalf("heap in use %d MB", ms.HeapInuse>>20)
	}
	// A reads again: the pushes drain, and the overflow is reported.
	a.Conn.SetDeadline(time.Now().Add(60 * time.Second))
	a.Send("z1 NOOP")
	overflow := false
	for {
		l := a.Line()
		if strings.Contains(l, "[NOTIFICATIONOVERFLOW]") {
			overflow = true
		}
		if strings.HasPrefix(l, "z1 ") {
			break
		}
	}
	if !overflow {
		t.Fatal("no NOTIFICATIONOVERFLOW")
	}
	// NOTIFY is off now.
	b.cmd("d1", "CREATE After", "OK")
	if lines := a.cmd("z2", "NOOP", "OK"); len(lines) != 1 {
		t.Fatalf("after the overflow: %q", lines)
	}
}

// TestNotifyAcrossNodes: a change on another node (PostgreSQL) reaches a
// NOTIFY client: the feed brings "mailbox changed" and "list changed",
// which the session turns into STATUS and LIST.
func TestNotifyAcrossNodes(t *testing.T) {
	r := newRig(t)
	r2 := newRig(t, testrig.SecondNode(t, r.Rig))
	r.Account("ann@example.test")
	a := r.login("ann@example.test")
	b := r2.login("ann@example.test")
	a.cmd("n1", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))", "OK")
	b.cmd("b1", "CREATE Remote", "OK")
	a.await(`^\* LIST \(\) "/" "Remote"$`)
	b.appendMsg("b2", "Remote", "", "r")
	a.await(`^\* STATUS "Remote" \(UIDVALIDITY \d+ MESSAGES 1 UIDNEXT 2 UNSEEN 1\)$`)
	b.cmd("b3", "DELETE Remote", "OK")
	a.await(`^\* LIST \(\\NonExistent\) "/" "Remote"$`)
}

// TestNotifySetIsNoop: a successful NOTIFY SET reports what changed in
// the selected mailbox, as NOOP would (RFC 5465 3.1), and MessageNew's
// fetch attributes start with the messages after it.
func TestNotifySetIsNoop(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	a.cmd("a1", "SELECT INBOX", "OK")
	b.appendMsg("b1", "INBOX", "", "before")
	lines := a.cmd("n1", "NOTIFY SET (selected (MessageNew (UID) MessageExpunge))", "OK")
	if lineIndex(lines, "* 1 EXISTS") < 0 || lineIndex(lines, "FETCH") >= 0 {
		t.Fatalf("NOTIFY SET: %q", lines)
	}
	b.appendMsg("b2", "INBOX", "", "after")
	a.await(`^\* 2 EXISTS$`)
	a.await(`^\* 2 FETCH \(UID 2\)$`)
}

// TestNotifyLiveSearch: with NOTIFY on the selected mailbox, a live
// search's ADDTO comes between commands too.
func TestNotifyLiveSearch(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	a.cmd("a1", "SELECT INBOX", "OK")
	a.cmd("s1", "UID SEARCH RETURN (UPDATE) SUBJECT hit", "OK")
	a.cmd("n1", "NOTIFY SET (selected (MessageNew MessageExpunge))", "OK")
	b.appendMsg("b1", "INBOX", "", "miss")
	b.appendMsg("b2", "INBOX", "", "hit")
	lines := a.await(`^\* ESEARCH \(TAG "s1"\) UID ADDTO \(0 2\)$`)
	if lineIndex(lines, "* 2 EXISTS") < 0 || lineIndex(lines, "ADDTO (0 1)") >= 0 {
		t.Fatalf("pushed: %q", lines)
	}
}
