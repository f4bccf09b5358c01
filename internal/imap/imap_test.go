package imap

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailroom/internal/store"
)

func TestLoginRulesAndCapability(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	r.Account("off@example.test", "imap.enabled", "false")
	x := r.raw(false)
	lines := x.cmd("a1", "CAPABILITY", "OK")
	if !has(lines, "STARTTLS") || !has(lines, "LOGINDISABLED") || has(lines, "AUTH=PLAIN") {
		t.Fatalf("CAPABILITY before TLS: %q", lines)
	}
	x.cmd("a2", "LOGIN ann@example.test \""+password+"\"", "NO [PRIVACYREQUIRED]")
	x.cmd("a3", "SELECT INBOX", "BAD")
	x.cmd("a4", "STARTTLS", "OK")
	x.StartTLS()
	lines = x.cmd("a5", "CAPABILITY", "OK")
	if has(lines, "STARTTLS") || has(lines, "LOGINDISABLED") || !has(lines, "AUTH=PLAIN") || !has(lines, "IMAP4rev2") {
		t.Fatalf("CAPABILITY after TLS: %q", lines)
	}
	x.cmd("a6", "LOGIN ann@example.test wrong", "NO [AUTHENTICATIONFAILED]")
	x.cmd("a7", "LOGIN off@example.test \""+password+"\"", "NO [AUTHORIZATIONFAILED] IMAP is switched off")
	x.cmd("a8", "LOGIN ann@example.test \""+password+"\"", "OK [CAPABILITY")
	x.cmd("a9", "LOGIN ann@example.test x", "BAD")
	x.cmd("a10", "LOGOUT", "OK")
}

func TestAuthenticatePlainSASLIR(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.raw(true)
	// "\0ann@example.test\0correct horse"
	x.cmd("a1", "AUTHENTICATE PLAIN AGFubkBleGFtcGxlLnRlc3QAY29ycmVjdCBob3JzZQ==", "OK")
	x.cmd("a2", "SELECT INBOX", "OK [READ-WRITE]")
}

