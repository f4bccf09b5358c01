package imap

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// seenScript is issue 16's per-user \Seen with Python's imaplib: the
// owner shares INBOX with kim (lrsw); kim reads a message in one session,
// which her second session (CONDSTORE) learns at its next NOOP and by
// CHANGEDSINCE, while the owner still sees it unseen; STATUS, SEARCH and
// SORT answer per user. Then (the test switches the mailbox at "wait")
// with one shared \Seen everyone sees the messages' flags, and back per
// user kim starts afresh.
const seenScript = `
import imaplib, ssl, sys, re
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def login(u):
    c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx); c.login(u, pw); return c
def fetches(c):
    return sorted(d.decode() for d in c.response("FETCH")[1] if d)
def flags(data):
    return re.findall(r"FLAGS \(([^)]*)\)", repr(data))
def wait(what):
    print("wait", what); sys.stdout.flush(); sys.stdin.readline()
o = login("owner@example.test")
k1 = login("kim@example.test"); k2 = login("kim@example.test")
box = '"Other Users/owner@example.test/INBOX"'
print("setacl", o._simple_command("SETACL", "INBOX", "kim@example.test", "lrsw")[0])
print("oselect", o.select("INBOX")[0])
print("k1select", k1.select(box)[0], k1.response("UNSEEN")[1])
print("enable", k2.enable("CONDSTORE")[0])
print("k2select", k2.select(box)[0])
hms = int(k2.response("HIGHESTMODSEQ")[1][0])
typ, data = k1.fetch("1", "(BODY[])"); print("k1read", typ, flags(data))
print("ofetch", flags(o.fetch("1:2", "(FLAGS)")[1]))
k2.noop(); print("k2noop", fetches(k2))
o.noop(); print("onoop", fetches(o))
print("kstatus", k1.status(box, "(MESSAGES UNSEEN)")[1][0].decode())
print("ostatus", o.status("INBOX", "(MESSAGES UNSEEN)")[1][0].decode())
print("ksearch", k1.search(None, "UNSEEN")[1][0].decode(), "|", k1.search(None, "SEEN")[1][0].decode())
print("osearch", o.search(None, "UNSEEN")[1][0].decode())
typ, data = k2.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d)" % hms); print("changedsince", typ, [d.decode() for d in data if d])
typ, data = k1._simple_command("SORT", "(REVERSE ARRIVAL)", "UTF-8", "SEEN"); print("ksort", typ, k1._untagged_response(typ, data, "SORT")[1])
typ, data = k1.store("2", "+FLAGS", "(\\Seen \\Flagged)"); print("k1store", typ, flags(data))
typ, data = k1.store("1", "-FLAGS", "(\\Seen)"); print("k1unstore", typ, flags(data))
o.noop(); print("onoop2", fetches(o))
print("ksearch2", k2.search(None, "SEEN")[1][0].decode())
wait("shared")
k2.noop(); print("k2shared", fetches(k2))
print("ksearch3", k1.search(None, "UNSEEN")[1][0].decode())
typ, data = k1.store("1", "+FLAGS", "(\\Seen)"); print("k1store2", typ, flags(data))
o.noop(); print("oshared", fetches(o))
print("ostatus2", o.status("INBOX", "(UNSEEN)")[1][0].decode())
wait("per-user")
k1.noop(); print("k1peruser", fetches(k1))
print("kstatus3", k1.status(box, "(UNSEEN)")[1][0].decode())
typ, data = k1.store("2", "+FLAGS", "(\\Seen)"); print("k1store3", typ, flags(data))
wait("expunge")
print("odelete", o.store("2", "+FLAGS", "(\\Deleted)")[0], o.expunge()[0])
k1.noop(); print("k1expunged", k1.response("EXPUNGE")[1])
typ, data = k1.fetch("1", "(BODY[TEXT])"); print("k1read2", typ, flags(data))
for c in (o, k1, k2):
    c.logout()
`

func TestSeenPerUserImaplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	ctx := context.Background()
	r := newRig(t)
	owner := r.Account("owner@example.test")
	kim := r.Account("kim@example.test")
	r.Deliver(owner, "Subject: one\r\n\r\nfirst\r\n")
	r.Deliver(owner, "Subject: two\r\n\r\nsecond\r\n")
	inbox := r.Mailbox(owner, "INBOX")
	kimSeen := func() []uint32 {
		t.Helper()
		set, err := r.Store.PrivateSeen(ctx, inbox.ID, kim.ID, 1, 1<<32-1)
		if err != nil {
			t.Fatal(err)
		}
		return set.UIDs
	}

	host, port := splitAddr(r.Addr("imaps"))
	cmd := exec.Command(python, "-c", seenScript, host, port, password)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		got.WriteString(line + "\n")
		switch line {
		case "wait shared":
			if err := r.Store.SetSharedSeen(ctx, inbox.ID, true); err != nil {
				t.Fatal(err)
			}
		case "wait per-user":
			if err := r.Store.SetSharedSeen(ctx, inbox.ID, false); err != nil {
				t.Fatal(err)
			}
		case "wait expunge":
			if seen := kimSeen(); len(seen) != 1 || seen[0] != 2 {
				t.Errorf("kim's own \\Seen before the expunge: %v", seen)
			}
		default:
			continue
		}
		io.WriteString(in, "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("imaplib: %v\n%s%s", err, got.String(), stderr.String())
	}
	for _, want := range []string{
		"setacl OK",
		// SELECT's first unseen (imaplib speaks IMAP4rev1).
		"k1select OK [b'1']",
		`k1read OK ['\\\\Seen']`,
		// The owner's flags are the messages': still unseen. (The first
		// is the unsolicited FETCH of the new modseq, flags unchanged.)
		`ofetch ['\\\\Recent', '\\\\Recent', '\\\\Recent']`,
		// Kim's other session learns of it at once, with a new modseq.
		`k2noop ['1 (UID 1 FLAGS (\\Seen) MODSEQ (`,
		`kstatus "Other Users/owner@example.test/INBOX" (MESSAGES 2 UNSEEN 1)`,
		`ostatus "INBOX" (MESSAGES 2 UNSEEN 2)`,
		"ksearch 2 | 1",
		"osearch 1 2",
		`changedsince OK ['1 (UID 1 FLAGS (\\Seen) MODSEQ (`,
		"ksort OK [b'1']",
		`k1store OK ['\\\\Seen \\\\Flagged']`,
		`k1unstore OK ['']`,
		// \Flagged is everyone's; \Seen stays the owner's own.
		`onoop2 ['1 (FLAGS (\\Recent))', '2 (FLAGS (\\Flagged \\Recent))']`,
		"ksearch2 2",
		"ksearch3 1 2",
		`k1store2 OK ['', '\\\\Flagged', '\\\\Seen']`,
		`oshared ['1 (FLAGS (\\Seen \\Recent))', '2 (FLAGS (\\Flagged \\Recent))']`,
		`ostatus2 "INBOX" (UNSEEN 1)`,
		// Per user again: kim starts with nothing seen.
		`k1peruser ['1 (FLAGS ())', '2 (FLAGS (\\Flagged))']`,
		`kstatus3 "Other Users/owner@example.test/INBOX" (UNSEEN 2)`,
		`k1store3 OK ['\\\\Seen \\\\Flagged']`,
		"odelete OK OK",
		"k1expunged [b'2']",
		`k1read2 OK ['\\\\Seen']`,
	} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// One \Seen for everyone: kim sees the messages' flags, every message
	// with the switch's modseq (whatever its value: modseqs come from the
	// owner's account counter).
	if m := sharedSwitch.FindStringSubmatch(got.String()); m == nil || m[1] != m[2] {
		t.Errorf("output lacks both messages at the switch's modseq (%q)", sharedSwitch)
	}
	// The expunge took kim's \Seen of message 2; reading message 1 gave
	// her one of it, which goes with her account.
	if seen := kimSeen(); len(seen) != 1 || seen[0] != 1 {
		t.Errorf("kim's own \\Seen at the end: %v", seen)
	}
	if err := r.Store.DeleteAccount(ctx, kim.Email); err != nil {
		t.Fatal(err)
	}
	if seen := kimSeen(); len(seen) != 0 {
		t.Errorf("kim's own \\Seen after her account was deleted: %v", seen)
	}
	if t.Failed() {
		t.Logf("imaplib output:\n%s%s", got.String(), stderr.String())
	}
}

