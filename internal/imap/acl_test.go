package imap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// sharedScript is the scenario with Python's imaplib, two users at
// once: user1 shares Team with user2 read/write; user2 finds it in LIST
// (and nothing else of user1's), selects it, flags a message, which user1
// sees at once, and appends; with read-only rights APPEND is refused.
const sharedScript = `
import imaplib, ssl, sys, re
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
u1 = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); u1.login("user1@example.test", pw)
u2 = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); u2.login("user2@example.test", pw)
print("caps", " ".join(c.decode() if isinstance(c, bytes) else c for c in u2.capabilities))
print("namespace", u2.namespace()[1][0].decode())
print("create", u1.create("Team")[0])
print("append1", u1.append("Team", None, None, b"Subject: team one\r\n\r\nfirst\r\n")[0])
print("setacl", u1._simple_command("SETACL", "Team", "user2@example.test", "lrswipte")[0])
typ, data = u1._simple_command("GETACL", "Team"); print("getacl", typ, u1._untagged_response(typ, data, "ACL")[1][0].decode())
for line in u2.list()[1]:
    print("u2list", line.decode())
typ, data = u2._simple_command("MYRIGHTS", '"Other Users/user1@example.test/Team"')
print("myrights", typ, u2._untagged_response(typ, data, "MYRIGHTS")[1][0].decode())
print("u1select", u1.select("Team")[0])
typ, data = u2.select('"Other Users/user1@example.test/Team"'); print("u2select", typ, data[0].decode())
print("u2store", u2.store("1", "+FLAGS", "(\\Flagged)")[0])
typ, data = u1.noop(); print("u1noop", typ, [d.decode() for d in u1.response("FETCH")[1] if d])
print("u2append", u2.append('"Other Users/user1@example.test/Team"', None, None, b"Subject: from user2\r\n\r\nhello\r\n")[0])
typ, data = u1.noop(); print("u1exists", u1.response("EXISTS")[1][-1].decode())
print("readonly", u1._simple_command("SETACL", "Team", "user2@example.test", "lr")[0])
typ, data = u2.append('"Other Users/user1@example.test/Team"', None, None, b"Subject: refused\r\n\r\nno\r\n")
print("u2append2", typ, data[0].decode())
typ, data = u2.select('"Other Users/user1@example.test/Sent"')
print("private", typ, data[0].decode())
u1.logout(); u2.logout()
`

func TestSharedFolderImaplib(t *testing.T) {
	r := newRig(t)
	r.Account("user1@example.test")
	r.Account("user2@example.test")
	out := r.imaplib(sharedScript)
	got := string(out)
	for _, want := range []string{
		"ACL RIGHTS=TEXK", // as imaplib spells capabilities
		`namespace (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))`,
		"setacl OK",
		`getacl OK "Team" user1@example.test lrswipkxteacd user2@example.test lrswipted`,
		`u2list (\Noselect \HasChildren) "/" "Other Users"`,
		`u2list (\Noselect \HasChildren) "/" "Other Users/user1@example.test"`,
		`u2list (\HasNoChildren) "/" "Other Users/user1@example.test/Team"`,
		`myrights OK "Other Users/user1@example.test/Team" lrswipted`,
		"u2select OK 1",
		"u2store OK",
		`u1noop OK ['1 (FLAGS (\\Flagged \\Recent))']`,
		"u2append OK",
		"u1exists 2",
		"readonly OK",
		"u2append2 NO [NOPERM]",
		"private NO [NONEXISTENT]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// user1's other folders stay invisible.
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "u2list") && strings.Contains(line, "user1@example.test/") && !strings.Contains(line, "/Team") {
			t.Errorf("user2 sees %s", line)
		}
	}
	if t.Failed() {
		t.Logf("imaplib output:\n%s", out)
	}
}