func TestMailboxCommands(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	c := r.client("ann@example.test", nil)
	if err := c.Create("Work/Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Reisen/Übersee", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*imap.ListData{}
	for _, l := range list {
		got[l.Mailbox] = l
	}
	for _, want := range []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Work", "Work/Projects", "Reisen/Übersee"} {
		if got[want] == nil {
			t.Fatalf("LIST lacks %q: %v", want, list)
		}
	}
	if !hasAttr(got["Sent"].Attrs, imap.MailboxAttrSent) || !hasAttr(got["Work"].Attrs, imap.MailboxAttrHasChildren) {
		t.Fatalf("attributes: Sent %v Work %v", got["Sent"].Attrs, got["Work"].Attrs)
	}
	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.Mailbox(context.Background(), acct.ID, "Job/Projects"); err != nil {
		t.Fatalf("child not renamed: %v", err)
	}
	if err := c.Delete("Job").Wait(); err == nil {
		t.Fatal("DELETE of a mailbox with children succeeded")
	}
	if err := c.Delete("Job/Projects").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("INBOX", nil).Wait(); err == nil {
		t.Fatal("CREATE INBOX succeeded")
	}
	r.Deliver(acct, "Subject: s\r\n\r\nx\r\n")
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, NumUnseen: true, Size: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 1 || *st.NumUnseen != 1 || st.UIDNext != 2 || *st.Size == 0 {
		t.Fatalf("STATUS %+v", st)
	}
	if err := c.Subscribe("Reisen/Übersee").Wait(); err != nil {
		t.Fatal(err)
	}
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func TestModifiedUTF7ForRev1(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	if _, err := r.Store.CreateMailbox(context.Background(), acct.ID, "台北", ""); err != nil {
		t.Fatal(err)
	}
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	lines := x.cmd("a2", `LIST "" "*"`, "OK")
	if !has(lines, `"&U,BTFw-"`) {
		t.Fatalf("rev1 LIST not in modified UTF-7: %q", lines)
	}
	x.cmd("a3", "SELECT &U,BTFw-", "OK")
	x.cmd("a4", "ENABLE UTF8=ACCEPT", "OK")
	if lines := x.cmd("a5", `LIST "" "*"`, "OK"); !has(lines, `"台北"`) {
		t.Fatalf("UTF8=ACCEPT LIST: %q", lines)
	}
}

func TestAppendStoreCopyMoveExpunge(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	msg := "Subject: appended\r\n\r\nbody\r\n"
	x.Send("a2 APPEND INBOX (\\Flagged $Work) \"21-Nov-2026 10:00:00 +0000\" {" + itoa(len(msg)) + "}")
	x.Expect("+ ")
	x.Send(msg)
	x.Expect("a2 OK [APPENDUID ")
	// LITERAL+ and MULTIAPPEND.
	x.Send("a3 APPEND INBOX {" + itoa(len(msg)) + "+}\r\n" + msg + " {" + itoa(len(msg)) + "+}\r\n" + msg)
	if l := x.Expect("a3 OK [APPENDUID "); !strings.Contains(l, " 2:3]") {
		t.Fatalf("MULTIAPPEND: %q", l)
	}
	lines := x.cmd("a4", "SELECT INBOX", "OK [READ-WRITE]")
	if !has(lines, "* 3 EXISTS") || !has(lines, "[UIDVALIDITY ") || !has(lines, "[UIDNEXT 4]") {
		t.Fatalf("SELECT: %q", lines)
	}
	lines = x.cmd("a5", "STORE 1:2 +FLAGS (\\Seen)", "OK")
	if !has(lines, "* 1 FETCH (FLAGS (\\Seen \\Flagged $Work") || !has(lines, "* 2 FETCH (FLAGS (\\Seen") {
		t.Fatalf("STORE: %q", lines)
	}
	lines = x.cmd("a6", "UID STORE 3 FLAGS.SILENT (\\Deleted)", "OK")
	if has(lines, "FETCH") {
		t.Fatalf("STORE .SILENT answered FETCH: %q", lines)
	}
	x.cmd("a7", "COPY 1 Archive", "OK [COPYUID ")
	x.cmd("a8", "COPY 1 Nowhere", "NO [TRYCREATE]")
	lines = x.cmd("a9", "MOVE 2 Trash", "OK")
	if !has(lines, "[COPYUID ") || !has(lines, "* 2 EXPUNGE") {
		t.Fatalf("MOVE: %q", lines)
	}
	lines = x.cmd("a10", "EXPUNGE", "OK")
	if !has(lines, "* 2 EXPUNGE") { // message 3 became 2 after the MOVE
		t.Fatalf("EXPUNGE: %q", lines)
	}
	ctx := context.Background()
	for name, want := range map[string]int{"INBOX": 1, "Archive": 1, "Trash": 1} {
		list, _ := r.Store.MessageList(ctx, r.Mailbox(acct, name).ID)
		if len(list) != want {
			t.Fatalf("%s has %d messages, want %d", name, len(list), want)
		}
	}
	// EXAMINE is read-only.
	x.cmd("a11", "EXAMINE INBOX", "OK [READ-ONLY]")
	x.cmd("a12", "STORE 1 +FLAGS (\\Deleted)", "NO [READ-ONLY]")
	x.cmd("a13", "EXPUNGE", "NO [READ-ONLY]")
	x.cmd("a14", "MOVE 1 Trash", "NO [READ-ONLY]")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestUpdatesBetweenSessions: a change made by one session (or delivered)
// reaches another at its next command, and at once in IDLE.
func TestUpdatesBetweenSessions(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: 1\r\n\r\nx\r\n")
	r.Deliver(acct, "Subject: 2\r\n\r\nx\r\n")
	a, b := r.raw(true), r.raw(true)
	for _, x := range []*raw{a, b} {
		x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
		x.cmd("e", "ENABLE IMAP4rev2", "OK")
		x.cmd("s", "SELECT INBOX", "OK")
	}
	a.cmd("a1", "STORE 1 +FLAGS (\\Flagged)", "OK")
	if lines := b.cmd("b1", "NOOP", "OK"); !has(lines, "* 1 FETCH (UID 1 FLAGS (\\Flagged))") {
		t.Fatalf("flag update: %q", lines)
	}
	b.Send("b2 IDLE")
	b.Expect("+ ")
	r.Deliver(acct, "Subject: 3\r\n\r\nx\r\n")
	b.Expect("* 3 EXISTS")
	a.cmd("a2", "STORE 2 +FLAGS (\\Deleted)", "OK")
	a.cmd("a3", "EXPUNGE", "OK")
	for l := b.Line(); l != "* 2 EXPUNGE"; l = b.Line() {
		if !strings.HasPrefix(l, "* 2 FETCH") {
			t.Fatalf("in IDLE: %q, want the flag change then * 2 EXPUNGE", l)
		}
	}
	b.Send("DONE")
	b.Expect("b2 OK")
	// A POP3-style change through the store (another protocol) shows too.
	ctx := context.Background()
	if _, err := r.Store.UpdateFlags(ctx, r.Mailbox(acct, "INBOX").ID, store.FlagUpdate{UIDs: []uint32{3}, Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if lines := b.cmd("b3", "NOOP", "OK"); has(lines, "* 2 FETCH (UID 3 FLAGS (\\Seen))") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("store change never reached the session")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadInputSurvives(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.raw(true)
	x.cmd("a1", "FROB", "BAD")
	x.cmd("a2", "LOGIN (unbalanced", "BAD")
	x.Send("a3 NOOP " + strings.Repeat("x", 1<<20))
	x.Expect("a3 BAD")
	x.cmd("a4", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.Send("a5 APPEND INBOX {999999999999}")
	x.Expect("a5 NO [TOOBIG]")
	x.cmd("a6", "NOOP", "OK")
}

// TestAppendToSelectedAnnouncesExists: an APPEND into the selected mailbox
// answers with the new EXISTS, so the APPENDUID can be fetched at once
// (found by the load tool: the feed is asynchronous).
func TestAppendToSelectedAnnouncesExists(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("a2", "SELECT INBOX", "OK")
	for i := 0; i < 20; i++ {
		msg := "Subject: " + itoa(i) + "\r\n\r\nx\r\n"
		x.Send("b" + itoa(i) + " APPEND INBOX {" + itoa(len(msg)) + "+}\r\n" + msg)
		lines := []string{}
		for l := x.Line(); !strings.HasPrefix(l, "b"+itoa(i)+" "); l = x.Line() {
			lines = append(lines, l)
		}
		if !has(lines, "* "+itoa(i+1)+" EXISTS") {
			t.Fatalf("APPEND %d: no EXISTS in %q", i, lines)
		}
		if got := x.cmd("f"+itoa(i), "UID FETCH "+itoa(i+1)+" (UID)", "OK"); !has(got, "UID "+itoa(i+1)) {
			t.Fatalf("appended message %d not fetchable at once: %q", i, got)
		}
	}
}

// TestIdleMailboxDeleted: a session in IDLE whose mailbox another session
// deletes is told BYE and disconnected (RFC 3501 7.1.5), and a session in
// IDLE with nothing selected still ends on DONE.
func TestIdleMailboxDeleted(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.raw(true), r.raw(true)
	for _, x := range []*raw{a, b} {
		x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	}
	a.cmd("c", "CREATE Projects", "OK")
	b.cmd("s", "SELECT Projects", "OK")
	b.Send("i IDLE")
	b.Expect("+ ")
	a.cmd("d", "DELETE Projects", "OK")
	b.Expect("* BYE")
	if l, err := b.R.ReadString('\n'); err == nil {
		t.Fatalf("after BYE: %q, want the connection closed", l)
	}

	a.Send("i IDLE")
	a.Expect("+ ")
	a.Send("DONE")
	a.Expect("i OK")
	a.cmd("n", "NOOP", "OK")
}
