package imap

import (
	"strings"
	"testing"
)

// These tests pin behaviour that Dovecot's imaptest suite checks
// (imaptest_test.go runs the suite itself), each against the RFC text.

// login opens a raw IMAP4rev1 session over implicit TLS and logs in.
func (r *rig) login(email string) *raw {
	r.T.Helper()
	x := r.raw(true)
	x.cmd("l", `LOGIN `+email+` "`+password+`"`, "OK")
	return x
}

// lineIndex returns the position of the first line containing sub, -1 if none.
func lineIndex(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

// A name that is not modified UTF-7 names no mailbox: SELECT fails with NO
// (not BAD, the argument is a valid astring; RFC 3501 5.1.3, 6.3.1), and a
// LIST pattern like it matches nothing.
func TestNotModifiedUTF7(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")
	x.cmd("a1", "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}", "NO")
	if lines := x.cmd("a2", `LIST "" !#$&'+,-.0123456789:;<=>?@^_`+"`|[}%*", "OK"); len(lines) != 1 {
		t.Fatalf("LIST of a non-mUTF-7 pattern: %q", lines)
	}
	x.cmd("a3", `CREATE "a&b"`, "NO")
	x.cmd("a4", "SELECT INBOX", "OK")
}

// RFC 3501 2.3.2, 6.3.1, 6.3.2, 6.3.10, 6.4.4: a message is \Recent in the
// first session told of it; EXAMINE shows it and leaves it \Recent for the
// next one; STATUS RECENT counts what the next SELECT gets. IMAP4rev2
// (RFC 9051) has no \Recent.
func TestRecentRev1(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	for i := 0; i < 3; i++ {
		r.Deliver(acct, "Subject: m"+itoa(i)+"\r\n\r\nbody\r\n")
	}
	x := r.login("ann@example.test")
	if lines := x.cmd("a1", "STATUS INBOX (MESSAGES RECENT)", "OK"); !has(lines, "(MESSAGES 3 RECENT 3)") {
		t.Fatalf("STATUS before SELECT: %q", lines)
	}
	if lines := x.cmd("a2", "EXAMINE INBOX", "OK"); !has(lines, "* 3 RECENT") {
		t.Fatalf("EXAMINE: %q", lines)
	}
	x.cmd("a3", "CLOSE", "OK")
	if lines := x.cmd("a4", "STATUS INBOX (RECENT)", "OK"); !has(lines, "(RECENT 3)") {
		t.Fatalf("STATUS after EXAMINE: %q", lines)
	}
	if lines := x.cmd("a5", "SELECT INBOX", "OK"); !has(lines, "* 3 RECENT") {
		t.Fatalf("SELECT: %q", lines)
	}
	x.cmd("a6", `STORE 2 +FLAGS.SILENT (\Seen)`, "OK")
	for _, c := range []struct{ key, want string }{
		{"RECENT", "* SEARCH 1 2 3"},
		{"NEW", "* SEARCH 1 3"},
		{"OLD", "* SEARCH"},
		{"NOT RECENT", "* SEARCH"},
	} {
		if lines := x.cmd("s", "SEARCH "+c.key, "OK"); lines[0] != c.want {
			t.Errorf("SEARCH %s: %q, want %q", c.key, lines, c.want)
		}
	}
	if lines := x.cmd("a7", "FETCH 1 FLAGS", "OK"); !has(lines, `FLAGS (\Recent)`) {
		t.Fatalf("FETCH FLAGS: %q", lines)
	}
	// Another session: nothing is \Recent for it any more.
	y := r.login("ann@example.test")
	if lines := y.cmd("b1", "STATUS INBOX (RECENT)", "OK"); !has(lines, "(RECENT 0)") {
		t.Fatalf("STATUS after SELECT: %q", lines)
	}
	if lines := y.cmd("b2", "SELECT INBOX", "OK"); !has(lines, "* 0 RECENT") {
		t.Fatalf("second SELECT: %q", lines)
	}
	if lines := y.cmd("b3", "SEARCH OLD", "OK"); lines[0] != "* SEARCH 1 2 3" {
		t.Fatalf("SEARCH OLD: %q", lines)
	}
	// New mail goes to the first session to look.
	r.Deliver(acct, "Subject: new\r\n\r\nbody\r\n")
	if lines := y.cmd("b4", "NOOP", "OK"); !has(lines, "* 4 EXISTS") || !has(lines, "* 1 RECENT") {
		t.Fatalf("NOOP with new mail: %q", lines)
	}
	if lines := x.cmd("a8", "NOOP", "OK"); !has(lines, "* 4 EXISTS") || !has(lines, "* 3 RECENT") {
		t.Fatalf("NOOP in the other session: %q", lines)
	}
	// IMAP4rev2: no RECENT response, no \Recent flag.
	z := r.login("ann@example.test")
	z.cmd("c1", "ENABLE IMAP4rev2", "OK")
	r.Deliver(acct, "Subject: newer\r\n\r\nbody\r\n")
	if lines := z.cmd("c2", "SELECT INBOX", "OK"); has(lines, "RECENT") {
		t.Fatalf("rev2 SELECT: %q", lines)
	}
	if lines := z.cmd("c3", "FETCH 5 FLAGS", "OK"); has(lines, `\Recent`) {
		t.Fatalf("rev2 FETCH: %q", lines)
	}
}

// RFC 9051 7.3.5 (RFC 3501 7.2.6): a keyword shows in FETCH only after a
// FLAGS response listed it; the session is told again (FLAGS, PERMANENTFLAGS)
// when a STORE here or in another session brings a new keyword into use.
func TestKeywordAnnouncedBeforeUse(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: one\r\n\r\nbody\r\n")
	r.Deliver(acct, "Subject: two\r\n\r\nbody\r\n")
	x, y := r.login("ann@example.test"), r.login("ann@example.test")
	if lines := x.cmd("a1", "SELECT INBOX", "OK"); !has(lines, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`) {
		t.Fatalf("SELECT: %q", lines)
	}
	y.cmd("b1", "SELECT INBOX", "OK")
	lines := y.cmd("b2", "STORE 1 +FLAGS ($Hello)", "OK")
	flags, fetch := lineIndex(lines, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello)`), lineIndex(lines, "* 1 FETCH")
	if flags < 0 || fetch < flags || !has(lines, `* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello \*)]`) {
		t.Fatalf("STORE of a new keyword: %q", lines)
	}
	// The other session hears of it before the flag change.
	lines = x.cmd("a2", "NOOP", "OK")
	flags, fetch = lineIndex(lines, "* FLAGS ("), lineIndex(lines, "* 1 FETCH (FLAGS ($Hello")
	if flags < 0 || fetch < flags || !strings.Contains(lines[flags], "$Hello") {
		t.Fatalf("NOOP after another session's STORE: %q", lines)
	}
	// Once told, not again; a later SELECT lists it at once.
	if lines := x.cmd("a3", "STORE 2 +FLAGS ($Hello)", "OK"); has(lines, "* FLAGS") {
		t.Fatalf("keyword announced twice: %q", lines)
	}
	if lines := x.cmd("a4", "EXAMINE INBOX", "OK"); !has(lines, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello)`) || !has(lines, "[PERMANENTFLAGS ()]") {
		t.Fatalf("EXAMINE: %q", lines)
	}
}

// RFC 7162 3.1: FETCH with the MODSEQ item is a CONDSTORE enabling
// command; issued with a mailbox selected, the first one reports
// HIGHESTMODSEQ, and from then on STORE's untagged FETCH carries MODSEQ.
func TestCondstoreEnabledByFetchModseq(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: one\r\n\r\nbody\r\n")
	x := r.login("ann@example.test")
	x.cmd("a1", "SELECT INBOX", "OK")
	if lines := x.cmd("a2", `STORE 1 +FLAGS (\Flagged)`, "OK"); has(lines, "MODSEQ") {
		t.Fatalf("MODSEQ before CONDSTORE was enabled: %q", lines)
	}
	lines := x.cmd("a3", "FETCH 1 (MODSEQ)", "OK")
	if !has(lines, "* OK [HIGHESTMODSEQ ") || !has(lines, "* 1 FETCH (MODSEQ (") {
		t.Fatalf("first FETCH MODSEQ: %q", lines)
	}
	if lines := x.cmd("a4", "FETCH 1 (MODSEQ)", "OK"); has(lines, "HIGHESTMODSEQ") {
		t.Fatalf("HIGHESTMODSEQ again: %q", lines)
	}
	if lines := x.cmd("a5", `STORE 1 +FLAGS (\Seen)`, "OK"); !has(lines, "MODSEQ (") {
		t.Fatalf("STORE under CONDSTORE: %q", lines)
	}
	// STATUS HIGHESTMODSEQ enables it too (a fresh session).
	y := r.login("ann@example.test")
	y.cmd("b1", "SELECT INBOX", "OK")
	if lines := y.cmd("b2", "STATUS INBOX (HIGHESTMODSEQ)", "OK"); !has(lines, "* OK [HIGHESTMODSEQ ") {
		t.Fatalf("STATUS HIGHESTMODSEQ: %q", lines)
	}
}

// RFC 4731 3.2: with MIN and/or MAX only, ESEARCH's MODSEQ is the highest
// modseq of the messages returned, not of every match.
func TestEsearchModseqOfReturned(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	for i := 0; i < 3; i++ {
		r.Deliver(acct, "Subject: m"+itoa(i)+"\r\n\r\nbody\r\n")
	}
	x := r.login("ann@example.test")
	x.cmd("a1", "SELECT INBOX (CONDSTORE)", "OK")
	ms := map[string]uint64{}
	for _, seq := range []string{"1", "3", "2"} { // message 2 ends with the highest modseq
		lines := x.cmd("s"+seq, `STORE `+seq+` +FLAGS (\Seen)`, "OK")
		ms[seq] = number(t, lines, `MODSEQ \((\d+)\)`)
	}
	for _, c := range []struct{ ret, want string }{
		{"MIN", "MIN 1 MODSEQ " + itoa(int(ms["1"]))},
		{"MAX", "MAX 3 MODSEQ " + itoa(int(ms["3"]))},
		{"MIN MAX", "MIN 1 MAX 3 MODSEQ " + itoa(int(ms["3"]))},
		{"ALL", "ALL 1:3 MODSEQ " + itoa(int(ms["2"]))},
		{"COUNT MIN", "MIN 1 COUNT 3 MODSEQ " + itoa(int(ms["2"]))},
	} {
		lines := x.cmd("e", "SEARCH RETURN ("+c.ret+") MODSEQ 1", "OK")
		if !strings.HasSuffix(lines[0], c.want) {
			t.Errorf("RETURN (%s): %q, want …%s", c.ret, lines[0], c.want)
		}
	}
}

// RFC 5258 3.3 (2B), 3.5: RECURSIVEMATCH lists a parent with CHILDINFO for
// a selected descendant the patterns do not match, not for one they list.
// RFC 3501 6.3.9: LSUB "" % lists the unsubscribed parent of a subscribed
// name as \Noselect.
func TestRecursiveMatchAndLsubParents(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	x := r.login("ann@example.test")
	for _, n := range []string{"p/c", "q/c", "s"} {
		x.cmd("c", "CREATE "+n, "OK")
		x.cmd("s", "SUBSCRIBE "+n, "OK")
	}
	for _, c := range []struct {
		cmd       string
		want, not []string
	}{
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`,
			[]string{`* LIST (\HasChildren) "/" "p" ("CHILDINFO" ("SUBSCRIBED"))`, `* LIST (\HasNoChildren \Subscribed) "/" "s"`}, nil},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" ("p" "p/c")`,
			[]string{`* LIST (\HasNoChildren \Subscribed) "/" "p/c"`}, []string{`"p" (`}},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"`,
			[]string{`"p/c"`}, []string{`CHILDINFO`}},
		{`LIST (SUBSCRIBED) "" "%"`,
			[]string{`"s"`}, []string{`"p"`, `CHILDINFO`}},
		{`LSUB "" "%"`,
			[]string{`* LSUB (\Noselect) "/" "p"`, `* LSUB (\Noselect) "/" "q"`, `"s"`}, []string{`"p/c"`}},
		{`LSUB "" "*"`,
			[]string{`"p/c"`, `"q/c"`}, []string{`"p"` + "\r", `\Noselect`}},
		{`LSUB "" "p/%"`,
			[]string{`"p/c"`}, []string{`\Noselect`}},
	} {
		lines := x.cmd("t", c.cmd, "OK")
		for _, w := range c.want {
			if !has(lines, w) {
				t.Errorf("%s: no %s in %q", c.cmd, w, lines)
			}
		}
		for _, n := range c.not {
			if has(lines, n) {
				t.Errorf("%s: %s in %q", c.cmd, n, lines)
			}
		}
	}
}

