package imap

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/acl"
)

// sharedMailboxScript: two members of support@ (a shared mailbox, which
// belongs to the domain) work its INBOX at once with imaplib, under the
// Shared namespace; one files a message into a new top-level folder the
// other sees.
const sharedMailboxScript = `
import imaplib, ssl, sys
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
kim = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); kim.login("kim@example.test", pw)
lee = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); lee.login("lee@example.test", pw)
box = '"Shared/support@example.test/INBOX"'
print("namespace", kim.namespace()[1][0].decode())
for line in kim.list()[1]:
    print("kimlist", line.decode())
typ, data = kim.select(box); print("kimselect", typ, data[0].decode())
typ, data = lee.select(box); print("leeselect", typ, data[0].decode())
print("kimstore", kim.store("1", "+FLAGS", "(\\Answered)")[0])
typ, data = lee.noop(); print("leenoop", typ, [d.decode() for d in lee.response("FETCH")[1] if d])
print("kimcreate", kim.create('"Shared/support@example.test/Done"')[0])
print("kimmove", kim._simple_command("MOVE", "1", '"Shared/support@example.test/Done"')[0])
for line in lee.list('"Shared/support@example.test/"', "*")[1]:
    print("leelist", line.decode())
typ, data = lee.status('"Shared/support@example.test/Done"', "(MESSAGES)"); print("leestatus", typ, data[0].decode())
typ, data = lee.select('"Other Users/support@example.test/INBOX"'); print("otherusers", typ, data[0].decode())
print("toplevel", lee._simple_command("MYRIGHTS", '"Shared/support@example.test/Done"')[0])
kim.logout(); lee.logout()
try:
    s = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); s.login("support@example.test", pw); print("supportlogin OK")
except imaplib.IMAP4.error as e:
    print("supportlogin refused", e)
`

func TestSharedMailboxImaplib(t *testing.T) {
	r := newRig(t)
	r.Account("kim@example.test")
	r.Account("lee@example.test")
	ctx := context.Background()
	support, err := r.Store.CreateSharedAccount(ctx, "support@example.test")
	if err != nil {
		t.Fatal(err)
	}
	inbox := r.Mailbox(support, "INBOX")
	for _, who := range []string{"kim@example.test", "lee@example.test"} {
		if _, err := r.Store.ModifyACL(ctx, inbox.ID, who, acl.Replace, acl.ReadWrite|acl.Create); err != nil {
			t.Fatal(err)
		}
	}
	r.Deliver(support, "Subject: help\r\n\r\nmy printer is on fire\r\n")
	out := r.imaplib(sharedMailboxScript)
	got := string(out)
	for _, want := range []string{
		`namespace (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))`,
		`kimlist (\Noselect \HasChildren) "/" "Shared"`,
		`kimlist (\Noselect \HasChildren) "/" "Shared/support@example.test"`,
		`kimlist (\HasNoChildren) "/" "Shared/support@example.test/INBOX"`,
		"kimselect OK 1",
		"leeselect OK 1",
		"kimstore OK",
		`leenoop OK ['1 (FLAGS (\\Answered))']`,
		"kimcreate OK",
		"kimmove OK",
		`leelist (\HasNoChildren) "/" "Shared/support@example.test/Done"`,
		`leestatus OK "Shared/support@example.test/Done" (MESSAGES 1)`,
		"otherusers NO [NONEXISTENT]",
		"toplevel OK",
		"supportlogin refused",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "kimlist") && strings.Contains(line, "Other Users") {
			t.Errorf("a shared mailbox's folder listed under Other Users: %s", line)
		}
	}
	if t.Failed() {
		t.Logf("imaplib output:\n%s", out)
	}
	// The new top level took INBOX's list.
	done := r.Mailbox(support, "Done")
	entries, err := r.Store.MailboxACL(ctx, done.ID)
	if err != nil || len(entries) != 2 {
		t.Fatalf("Done's list: %v %v", entries, err)
	}
}

// NOTIFY across accounts: a session watching the other users' namespace
// is told of mail in a folder another user shares with it, of a folder
// newly shared with it (as a mailbox that appeared) and of one no longer
// shared (as one that is gone), as they happen.
func TestNotifySharedFolders(t *testing.T) {
	r := newRig(t)
	r.Account("owner@example.test")
	r.Account("kim@example.test")
	o, k := r.login("owner@example.test"), r.login("kim@example.test")
	o.cmd("o1", "CREATE Team", "OK")
	o.cmd("o2", "CREATE Plans", "OK")
	o.cmd("o3", "SETACL Team kim@example.test lr", "OK")
	lines := k.cmd("k1", `NOTIFY SET STATUS (subtree "Other Users" (MessageNew MessageExpunge FlagChange MailboxName))`, "OK")
	if lineIndex(lines, `* STATUS "Other Users/owner@example.test/Team" (UIDVALIDITY `) < 0 {
		t.Fatalf("NOTIFY SET STATUS: %q", lines)
	}
	o.appendMsg("o4", "Team", "", "news")
	k.await(`^\* STATUS "Other Users/owner@example.test/Team" \(UIDVALIDITY \d+ MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ \d+\)$`)
	o.appendMsg("o5", "Plans", "", "private") // not kim's: nothing
	o.cmd("o6", "SETACL Plans kim@example.test lr", "OK")
	lines = k.await(`^\* LIST \(\) "/" "Other Users/owner@example.test/Plans"$`)
	for _, l := range lines {
		if strings.Contains(l, "Plans") && strings.HasPrefix(l, "* STATUS") {
			t.Fatalf("told of a folder before it was shared: %q", lines)
		}
	}
	o.cmd("o7", "DELETEACL Team kim@example.test", "OK")
	k.await(`^\* LIST \(\\NonExistent\) "/" "Other Users/owner@example.test/Team"$`)
	// A new owner: the first share from an account kim followed nothing of.
	r.Account("lee@example.test")
	l := r.login("lee@example.test")
	l.cmd("l1", "SETACL INBOX kim@example.test lr", "OK")
	k.await(`^\* LIST \(\) "/" "Other Users/lee@example.test/INBOX"$`)
	l.appendMsg("l2", "INBOX", "", "hello kim")
	k.await(`^\* STATUS "Other Users/lee@example.test/INBOX" \(UIDVALIDITY \d+ MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ \d+\)$`)
	k.cmd("k2", "NOOP", "OK")
}
