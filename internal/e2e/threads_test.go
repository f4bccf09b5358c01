package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

var threadIDRE = regexp.MustCompile(`THREADID \((T\d+)\)`)

// fetchThreadID selects a mailbox and returns the THREADID of its message uid.
func fetchThreadID(t *testing.T, im *line, mailbox, uid string) string {
	t.Helper()
	im.imapCmd("s", "SELECT "+mailbox)
	lines := im.imapCmd("f", "UID FETCH "+uid+" (THREADID EMAILID)")
	if len(lines) != 1 {
		t.Fatalf("UID FETCH %s in %s: %q", uid, mailbox, lines)
	}
	m := threadIDRE.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("no THREADID in %q", lines[0])
	}
	return m[1]
}

// A conversation spans folders: a message that arrives over SMTP and the
// reply a client files in Sent with APPEND have the same THREADID (RFC
// 8474), SEARCH THREADID finds the reply, and an unrelated message with
// the same subject is another conversation.
func TestThreadIDAcrossFolders(t *testing.T) {
	r := start(t)
	r.sendMX("bob@example.org", "From: Bob <bob@example.org>\r\nTo: ann@example.test\r\nSubject: Dinner on Friday\r\n"+
		"Message-ID: <dinner-1@example.org>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nAre you free?\r\n")
	r.sendMX("carol@example.org", "From: Carol <carol@example.org>\r\nTo: ann@example.test\r\nSubject: Dinner on Friday\r\n"+
		"Message-ID: <other@example.org>\r\nDate: Sat, 21 Nov 2026 11:00:00 +0000\r\n\r\nAnother dinner.\r\n")
	reply := "From: Ann <ann@example.test>\r\nTo: bob@example.org\r\nSubject: Re: Dinner on Friday\r\n" +
		"Message-ID: <reply-1@example.test>\r\nIn-Reply-To: <dinner-1@example.org>\r\nReferences: <dinner-1@example.org>\r\n" +
		"Date: Sat, 21 Nov 2026 12:00:00 +0000\r\n\r\nYes!\r\n"
	c := r.imapClient("ann@example.test", nil)
	app := c.Append("Sent", int64(len(reply)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if _, err := app.Write([]byte(reply)); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}

	im := r.imap()
	orig := fetchThreadID(t, im, "INBOX", "1")
	other := fetchThreadID(t, im, "INBOX", "2")
	sent := fetchThreadID(t, im, "Sent", "1")
	if sent != orig || other == orig {
		t.Fatalf("THREADIDs: original %s, reply in Sent %s, unrelated %s", orig, sent, other)
	}
	if got := im.imapCmd("a", "UID SEARCH THREADID "+orig); len(got) != 1 || strings.TrimSpace(got[0]) != "* SEARCH 1" {
		t.Fatalf("UID SEARCH THREADID %s in Sent: %q", orig, got)
	}
	im.imapCmd("s", "SELECT INBOX")
	if got := im.imapCmd("b", "SEARCH THREADID "+other); len(got) != 1 || strings.TrimSpace(got[0]) != "* SEARCH 2" {
		t.Fatalf("SEARCH THREADID %s in INBOX: %q", other, got)
	}
	// A moved message keeps its THREADID (a copy shares it: TestObjectIDs).
	im.imapCmd("m", "UID MOVE 1 Archive")
	if moved := fetchThreadID(t, im, "Archive", "1"); moved != orig {
		t.Fatalf("moved original: %s, want %s", moved, orig)
	}
}
