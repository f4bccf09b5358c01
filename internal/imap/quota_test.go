package imap

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/store"
)

func setQuota(t *testing.T, st store.Quotas, acct store.Account, storage, messages store.QuotaLimit) {
	t.Helper()
	if err := st.SetQuotaLimits(context.Background(), store.QuotaScope{AccountID: acct.ID}, store.QuotaLimits{Storage: storage, Messages: messages}); err != nil {
		t.Fatal(err)
	}
}

// wantQuotaRoot checks GETQUOTAROOT INBOX against the usage counted from
// the messages themselves.
func (r *rig) wantQuotaRoot(x *raw, acct store.Account, storageKiB, messages int64, what string) {
	r.T.Helper()
	ctx := context.Background()
	var octets, count int64
	boxes, _ := r.Store.MailboxList(ctx, acct.ID)
	for _, mb := range boxes {
		list, _ := r.Store.MessageList(ctx, mb.ID)
		for _, m := range list {
			octets += m.Size
			count++
		}
	}
	lines := x.cmd("q", "GETQUOTAROOT INBOX", "OK")
	want := fmt.Sprintf(`* QUOTA "" (STORAGE %d %d MESSAGE %d %d)`, (octets+1023)/1024, storageKiB, count, messages)
	if len(lines) != 3 || lines[0] != `* QUOTAROOT "INBOX" ""` || lines[1] != want {
		r.T.Fatalf("%s: GETQUOTAROOT INBOX = %q, want %q", what, lines, want)
	}
}

// The capabilities, and RFC 9208's GETQUOTAROOT example as this server
// answers it: exact after deliveries, copies, moves and expunges.
func TestQuotaGetQuotaRootExact(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	x := r.login("ann@example.test")
	caps := strings.Join(x.cmd("c", "CAPABILITY", "OK"), " ")
	for _, c := range []string{" QUOTA ", " QUOTA=RES-STORAGE ", " QUOTA=RES-MESSAGE ", " QUOTASET "} {
		if !strings.Contains(caps, c) {
			t.Fatalf("CAPABILITY lacks%s: %s", c, caps)
		}
	}
	// No limit: no quota root, no QUOTA response.
	if lines := x.cmd("a", "GETQUOTAROOT INBOX", "OK"); len(lines) != 2 || lines[0] != `* QUOTAROOT "INBOX"` {
		t.Fatalf("unlimited GETQUOTAROOT: %q", lines)
	}
	if lines := x.cmd("b", `GETQUOTA ""`, "OK"); len(lines) != 1 {
		t.Fatalf("unlimited GETQUOTA: %q", lines)
	}

	setQuota(t, r.Store, ann, 512*1024, 100)
	r.wantQuotaRoot(x, ann, 512, 100, "empty")
	for i := range 3 {
		r.Deliver(ann, fmt.Sprintf("Subject: m%d\r\n\r\n%s\r\n", i, strings.Repeat("x", 700*i)))
	}
	r.wantQuotaRoot(x, ann, 512, 100, "after deliveries")
	x.cmd("s", "SELECT INBOX", "OK")
	x.cmd("c1", "COPY 1:2 Archive", "OK")
	r.wantQuotaRoot(x, ann, 512, 100, "after a copy")
	x.cmd("m1", "MOVE 3 Archive", "OK")
	r.wantQuotaRoot(x, ann, 512, 100, "after a move")
	x.cmd("d1", `STORE 1 +FLAGS (\Deleted)`, "OK")
	x.cmd("e1", "EXPUNGE", "OK")
	r.wantQuotaRoot(x, ann, 512, 100, "after an expunge")
	x.cmd("g", `GETQUOTA ""`, "OK")
	// STATUS SIZE and DELETED are there too (RFC 8438, RFC 9051).
	if lines := x.cmd("st", "STATUS Archive (SIZE DELETED MESSAGES)", "OK"); !strings.HasPrefix(lines[0], `* STATUS "Archive" (SIZE `) {
		t.Fatalf("STATUS: %q", lines)
	}
}