// TestACLCommands follows RFC 4314's examples and its rules for what each
// right allows, with two users on raw connections.
func TestACLCommands(t *testing.T) {
	r := newRig(t)
	r.Account("fred@example.test")
	r.Account("david@example.test")
	r.Account("chris@example.test")
	fred := r.login("fred@example.test")
	david := r.login("david@example.test")

	fred.cmd("a1", "CREATE INBOX/Drafts", "OK")
	// 2.1.1: "d" expands to the delete rights (here x, t and e) and comes
	// back in GETACL, as "c" does for k.
	fred.cmd("a2", "SETACL INBOX/Drafts david@example.test lrswid", "OK")
	if l := fred.cmd("a3", "GETACL INBOX/Drafts", "OK"); !has(l, `* ACL "INBOX/Drafts" fred@example.test lrswipkxteacd david@example.test lrswixted`) {
		t.Fatalf("GETACL: %q", l)
	}
	// 3.1: "+cda" adds; "-" removes; unknown or upper-case rights are BAD.
	fred.cmd("a4", "SETACL INBOX/Drafts chris@example.test lrswi", "OK")
	fred.cmd("a5", "SETACL INBOX/Drafts chris@example.test +cda", "OK")
	if l := fred.cmd("a6", "GETACL INBOX/Drafts", "OK"); !has(l, "chris@example.test lrswikxteacd") {
		t.Fatalf("after +cda: %q", l)
	}
	fred.cmd("a7", "SETACL INBOX/Drafts chris@example.test -wa", "OK")
	if l := fred.cmd("a8", "GETACL INBOX/Drafts", "OK"); !has(l, "chris@example.test lrsikxtecd") {
		t.Fatalf("after -wa: %q", l)
	}
	fred.cmd("a9", "SETACL INBOX/Drafts chris@example.test lrQswicda", "BAD")
	fred.cmd("b1", "SETACL INBOX/Drafts chris@example.test lrqswicda", "BAD")
	fred.cmd("b2", "SETACL INBOX/Drafts chris@example.test lr9", "BAD")
	// Identifiers: nobody by that name is NO; something that cannot be an
	// identifier is BAD; negative rights and the owner are refused.
	if l := fred.cmd("b3", "SETACL INBOX/Drafts nobody@example.test lr", "NO"); !has(l, "not found") {
		t.Fatalf("unknown account: %q", l)
	}
	fred.cmd("b4", "SETACL INBOX/Drafts @nowhere.test lr", "NO")
	fred.cmd("b5", `SETACL INBOX/Drafts "" lr`, "BAD")
	fred.cmd("b6", "SETACL INBOX/Drafts -chris@example.test w", "NO")
	if l := fred.cmd("b7", "SETACL INBOX/Drafts fred@example.test lr", "NO"); !has(l, "[CANNOT]") {
		t.Fatalf("owner: %q", l)
	}
	fred.cmd("b8", "SETACL INBOX/Drafts anyone l", "OK")
	fred.cmd("b9", "SETACL INBOX/Drafts @example.test r", "OK")
	// 3.2: DELETEACL removes the entry; deleting what is not there is fine.
	fred.cmd("c1", "DELETEACL INBOX/Drafts chris@example.test", "OK")
	fred.cmd("c2", "DELETEACL INBOX/Drafts chris@example.test", "OK")
	if l := fred.cmd("c3", "GETACL INBOX/Drafts", "OK"); has(l, "chris@") || !has(l, "anyone l") || !has(l, "@example.test r") {
		t.Fatalf("after DELETEACL: %q", l)
	}
	// 3.4, 3.5: LISTRIGHTS and MYRIGHTS.
	if l := fred.cmd("c4", "LISTRIGHTS INBOX/Drafts David@Example.test", "OK"); !has(l, `* LISTRIGHTS "INBOX/Drafts" David@Example.test "" l r s w i p k x t e a c d`) {
		t.Fatalf("LISTRIGHTS: %q", l)
	}
	if l := fred.cmd("c5", "LISTRIGHTS INBOX fred@example.test", "OK"); !has(l, `* LISTRIGHTS "INBOX" fred@example.test lrswipkxtea`) {
		t.Fatalf("LISTRIGHTS of the owner: %q", l)
	}
	if l := fred.cmd("c6", "MYRIGHTS INBOX", "OK"); !has(l, `* MYRIGHTS "INBOX" lrswipkxteacd`) {
		t.Fatalf("MYRIGHTS: %q", l)
	}

	// What david may do in Fred's INBOX/Drafts (lrswixte: no a, no k).
	box := `"Other Users/fred@example.test/INBOX/Drafts"`
	if l := david.cmd("d1", "MYRIGHTS "+box, "OK"); !has(l, "lrswixted") {
		t.Fatalf("david's MYRIGHTS: %q", l)
	}
	// 4: GETACL, SETACL and LISTRIGHTS need "a".
	david.cmd("d2", "GETACL "+box, "NO [NOPERM]")
	david.cmd("d3", "SETACL "+box+" david@example.test +a", "NO [NOPERM]")
	david.cmd("d4", "LISTRIGHTS "+box+" anyone", "NO [NOPERM]")
	// Fred's INBOX is not shared: it does not exist for david (6).
	david.cmd("d5", `MYRIGHTS "Other Users/fred@example.test/INBOX"`, "NO [NONEXISTENT]")
	david.cmd("d6", `GETACL "Other Users/fred@example.test/INBOX"`, "NO [NONEXISTENT]")
	david.cmd("d7", `SELECT "Other Users/fred@example.test/INBOX"`, "NO [NONEXISTENT]")
	david.cmd("d8", `STATUS "Other Users/nobody@example.test/INBOX" (MESSAGES)`, "NO [NONEXISTENT]")
	// CREATE needs "k" on the parent; DELETE needs "x".
	david.cmd("d9", `CREATE "Other Users/fred@example.test/INBOX/Drafts/Sub"`, "NO [NOPERM]")
	david.cmd("e1", `CREATE "Other Users/fred@example.test/New"`, "NO [NOPERM]")
	david.cmd("e2", `CREATE "Other Users/x"`, "NO")
	fred.cmd("e3", "SETACL INBOX/Drafts david@example.test +k", "OK")
	david.cmd("e4", `CREATE "Other Users/fred@example.test/INBOX/Drafts/Sub"`, "OK")
	// The new mailbox inherits its parent's list: david sees it.
	if l := david.cmd("e5", `LIST "" "Other Users/*"`, "OK"); !has(l, `"Other Users/fred@example.test/INBOX/Drafts/Sub"`) {
		t.Fatalf("LIST after CREATE: %q", l)
	}
	if l := fred.cmd("e6", "GETACL INBOX/Drafts/Sub", "OK"); !has(l, "david@example.test lrswikxtecd") {
		t.Fatalf("inherited list: %q", l)
	}
	david.cmd("e7", `RENAME "Other Users/fred@example.test/INBOX/Drafts/Sub" Mine`, "NO")
	david.cmd("e8", `DELETE "Other Users/fred@example.test/INBOX/Drafts/Sub"`, "OK")
	// Nobody makes mailboxes of their own in the other users' namespace.
	fred.cmd("e9", `CREATE "Other Users/mine"`, "NO")
	// DELETE takes the list along (4).
	fred.cmd("f1", "DELETE INBOX/Drafts", "OK")
	david.cmd("f2", "MYRIGHTS "+box, "NO [NONEXISTENT]")
}

