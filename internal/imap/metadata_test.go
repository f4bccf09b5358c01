package imap

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/store"
)

// metadataScript drives annotations with Python's imaplib (which knows
// the commands once told they exist), two users on a shared mailbox:
// shared entries are one value for both, private ones each user's own,
// and the rights decide who may read or set what.
const metadataScript = `
import imaplib, ssl, sys
imaplib.Commands["GETMETADATA"] = ("AUTH", "SELECTED")
imaplib.Commands["SETMETADATA"] = ("AUTH", "SELECTED")
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
u1 = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); u1.login("user1@example.test", pw)
u2 = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); u2.login("user2@example.test", pw)
team = '"Other Users/user1@example.test/Team"'
def get(c, label, *args):
    try:
        typ, data = c._simple_command("GETMETADATA", *args)
    except imaplib.IMAP4.error as e:
        print(label, "ERR", e); return
    if typ != "OK":
        print(label, typ, data[0].decode()); return
    meta = c._untagged_response(typ, data, "METADATA")[1]
    print(label, typ, repr([d if isinstance(d, tuple) else d.decode() for d in meta if d is not None]))
def set(c, label, *args):
    try:
        typ, data = c._simple_command("SETMETADATA", *args)
        print(label, typ, data[0].decode())
    except imaplib.IMAP4.error as e:
        print(label, "ERR", e)
print("caps", " ".join(c.decode() if isinstance(c, bytes) else c for c in u1.capabilities))
u1.create("Team")
u1._simple_command("SETACL", "Team", "user2@example.test", "lrswi")
set(u1, "u1set", "Team", '(/shared/comment "Team notes" /private/comment "u1 only")')
get(u1, "u1get", "Team", "(/shared/comment /private/comment)")
get(u2, "u2get", team, "(/shared/comment /private/comment)")
set(u2, "u2setpriv", team, '(/private/comment "u2 only")')
get(u2, "u2get2", team, "/private/comment")
get(u1, "u1get2", "Team", "/private/comment")
set(u2, "u2setshared", team, '(/shared/comment "edited by u2")')
get(u1, "u1get3", "Team", "/shared/comment")
u1._simple_command("SETACL", "Team", "user2@example.test", "lr")
set(u2, "u2readonly", team, '(/shared/comment "again")')
set(u2, "u2readonlypriv", team, '(/private/comment "still mine")')
u1._simple_command("SETACL", "Team", "user2@example.test", "r")
get(u2, "u2nolookup", team, "/shared/comment")
u1._simple_command("DELETEACL", "Team", "user2@example.test")
get(u2, "u2norights", team, "/shared/comment")
set(u1, "srvpriv", '""', '(/private/vendor/example/theme "dark")')
get(u1, "srvget1", '""', "/private/vendor/example/theme")
get(u2, "srvget2", '""', "/private/vendor/example/theme")
set(u1, "srvshared", '""', '(/shared/comment "motd")')
get(u1, "badname", "INBOX", "/comment")
set(u1, "badset", "INBOX", '(/shared/vendor/x "v")')
u1.logout(); u2.logout()
`

func TestMetadataImaplib(t *testing.T) {
	r := newRig(t)
	r.Account("user1@example.test")
	r.Account("user2@example.test")
	out := r.imaplib(metadataScript)
	got := string(out)
	for _, want := range []string{
		"METADATA METADATA-SERVER",
		"u1set OK",
		`u1get OK ['"Team" (/private/comment "u1 only" /shared/comment "Team notes")']`,
		// user2 sees the shared value; user1's private one is not theirs.
		`u2get OK ['"Other Users/user1@example.test/Team" (/shared/comment "Team notes" /private/comment NIL)']`,
		"u2setpriv OK",
		`u2get2 OK ['"Other Users/user1@example.test/Team" (/private/comment "u2 only")']`,
		`u1get2 OK ['"Team" (/private/comment "u1 only")']`,
		// "w" lets user2 set a shared entry, which user1 then reads.
		"u2setshared OK",
		`u1get3 OK ['"Team" (/shared/comment "edited by u2")']`,
		// Read-only: private entries yes, shared ones no.
		"u2readonly NO [NOPERM]",
		"u2readonlypriv OK",
		// Visible without "l": no annotations; without rights: no mailbox.
		"u2nolookup NO [NOPERM]",
		"u2norights NO [NONEXISTENT]",
		// Server entries: private per user; shared ones not for users.
		"srvpriv OK",
		`srvget1 OK ['"" (/private/vendor/example/theme "dark")']`,
		`srvget2 OK ['"" (/private/vendor/example/theme NIL)']`,
		"srvshared NO [NOPERM]",
		"badname ERR GETMETADATA command error: BAD",
		"badset ERR SETMETADATA command error: BAD",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("imaplib output:\n%s", out)
	}
}