// APPEND and COPY past the quota get NO [OVERQUOTA]; MOVE and EXPUNGE
// work when over.
func TestQuotaOverQuotaReplies(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	x := r.login("ann@example.test")
	setQuota(t, r.Store, ann, store.Unlimited, 2)
	r.Deliver(ann, "Subject: 1\r\n\r\none\r\n")
	x.cmd("a1", "APPEND INBOX {18+}\r\nSubject: 2\r\n\r\ntwo", "OK")
	x.cmd("a2", "APPEND INBOX {20+}\r\nSubject: 3\r\n\r\nthree", "NO [OVERQUOTA]")
	x.cmd("s", "SELECT INBOX", "OK")
	x.cmd("c", "COPY 1 Archive", "NO [OVERQUOTA]")
	x.cmd("u", "UID COPY 1:* Archive", "NO [OVERQUOTA]")
	setQuota(t, r.Store, ann, store.Unlimited, 1) // now over
	x.cmd("m", "MOVE 1 Archive", "OK")
	x.cmd("d", `STORE 1 +FLAGS (\Deleted)`, "OK")
	x.cmd("e", "EXPUNGE", "OK")
	x.cmd("a3", "APPEND INBOX {20+}\r\nSubject: 3\r\n\r\nthree", "NO [OVERQUOTA]")
	// MULTIAPPEND: all or none.
	// (INBOX holds the warning a1 wrote: 2 of 2 is past 95%.)
	setQuota(t, r.Store, ann, store.Unlimited, 2)
	before := r.Messages(ann, "INBOX")
	x.cmd("a4", "APPEND INBOX {9+}\r\nSubject:a {9+}\r\nSubject:b", "NO [OVERQUOTA]")
	if n := len(r.Messages(ann, "INBOX")); n != len(before) {
		t.Fatalf("INBOX has %d messages after a refused MULTIAPPEND, %d before", n, len(before))
	}
	x.cmd("n", "NOOP", "OK")
}

// SETQUOTA: admins only; bad input gets NO or BAD that says why.
func TestQuotaSetQuota(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Account("root@example.test", "admin", "true")
	user := r.login("ann@example.test")
	user.cmd("a", `SETQUOTA "" (STORAGE 512)`, "NO [NOPERM]")
	user.cmd("b", `GETQUOTA "#user/root@example.test"`, "NO [NOPERM]")
	user.cmd("c", `GETQUOTA "#user/ann@example.test"`, "OK")

	admin := r.login("root@example.test")
	r.Deliver(ann, "Subject: x\r\n\r\n"+strings.Repeat("y", 2000)+"\r\n")
	lines := admin.cmd("s1", `SETQUOTA "#user/ann@example.test" (STORAGE 512)`, "OK")
	if lines[0] != `* QUOTA #user/ann@example.test (STORAGE 2 512)` {
		t.Fatalf("SETQUOTA: %q", lines)
	}
	u, _ := r.Store.QuotaUsage(context.Background(), ann.ID)
	if u.Own != (store.QuotaLimits{Storage: 512 * 1024, Messages: store.Inherit}) {
		t.Fatalf("ann's limits after SETQUOTA: %+v", u.Own)
	}
	lines = admin.cmd("s2", `SETQUOTA "#user/ann@example.test" (MESSAGE 10 STORAGE 1)`, "OK")
	if lines[0] != `* QUOTA #user/ann@example.test (STORAGE 2 1 MESSAGE 1 10)` {
		t.Fatalf("SETQUOTA both: %q", lines)
	}
	// What is not listed is discarded: ann inherits again.
	admin.cmd("s3", `SETQUOTA "#user/ann@example.test" ()`, "OK")
	lines = admin.cmd("g", `GETQUOTA "#user/ann@example.test"`, "OK")
	if len(lines) != 1 {
		t.Fatalf("after SETQUOTA (): %q", lines)
	}
	admin.cmd("s4", `SETQUOTA "" (STORAGE 100)`, "OK") // the admin's own root
	for _, c := range []struct{ cmd, want string }{
		{`SETQUOTA "#user/ann@example.test" (MAILBOX 5)`, "NO [CANNOT] unsupported resource MAILBOX"},
		{`SETQUOTA "#user/ann@example.test" (X-FOO 5)`, "NO [CANNOT]"},
		{`SETQUOTA "#user/ann@example.test" (STORAGE -5)`, "BAD"},
		{`SETQUOTA "#user/ann@example.test" (STORAGE 9223372036854775807)`, "NO [LIMIT]"},
		{`SETQUOTA "#user/ann@example.test" (STORAGE 99999999999999999999)`, "BAD"},
		{`SETQUOTA "#user/ann@example.test" (STORAGE 1 STORAGE 2)`, "BAD"},
		{`SETQUOTA "#user/nobody@example.test" (STORAGE 5)`, "NO [NONEXISTENT]"},
		{`SETQUOTA "!partition/sda4" (STORAGE 5)`, "NO [NONEXISTENT]"},
		{`GETQUOTA "#user/"`, "NO [NONEXISTENT]"},
		// RFC 9208 4.1.2: the mailbox need not exist; the answer is the
		// root it would count against.
		{`GETQUOTAROOT Nonexistent`, `OK`},
		{`GETQUOTAROOT "Other Users/nobody@example.test/INBOX"`, "NO [NONEXISTENT]"},
		{`SETQUOTA "#user/ann@example.test"`, "BAD"},
	} {
		admin.cmd("x", c.cmd, c.want)
	}
	admin.cmd("n", "NOOP", "OK")
}