// TestACLFlagRights checks what flag rights do to STORE, FETCH, COPY,
// EXPUNGE and CLOSE (RFC 4314 4), and that a share is one level deep: a
// user sees other users' own mailboxes, never what was shared with them.
func TestACLFlagRights(t *testing.T) {
	r := newRig(t)
	owner := r.Account("owner@example.test")
	reader := r.Account("reader@example.test")
	r.Deliver(owner, "Subject: one\r\n\r\nfirst\r\n")
	o := r.login("owner@example.test")
	x := r.login("reader@example.test")
	o.cmd("a1", "SETACL INBOX reader@example.test lr", "OK")
	box := `"Other Users/owner@example.test/INBOX"`

	// "lr": read only. SELECT says so; FETCH BODY[] does not set \Seen.
	if l := x.cmd("b1", "SELECT "+box, "OK"); !has(l, "[READ-ONLY]") || !has(l, "[PERMANENTFLAGS ()]") {
		t.Fatalf("SELECT with lr: %q", l)
	}
	x.cmd("b2", "FETCH 1 BODY[]", "OK")
	o.cmd("b4", "SELECT INBOX", "OK")
	if l := o.cmd("b5", "FETCH 1 FLAGS", "OK"); has(l, `\Seen`) {
		t.Fatalf("a reader without s set \\Seen: %q", l)
	}
	x.cmd("b6", "UNSELECT", "OK")

	// "lrs": \Seen only. STORE of other flags alone is NOPERM; mixed,
	// only \Seen is set; EXPUNGE needs "e"; CLOSE without "e" just closes.
	o.cmd("c1", "SETACL INBOX reader@example.test lrs", "OK")
	if l := x.cmd("c2", "SELECT "+box, "OK"); !has(l, "[READ-WRITE]") || !has(l, `\Seen`) {
		t.Fatalf("SELECT with lrs: %q", l)
	}
	x.cmd("c3", `STORE 1 +FLAGS (\Flagged)`, "NO [NOPERM]")
	if l := x.cmd("c4", `STORE 1 +FLAGS (\Seen \Flagged)`, "OK"); !has(l, `FLAGS (\Seen)`) {
		t.Fatalf("mixed STORE: %q", l)
	}
	// FLAGS replaces only what the user may change: \Seen goes, and a
	// flag set by the owner stays.
	o.cmd("c5", `STORE 1 +FLAGS (\Answered)`, "OK")
	if l := x.cmd("c6", `STORE 1 FLAGS ()`, "OK"); !has(l, `FLAGS (\Answered)`) {
		t.Fatalf("replace with lrs: %q", l)
	}
	x.cmd("c7", `STORE 1 +FLAGS (\Deleted)`, "NO [NOPERM]")
	x.cmd("c8", "EXPUNGE", "NO [NOPERM]")
	o.cmd("c9", `STORE 1 +FLAGS (\Deleted)`, "OK")
	x.cmd("d1", "CLOSE", "OK")
	if l := o.cmd("d2", "FETCH 1:* UID", "OK"); !has(l, "* 1 FETCH") {
		t.Fatalf("CLOSE without e expunged: %q", l)
	}
	o.cmd("d3", `STORE 1 -FLAGS (\Deleted)`, "OK")

	// COPY into the shared INBOX needs "i"; the copy keeps only the flags
	// the user may set there ("lrsi": \Seen, not \Flagged or keywords).
	r.Deliver(reader, "Subject: mine\r\n\r\nfrom the reader\r\n")
	x.cmd("e1", "SELECT INBOX", "OK")
	x.cmd("e2", `STORE 1 +FLAGS (\Seen \Flagged $Label1)`, "OK")
	x.cmd("e3", "COPY 1 "+box, "NO [NOPERM]")
	o.cmd("e4", "SETACL INBOX reader@example.test +i", "OK")
	if l := x.cmd("e5", "COPY 1 "+box, "OK"); !has(l, "[COPYUID") {
		t.Fatalf("COPY: %q", l)
	}
	if l := o.cmd("e6", "FETCH 2 (FLAGS BODY[TEXT])", "OK"); !has(l, `FLAGS (\Seen \Recent)`) || !has(l, "from the reader") {
		t.Fatalf("copied message: %q", l)
	}
	// MOVE out of the shared INBOX needs "t" and "e" there.
	x.cmd("e7", "SELECT "+box, "OK")
	x.cmd("e8", "MOVE 2 INBOX", "NO [NOPERM]")
	o.cmd("e9", "SETACL INBOX reader@example.test +te", "OK")
	x.cmd("f1", "SELECT "+box, "OK")
	x.cmd("f2", "MOVE 2 INBOX", "OK")
	if l := x.cmd("f3", "STATUS INBOX (MESSAGES)", "OK"); !has(l, "MESSAGES 2") {
		t.Fatalf("after MOVE: %q", l)
	}

	// Shares both ways are still one level each: no loop, no nesting.
	x.cmd("g1", "CREATE Box", "OK")
	x.cmd("g2", "SETACL Box owner@example.test lr", "OK")
	for _, c := range []*raw{o, x} {
		l := c.cmd("g3", `LIST "" "*"`, "OK")
		n := 0
		for _, line := range l {
			if strings.Contains(line, "Other Users/") && strings.Count(line, "Other Users") > 1 {
				t.Fatalf("nested share: %q", line)
			}
			if strings.Contains(line, "@example.test/") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("want one shared mailbox listed, got %q", l)
		}
	}
}