// TestMetadataCommands follows RFC 5464's examples on a raw connection,
// responses checked to the octet, and its limits and errors.
func TestMetadataCommands(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")

	// 4.3: a multi-line value in a literal; 4.2: reading it back.
	x.Send("a1 SETMETADATA INBOX (/private/comment {33}")
	x.Expect("+ ")
	x.Send("My new comment across\r\ntwo lines.)")
	x.tagged("a1", "OK")
	x.Send("a2 GETMETADATA INBOX /private/comment")
	if l := x.readResp("a2"); len(l) != 2 || l[0] != "* METADATA \"INBOX\" (/private/comment {33}My new comment across\r\ntwo lines.)" {
		t.Fatalf("GETMETADATA of a literal value: %q", l)
	}
	x.cmd("a3", `SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "Shared comment")`, "OK")
	// Entry names are case-insensitive.
	if l := x.cmd("a4", `GETMETADATA "INBOX" (/Shared/Comment /PRIVATE/comment)`, "OK"); !has(l, `* METADATA "INBOX" (/private/comment "My own comment" /shared/comment "Shared comment")`) {
		t.Fatalf("GETMETADATA: %q", l)
	}
	// 4.3: NIL deletes; a missing entry asked for comes back NIL.
	x.cmd("a5", "SETMETADATA INBOX (/private/comment NIL)", "OK")
	if l := x.cmd("a6", `GETMETADATA "INBOX" /private/comment`, "OK"); !has(l, `* METADATA "INBOX" (/private/comment NIL)`) {
		t.Fatalf("after NIL: %q", l)
	}

	// 4.2.1: MAXSIZE leaves out larger values and says how large the
	// largest was; options before the mailbox (the syntax) or after (the
	// examples).
	big := strings.Repeat("x", 2199)
	x.cmd("b1", fmt.Sprintf("SETMETADATA INBOX (/shared/comment {%d+}\r\n%s /private/comment \"My own comment\")", len(big), big), "OK")
	for _, c := range []string{`GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)`, `GETMETADATA (MAXSIZE 1024) "INBOX" (/shared/comment /private/comment)`} {
		l := x.cmd("b2", c, "OK [METADATA LONGENTRIES 2199]")
		if len(l) != 2 || l[0] != `* METADATA "INBOX" (/private/comment "My own comment")` {
			t.Fatalf("%s: %q", c, l)
		}
	}
	x.cmd("b3", `GETMETADATA (MAXSIZE 1) "INBOX" /private/vendor/none`, "OK GETMETADATA")

	// 4.2.2: DEPTH.
	x.cmd("c1", `SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \"boss@example.com\"" /private/filters/values/boss/x "deep")`, "OK")
	if l := x.cmd("c2", `GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)`, "OK"); len(l) != 2 ||
		l[0] != `* METADATA "INBOX" (/private/filters/values/boss "FROM \"boss@example.com\"" /private/filters/values/small "SMALLER 5000")` {
		t.Fatalf("DEPTH 1: %q", l)
	}
	if l := x.cmd("c3", `GETMETADATA "INBOX" (DEPTH infinity) (/private/filters)`, "OK"); !has(l, "/private/filters/values/boss/x") {
		t.Fatalf("DEPTH infinity: %q", l)
	}
	if l := x.cmd("c4", `GETMETADATA "INBOX" (/private/filters)`, "OK"); len(l) != 2 || l[0] != `* METADATA "INBOX" (/private/filters NIL)` {
		t.Fatalf("DEPTH 0: %q", l)
	}

	// Binary values: literal8 in, literal8 out (value = nstring / literal8).
	x.cmd("d1", "SETMETADATA INBOX (/private/vendor/example/bin ~{5+}\r\na\x00b\r\n)", "OK")
	x.Send("d2 GETMETADATA INBOX /private/vendor/example/bin")
	if l := x.readResp("d2"); len(l) != 2 || l[0] != "* METADATA \"INBOX\" (/private/vendor/example/bin ~{5}a\x00b\r\n)" {
		t.Fatalf("literal8: %q", l)
	}

	// /private/specialuse shows the special use, and cannot be set.
	x.cmd("e1", `CREATE MyDrafts (USE (\Drafts))`, "OK")
	if l := x.cmd("e2", `GETMETADATA "MyDrafts" /private/specialuse`, "OK"); !has(l, `* METADATA "MyDrafts" (/private/specialuse "\\Drafts")`) {
		t.Fatalf("specialuse: %q", l)
	}
	x.cmd("e3", `SETMETADATA "MyDrafts" (/private/specialuse "\\Sent")`, "NO [CANNOT]")

	// Invalid entry names are BAD (3.2).
	for _, c := range []string{
		`GETMETADATA INBOX /comment`, `GETMETADATA INBOX /shared/*`, `GETMETADATA INBOX "/shared/a%"`, `GETMETADATA INBOX /shared//x`,
		`GETMETADATA INBOX /shared/x/`, "GETMETADATA INBOX {8+}\r\n/shared\x01", `SETMETADATA INBOX (/private "x")`,
		`SETMETADATA INBOX (/shared/vendor/acme "x")`, `SETMETADATA INBOX (/shared/` + strings.Repeat("n", store.MaxMetadataName) + ` "x")`,
		`GETMETADATA (DEPTH 2) INBOX /shared`, `GETMETADATA (MAXSIZE 1 FOO) INBOX /shared`, `SETMETADATA INBOX ()`,
	} {
		x.cmd("f1", c, "BAD")
	}
	// No such mailbox.
	x.cmd("f2", `GETMETADATA Nowhere /shared/comment`, "NO [NONEXISTENT]")
	x.cmd("f3", `SETMETADATA Nowhere (/shared/comment "x")`, "NO [NONEXISTENT]")

	// Limits: a value too large, announced as a literal, is refused
	// before it is sent; quoted, after; too many entries; and a failed
	// command changes nothing.
	x.Send(fmt.Sprintf("g1 SETMETADATA INBOX (/shared/big {%d}", store.MaxMetadataValue+1))
	x.tagged("g1", fmt.Sprintf("NO [METADATA MAXSIZE %d]", store.MaxMetadataValue))
	x.cmd("g2", fmt.Sprintf("SETMETADATA INBOX (/shared/big {%d+}\r\n%s)", store.MaxMetadataValue+1, strings.Repeat("y", store.MaxMetadataValue+1)),
		fmt.Sprintf("NO [METADATA MAXSIZE %d]", store.MaxMetadataValue))
	x.cmd("g3", "NOOP", "OK")
	var fill strings.Builder
	for i := 0; i < store.MaxMetadataEntries; i++ {
		fmt.Fprintf(&fill, " /private/n%03d \"v\"", i)
	}
	x.cmd("g4", "SETMETADATA Drafts ("+fill.String()[1:]+")", "OK")
	x.cmd("g5", `SETMETADATA Drafts (/shared/fine "ok" /private/one-more "v")`, "NO [METADATA TOOMANY]")
	if l := x.cmd("g6", `GETMETADATA Drafts (/shared/fine /private/one-more)`, "OK"); !has(l, "(/shared/fine NIL /private/one-more NIL)") {
		t.Fatalf("a failed SETMETADATA changed something: %q", l)
	}
	x.cmd("g7", `SETMETADATA Drafts (/private/n000 NIL /private/one-more "v")`, "OK")
	x.cmd("g8", "SETMETADATA Drafts ("+strings.Repeat(`/private/x "v" `, 2*store.MaxMetadataEntries)+`/private/x "v")`, "NO [METADATA TOOMANY]")

	// RENAME keeps a mailbox's annotations; renaming INBOX copies them;
	// DELETE drops them.
	x.cmd("h1", `SETMETADATA Drafts (/shared/comment "drafts")`, "OK")
	x.cmd("h2", `RENAME Drafts "Entw&APw-rfe"`, "OK")
	if l := x.cmd("h3", `GETMETADATA "Entw&APw-rfe" /shared/comment`, "OK"); !has(l, `* METADATA "Entw&APw-rfe" (/shared/comment "drafts")`) {
		t.Fatalf("after RENAME: %q", l)
	}
	x.cmd("h4", "DELETE Entw&APw-rfe", "OK")
	x.cmd("h5", "CREATE Entw&APw-rfe", "OK")
	if l := x.cmd("h6", `GETMETADATA "Entw&APw-rfe" /shared/comment`, "OK"); !has(l, "(/shared/comment NIL)") {
		t.Fatalf("a new mailbox inherited the old one's annotations: %q", l)
	}
	x.cmd("h7", "RENAME INBOX Old", "OK")
	for _, mb := range []string{"INBOX", "Old"} {
		if l := x.cmd("h8", "GETMETADATA "+mb+" /private/comment", "OK"); !has(l, `(/private/comment "My own comment")`) {
			t.Fatalf("%s after RENAME INBOX: %q", mb, l)
		}
	}
}