// sharedSwitch is kim's FETCH of both messages after the switch to one
// \Seen for everyone.
var sharedSwitch = regexp.MustCompile(`'1 \(UID 1 FLAGS \(\) MODSEQ \((\d+)\)\)', '2 \(UID 2 FLAGS \(\\\\Flagged\) MODSEQ \((\d+)\)\)'`)

// TestSeenPerUserSessions: kim's \Seen in the owner's INBOX is hers in
// every answer that shows \Seen: IDLE pushes it to her other session (and
// the modseq's FETCH, flags unchanged, to the owner's), SELECT's first
// unseen, THREAD and SORT by it, ESEARCH, NOTIFY's STATUS and its pushes
// for the selected mailbox, APPEND and COPY with \Seen; without the "s"
// right reading sets nothing.
func TestSeenPerUserSessions(t *testing.T) {
	r := newRig(t)
	owner := r.Account("owner@example.test")
	r.Account("kim@example.test")
	for _, s := range []string{"one", "two", "three"} {
		r.Deliver(owner, "Subject: "+s+"\r\n\r\nbody "+s+"\r\n")
	}
	box := `"Other Users/owner@example.test/INBOX"`
	o, k1, k2 := r.login("owner@example.test"), r.login("kim@example.test"), r.login("kim@example.test")
	o.cmd("o1", "SETACL INBOX kim@example.test lrsi", "OK")
	o.cmd("o2", "SELECT INBOX", "OK")
	k1.cmd("k1", "SELECT "+box, "OK")
	k2.cmd("k2", "SELECT "+box, "OK")

	// Reading in one session: the other is told in IDLE at once, the
	// owner gets the new modseq's FETCH with the flags they had.
	k2.Send("i1 IDLE")
	k2.Expect("+ ")
	o.Send("i2 IDLE")
	o.Expect("+ ")
	if l := k1.cmd("k3", "FETCH 2 RFC822.TEXT", "OK"); !has(l, `FLAGS (\Seen)`) {
		t.Fatalf("kim's FETCH RFC822.TEXT: %q", l)
	}
	k2.await(`^\* 2 FETCH \(FLAGS \(\\Seen\)\)$`)
	o.await(`^\* 2 FETCH \(FLAGS \(\\Recent\)\)$`)
	k2.Send("DONE")
	k2.Expect("i1 OK")
	o.Send("DONE")
	o.Expect("i2 OK")

	// SELECT's first unseen (IMAP4rev1) is per user.
	k2.cmd("k4", `STORE 1 +FLAGS.SILENT (\Seen)`, "OK")
	if l := k1.cmd("k5", "SELECT "+box, "OK"); !has(l, "OK [UNSEEN 3]") {
		t.Fatalf("kim's SELECT: %q", l)
	}
	if l := o.cmd("o3", "SELECT INBOX", "OK"); !has(l, "OK [UNSEEN 1]") {
		t.Fatalf("the owner's SELECT: %q", l)
	}
	// THREAD, SORT and ESEARCH by \Seen.
	if l := k1.cmd("k6", "THREAD ORDEREDSUBJECT UTF-8 UNSEEN", "OK"); !has(l, "* THREAD (3)") {
		t.Fatalf("kim's THREAD UNSEEN: %q", l)
	}
	if l := o.cmd("o4", "THREAD ORDEREDSUBJECT UTF-8 UNSEEN", "OK"); !has(l, "* THREAD (1)(2)(3)") {
		t.Fatalf("the owner's THREAD UNSEEN: %q", l)
	}
	if l := k1.cmd("k7", "SORT (SUBJECT) UTF-8 SEEN", "OK"); !has(l, "* SORT 1 2") {
		t.Fatalf("kim's SORT SEEN: %q", l)
	}
	if l := k1.cmd("k8", "SEARCH RETURN (COUNT MIN) UNSEEN", "OK"); !has(l, "COUNT 1") || !has(l, "MIN 3") {
		t.Fatalf("kim's ESEARCH UNSEEN: %q", l)
	}

	// APPEND and COPY with \Seen by kim: \Seen is hers alone.
	k1.appendMsg("k9", box, `\Seen`, "by kim")
	k1.cmd("k10", "NOOP", "OK")
	if l := k1.cmd("k11", "FETCH 4 FLAGS", "OK"); !has(l, `FLAGS (\Seen \Recent)`) {
		t.Fatalf("kim's APPEND with \\Seen, to her: %q", l)
	}
	if l := o.cmd("o5", "FETCH 4 FLAGS", "OK"); has(l, `\Seen`) {
		t.Fatalf("kim's APPEND with \\Seen, to the owner: %q", l)
	}
	if l := k1.cmd("k12", "COPY 1 "+box, "OK"); !has(l, "[COPYUID") {
		t.Fatalf("kim's COPY: %q", l)
	}
	if l := k1.cmd("k13", "FETCH 5 FLAGS", "OK"); !has(l, `* 5 FETCH (FLAGS (\Seen \Recent))`) {
		t.Fatalf("kim's copy, to her: %q", l)
	}
	if l := o.cmd("o6", "FETCH 5 FLAGS", "OK"); has(l, `\Seen`) {
		t.Fatalf("kim's copy, to the owner: %q", l)
	}
	// Copied out into her own INBOX, a message keeps her \Seen: there it
	// is the message's.
	k1.cmd("k14", "COPY 1:3 INBOX", "OK")
	if l := k2.cmd("k15", "STATUS INBOX (MESSAGES UNSEEN)", "OK"); !has(l, "(MESSAGES 3 UNSEEN 1)") {
		t.Fatalf("kim's copies in her INBOX: %q", l)
	}

	// NOTIFY: STATUS of the shared INBOX as kim sees it, and her own
	// changes pushed to her selected session.
	k2.cmd("k16", "SELECT INBOX", "OK")
	if l := k2.cmd("n1", "NOTIFY SET STATUS (selected (MessageNew MessageExpunge FlagChange)) (mailboxes "+box+" (MessageNew MessageExpunge FlagChange))", "OK"); !has(l, "MESSAGES 5 UIDNEXT 6 UNSEEN 1 ") {
		t.Fatalf("kim's NOTIFY SET STATUS: %q", l)
	}
	k2.cmd("k17", "SELECT "+box, "OK")
	k1.cmd("k18", `STORE 3 +FLAGS.SILENT (\Seen)`, "OK")
	k2.await(`^\* 3 FETCH \(UID 3 FLAGS \(\\Seen\)\)$`)
	k2.cmd("n2", "NOTIFY NONE", "OK")

	// "lr": reading sets no \Seen, and STORE of it is refused.
	r.Deliver(owner, "Subject: six\r\n\r\nbody six\r\n")
	o.cmd("o7", "SETACL INBOX kim@example.test lr", "OK")
	k1.cmd("k19", "SELECT "+box, "OK")
	k1.cmd("k20", "FETCH 6 BODY[]", "OK")
	if l := k1.cmd("k20b", "FETCH 6 FLAGS", "OK"); has(l, `\Seen`) {
		t.Fatalf("reading with lr set \\Seen: %q", l)
	}
	k1.cmd("k21", "STORE 2 -FLAGS (\\Seen)", "NO [READ-ONLY]")
	if l := k1.cmd("k22", "FETCH 4 (BODY[] FLAGS)", "OK"); !has(l, `FLAGS (\Seen)`) {
		t.Fatalf("kim's own \\Seen with lr: %q", l)
	}
	// EXAMINE with "lrs": reading sets nothing either.
	o.cmd("o8", "SETACL INBOX kim@example.test lrs", "OK")
	k1.cmd("k23", "SELECT "+box, "OK")
	k1.cmd("k24", `STORE 5 -FLAGS.SILENT (\Seen)`, "OK")
	k1.cmd("k25", "EXAMINE "+box, "OK")
	k1.cmd("k26", "FETCH 5 BODY[]", "OK")
	if l := k1.cmd("k27", "FETCH 5 FLAGS", "OK"); has(l, `\Seen`) {
		t.Fatalf("FETCH BODY[] after EXAMINE set \\Seen: %q", l)
	}
}