const imaplibQuotaScript = `
import imaplib, ssl, sys
host, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
admin = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
admin.login("root@example.test", sys.argv[3])
print("setquota", admin.setquota('"#user/ann@example.test"', "(STORAGE 100 MESSAGE 5)"))
c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
c.login("ann@example.test", sys.argv[3])
print("getquotaroot", c.getquotaroot("INBOX"))
print("getquota", c.getquota('""'))
print("user setquota", c.setquota('""', "(STORAGE 1)"))
c.logout(); admin.logout()
`

// Python's imaplib, unmodified, speaks QUOTA with the server.
func TestQuotaPythonImaplib(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Account("root@example.test", "admin", "true")
	r.Deliver(ann, "Subject: q\r\n\r\n"+strings.Repeat("z", 1500)+"\r\n")
	out := r.imaplib(imaplibQuotaScript)
	for _, want := range []string{
		`setquota ('OK', [b'#user/ann@example.test (STORAGE 2 100 MESSAGE 1 5)'])`,
		`getquotaroot ('OK', [[b'"INBOX" ""'], [b'"" (STORAGE 2 100 MESSAGE 1 5)']])`,
		`getquota ('OK', [b'"" (STORAGE 2 100 MESSAGE 1 5)'])`,
		"user setquota ('NO', [b'[NOPERM] only administrators may set quotas'])",
	} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("imaplib output lacks %q:\n%s", want, out)
		}
	}
}

// A folder shared with another user counts against its owner: its
// quota root is the owner's, a copy into it that does not fit the owner
// is refused and says whose mailbox is full, and an APPEND that fills
// the owner past 80% writes the owner a warning.
func TestQuotaSharedFolder(t *testing.T) {
	r := newRig(t)
	owner := r.Account("owner@example.test")
	kim := r.Account("kim@example.test")
	o := r.login("owner@example.test")
	x := r.login("kim@example.test")
	o.cmd("a1", "CREATE Team", "OK")
	o.cmd("a2", "SETACL Team kim@example.test lrswite", "OK")
	team := `"Other Users/owner@example.test/Team"`
	setQuota(t, r.Store, owner, store.Unlimited, 5)

	lines := x.cmd("b1", "GETQUOTAROOT "+team, "OK")
	if len(lines) != 3 || lines[0] != `* QUOTAROOT `+team+` #user/owner@example.test` || lines[1] != `* QUOTA #user/owner@example.test (MESSAGE 0 5)` {
		t.Fatalf("GETQUOTAROOT of a shared folder: %q", lines)
	}
	// kim may ask for the root GETQUOTAROOT named, not for others.
	if l := x.cmd("b2", `GETQUOTA "#user/owner@example.test"`, "OK"); len(l) != 2 || l[0] != `* QUOTA #user/owner@example.test (MESSAGE 0 5)` {
		t.Fatalf("GETQUOTA of the owner's root: %q", l)
	}
	r.Account("stranger@example.test")
	x.cmd("b3", `GETQUOTA "#user/stranger@example.test"`, "NO [NOPERM]")
	x.cmd("b4", `GETQUOTA "#user/nobody@example.test"`, "NO [NOPERM]")
	x.cmd("b5", `GETQUOTAROOT "Other Users/stranger@example.test/INBOX"`, "NO [NONEXISTENT]")

	// kim's own mail goes into the owner's folder and counts there.
	for i := range 3 {
		r.Deliver(kim, fmt.Sprintf("Subject: k%d\r\n\r\nkim's %d\r\n", i, i))
	}
	x.cmd("c1", "SELECT INBOX", "OK")
	x.cmd("c2", "COPY 1:3 "+team, "OK")
	if l := x.cmd("c3", "GETQUOTAROOT "+team, "OK"); l[1] != `* QUOTA #user/owner@example.test (MESSAGE 3 5)` {
		t.Fatalf("after kim's copy: %q", l)
	}
	if l := x.cmd("c4", "GETQUOTAROOT INBOX", "OK"); len(l) != 2 {
		t.Fatalf("kim's own root, unlimited: %q", l)
	}
	// 4 of 5 is 80%: the owner is warned, once.
	x.cmd("c5", "APPEND "+team+" {18+}\r\nSubject: 4\r\n\r\nfour", "OK")
	warnings := 0
	for _, raw := range r.Bodies("owner@example.test", "INBOX") {
		if strings.Contains(raw, "Subject: Your mailbox is 80% full") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("owner has %d 80%% warnings after kim's APPEND", warnings)
	}
	// The warning was written although it counts too (5 of 5): a copy
	// of two no longer fits.
	l := x.cmd("c6", "COPY 1:2 "+team, "NO [OVERQUOTA]")
	if !strings.Contains(l[len(l)-1], "the mailbox of owner@example.test") {
		t.Fatalf("over quota in a shared folder: %q", l)
	}
	x.cmd("c7", "MOVE 1:2 "+team, "NO [OVERQUOTA]")
	if n := len(r.Messages(kim, "INBOX")); n != 3 {
		t.Fatalf("kim's INBOX has %d messages after a refused MOVE", n)
	}
}