// RFC 3501 6.4.4: FROM, TO, CC and BCC search the envelope's address
// fields, so an address written with comments inside still matches.
func TestSearchAddressWithComments(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "From: <user-from (comment)@ (comment) domain.org>\r\nTo: Real To <user-to@domain.org>\r\n\r\nbody\r\n")
	r.Deliver(acct, "From: other@domain.org\r\n\r\nbody\r\n")
	x := r.login("ann@example.test")
	x.cmd("a1", "SELECT INBOX", "OK")
	for _, c := range []struct{ key, want string }{
		{"FROM user-from@domain.org", "* SEARCH 1"},
		{"FROM ser-fro", "* SEARCH 1"},
		{"FROM comment", "* SEARCH 1"}, // the header text itself still counts
		{"TO \"real to <user-to@\"", "* SEARCH 1"},
		{"FROM domain.org", "* SEARCH 1 2"},
		{"HEADER FROM user-from@domain.org", "* SEARCH"},
	} {
		if lines := x.cmd("s", "SEARCH "+c.key, "OK"); lines[0] != c.want {
			t.Errorf("SEARCH %s: %q, want %q", c.key, lines[0], c.want)
		}
	}
}

// RFC 2180 4.1, RFC 5530: a FETCH naming a message another session
// expunged (this one not yet told, RFC 9051 7.5.1) leaves it out and
// succeeds with OK [EXPUNGEISSUED]; the EXPUNGE comes at the next NOOP.
func TestFetchExpungedElsewhere(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: one\r\n\r\nbody one\r\n")
	r.Deliver(acct, "Subject: two\r\n\r\nbody two\r\n")
	x, y := r.login("ann@example.test"), r.login("ann@example.test")
	x.cmd("a1", "SELECT INBOX", "OK")
	y.cmd("b1", "SELECT INBOX", "OK")
	y.cmd("b2", `STORE 1 +FLAGS.SILENT (\Deleted)`, "OK")
	y.cmd("b3", "EXPUNGE", "OK")
	for _, items := range []string{"FLAGS", "BODY.PEEK[]", "ENVELOPE"} {
		lines := x.cmd("f", "FETCH 1:2 ("+items+")", "OK [EXPUNGEISSUED]")
		if has(lines, "* 1 FETCH") || !has(lines, "* 2 FETCH") || has(lines, "EXPUNGE\r") {
			t.Fatalf("FETCH %s: %q", items, lines)
		}
	}
	if lines := x.cmd("a2", "NOOP", "OK"); !has(lines, "* 1 EXPUNGE") {
		t.Fatalf("NOOP: %q", lines)
	}
	if lines := x.cmd("a3", "FETCH 1 (FLAGS)", "OK"); strings.Contains(lines[len(lines)-1], "EXPUNGEISSUED") {
		t.Fatalf("FETCH after NOOP: %q", lines)
	}
}