// The seen mode through METADATA: everybody who sees the folder reads
// /shared/vendor/mailroom/seen; a user with "a" switches it, and then
// the owner's \Seen is everyone's; without "a", or with a value that is
// no mode, the answer says why and nothing changes.
func TestSeenModeMetadata(t *testing.T) {
	r := newRig(t)
	owner := r.Account("owner@example.test")
	r.Account("kim@example.test")
	r.Account("lee@example.test")
	r.Deliver(owner, "Subject: one\r\n\r\nbody\r\n")
	box := `"Other Users/owner@example.test/INBOX"`
	o, k, l := r.login("owner@example.test"), r.login("kim@example.test"), r.login("lee@example.test")
	o.cmd("o1", "SETACL INBOX kim@example.test lrswa", "OK")
	o.cmd("o2", "SETACL INBOX lee@example.test lrsw", "OK")
	o.cmd("o4", "SELECT INBOX", "OK")
	o.cmd("o5", `STORE 1 +FLAGS (\Seen)`, "OK")

	if got := l.cmd("l1", "GETMETADATA "+box+" /shared/vendor/mailroom/seen", "OK"); !has(got, `/shared/vendor/mailroom/seen "per-user"`) {
		t.Fatalf("the mode, per-user by default: %q", got)
	}
	l.cmd("l2", "SETMETADATA "+box+` (/shared/vendor/mailroom/seen "shared")`, "NO [NOPERM]")
	k.cmd("k1", "SETMETADATA "+box+` (/shared/vendor/mailroom/seen "sometimes")`, "NO [CANNOT]")
	l.cmd("l4", "SELECT "+box, "OK")
	if got := l.cmd("l5", "FETCH 1 FLAGS", "OK"); has(got, `\Seen`) {
		t.Fatalf("lee sees the owner's \\Seen while per-user: %q", got)
	}
	k.cmd("k2", "SETMETADATA "+box+` (/shared/vendor/mailroom/seen "shared" /shared/comment "one read state")`, "OK")
	if got := l.cmd("l6", "FETCH 1 FLAGS", "OK"); !has(got, `\Seen`) {
		t.Fatalf("lee after the switch to shared: %q", got)
	}
	if got := o.cmd("o6", "GETMETADATA INBOX (/shared/vendor/mailroom/seen /shared/comment)", "OK"); !has(got, `/shared/comment "one read state"`) || !has(got, `/shared/vendor/mailroom/seen "shared"`) {
		t.Fatalf("the owner reads the mode and the comment: %q", got)
	}
	// NIL is the default again.
	o.cmd("o7", "SETMETADATA INBOX (/shared/vendor/mailroom/seen NIL)", "OK")
	if got := l.cmd("l7", "FETCH 1 FLAGS", "OK"); has(got, `\Seen`) {
		t.Fatalf("lee after the switch back: %q", got)
	}
}