// TestMetadataGoIMAP round-trips annotations with go-imap's client, which
// puts GETMETADATA's options after the mailbox and sends a value that
// needs one as a literal.
func TestMetadataGoIMAP(t *testing.T) {
	r := newRig(t)
	r.Account("kim@example.test")
	c := r.client("kim@example.test", nil)
	if !c.Caps().Has("METADATA") || !c.Caps().Has("METADATA-SERVER") {
		t.Fatalf("capabilities: %v", c.Caps())
	}
	long := []byte(strings.Repeat("line of a long note\r\n", 100))
	short := []byte("Really useful mailbox")
	if err := c.SetMetadata("INBOX", map[string]*[]byte{"/shared/comment": &short, "/private/vendor/example/note": &long}).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMetadata("INBOX", []string{"/shared", "/private"}, &imapclient.GetMetadataOptions{Depth: imapclient.GetMetadataDepthInfinity}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	// (And the computed /shared/vendor/mailroom/seen, the folder's \Seen mode.)
	if len(got.Entries) != 3 || got.Entries["/shared/vendor/mailroom/seen"] == nil || string(*got.Entries["/shared/vendor/mailroom/seen"]) != "per-user" ||
		got.Entries["/shared/comment"] == nil || string(*got.Entries["/shared/comment"]) != string(short) ||
		got.Entries["/private/vendor/example/note"] == nil || string(*got.Entries["/private/vendor/example/note"]) != string(long) {
		t.Fatalf("GETMETADATA: %+v", got.Entries)
	}
	size := uint32(100)
	got, err = c.GetMetadata("INBOX", []string{"/private/vendor/example/note", "/shared/comment"}, &imapclient.GetMetadataOptions{MaxSize: &size}).Wait()
	if err != nil || len(got.Entries) != 1 || got.Entries["/shared/comment"] == nil {
		t.Fatalf("MAXSIZE: %+v, %v", got, err)
	}
	if err := c.SetMetadata("INBOX", map[string]*[]byte{"/shared/comment": nil}).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetMetadata("INBOX", []string{"/shared/comment"}, nil).Wait()
	if err != nil || got.Entries["/shared/comment"] != nil {
		t.Fatalf("after NIL: %+v, %v", got, err)
	}
	// The server's own private entries: a client's settings.
	theme := []byte("dark")
	if err := c.SetMetadata("", map[string]*[]byte{"/private/vendor/example/theme": &theme}).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetMetadata("", []string{"/private/vendor/example/theme"}, nil).Wait()
	if err != nil || got.Entries["/private/vendor/example/theme"] == nil || string(*got.Entries["/private/vendor/example/theme"]) != "dark" {
		t.Fatalf("server entry: %+v, %v", got, err)
	}
}

// A SETMETADATA whose values together pass the command's limit gets NO
// [LIMIT] (not a MAXSIZE that no single value broke), the rest of the
// command is skipped, nothing is set and the session goes on.
func TestMetadataCommandTotal(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")
	value := strings.Repeat("v", store.MaxMetadataValue)
	n := int(setMetadataLimits.MaxTotal/int64(len(value))) + 1
	var b strings.Builder
	b.WriteString("s SETMETADATA INBOX (")
	for i := range n {
		fmt.Fprintf(&b, "/private/vendor/example/k%d {%d+}\r\n%s ", i, len(value), value)
	}
	b.WriteString("/private/vendor/example/last \"x\")")
	lines := x.cmd("s", strings.TrimPrefix(b.String(), "s "), "NO [LIMIT]")
	if !strings.Contains(lines[len(lines)-1], "together") {
		t.Fatalf("over the total: %q", lines)
	}
	if got := x.cmd("g", "GETMETADATA (DEPTH infinity) INBOX /private/vendor", "OK"); len(got) != 1 {
		t.Fatalf("something was set: %q", got)
	}
}