// TestACLTooManyEntries: a client that shares one mailbox with 10,000
// identifiers gets the first store.MaxACLEntries and then a NO that says
// why, for each one more; the session and the list stay usable.
func TestACLTooManyEntries(t *testing.T) {
	r := newRig(t)
	r.Account("owner@example.test")
	ctx := context.Background()
	const tries = 10_000
	for i := range tries {
		if _, err := r.Store.CreateDomain(ctx, fmt.Sprintf("d%d.test", i)); err != nil {
			t.Fatal(err)
		}
	}
	o := r.login("owner@example.test")
	// 10,000 commands take longer than a connection's usual minute under
	// the race detector on a slow machine; what is tested is the answers.
	o.Conn.SetDeadline(time.Now().Add(5 * time.Minute))
	o.cmd("a", "CREATE Team", "OK")
	// Pipelined, as a script would send them; read as they come.
	go func() {
		var b strings.Builder
		for i := range tries {
			fmt.Fprintf(&b, "s%d SETACL Team @d%d.test lr\r\n", i, i)
			if b.Len() > 64<<10 || i == tries-1 {
				o.Conn.Write([]byte(b.String()))
				b.Reset()
			}
		}
	}()
	refused := 0
	for i := range tries {
		l := o.Line()
		switch {
		case i < store.MaxACLEntries && l != fmt.Sprintf("s%d OK SETACL completed", i):
			t.Fatalf("entry %d: %q", i, l)
		case i >= store.MaxACLEntries && !(strings.HasPrefix(l, fmt.Sprintf("s%d NO ", i)) && strings.Contains(l, "1000 access control entries")):
			t.Fatalf("entry %d beyond the limit: %q", i, l)
		case i >= store.MaxACLEntries:
			refused++
		}
	}
	if refused != tries-store.MaxACLEntries {
		t.Fatalf("%d refused", refused)
	}
	lines := o.cmd("g", "GETACL Team", "OK")
	if n := strings.Count(lines[0], "@d"); n != store.MaxACLEntries {
		t.Fatalf("GETACL lists %d entries", n)
	}
	o.cmd("d", "DELETEACL Team @d0.test", "OK")
	o.cmd("e", "SETACL Team @d9999.test lr", "OK")
}
