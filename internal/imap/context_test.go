package imap

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// appendMsg appends a small message with the subject to the mailbox.
func (x *raw) appendMsg(tag, mailbox, flags, subject string) []string {
	x.T.Helper()
	msg := "From: b@example.test\r\nSubject: " + subject + "\r\n\r\nhello " + subject + "\r\n"
	return x.cmd(tag, fmt.Sprintf("APPEND %s (%s) {%d+}\r\n%s", mailbox, flags, len(msg), msg), "OK")
}

// esearch returns the ESEARCH lines of tag.
func esearch(lines []string, tag string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, `* ESEARCH (TAG "`+tag+`")`) {
			out = append(out, l)
		}
	}
	return out
}

// TestContextSearchUpdates drives RFC 5267 CONTEXT=SEARCH over two
// sessions: B's STORE, APPEND and EXPUNGE change A's live results, which A
// learns as ADDTO/REMOVEFROM with the other updates, in the order the RFC
// asks for (REMOVEFROM before EXPUNGE, ADDTO after EXISTS), by UID and by
// sequence number, also in IDLE; CANCELUPDATE ends them.
func TestContextSearchUpdates(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	for i := 1; i <= 3; i++ {
		b.appendMsg(fmt.Sprintf("b%d", i), "INBOX", "", fmt.Sprintf("s%d", i))
	}
	if lines := a.cmd("a0", "CAPABILITY", "OK"); !has(lines, " CONTEXT=SEARCH") || !has(lines, " CONTEXT=SORT") {
		t.Fatalf("CAPABILITY: %q", lines)
	}
	a.cmd("a1", "SELECT INBOX", "OK")
	b.cmd("b4", "SELECT INBOX", "OK")

	lines := a.cmd("u1", "UID SEARCH RETURN (UPDATE) UNSEEN", "OK")
	if got := esearch(lines, "u1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "u1") UID ALL 1:3` {
		t.Fatalf("initial result: %q", lines)
	}
	lines = a.cmd("q1", "SEARCH RETURN (UPDATE COUNT) SEEN", "OK")
	if got := esearch(lines, "q1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "q1") COUNT 0` {
		t.Fatalf("initial result: %q", lines)
	}

	// A flag change in B flips message 2 out of UNSEEN and into SEEN.
	b.cmd("b5", `STORE 2 +FLAGS (\Seen)`, "OK")
	lines = a.cmd("a2", "NOOP", "OK")
	if got := esearch(lines, "u1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "u1") UID REMOVEFROM (0 2)` {
		t.Fatalf("after STORE, u1: %q", lines)
	}
	if got := esearch(lines, "q1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "q1") ADDTO (0 2)` {
		t.Fatalf("after STORE, q1: %q", lines)
	}
	// A change that flips nothing says nothing.
	b.cmd("b6", `STORE 2 +FLAGS (\Flagged)`, "OK")
	if lines = a.cmd("a3", "NOOP", "OK"); len(esearch(lines, "u1"))+len(esearch(lines, "q1")) != 0 {
		t.Fatalf("a change that flips no match: %q", lines)
	}

	// New mail: ADDTO after EXISTS.
	b.appendMsg("b7", "INBOX", "", "s4")
	lines = a.cmd("a4", "NOOP", "OK")
	ex, es := lineIndex(lines, "* 4 EXISTS"), lineIndex(lines, `* ESEARCH (TAG "u1") UID ADDTO (0 4)`)
	if ex < 0 || es < ex {
		t.Fatalf("after APPEND: %q", lines)
	}

	// Expunge: REMOVEFROM with the sequence numbers before the EXPUNGE.
	b.cmd("b8", `STORE 1:2 +FLAGS (\Deleted)`, "OK")
	b.cmd("b9", "EXPUNGE", "OK")
	lines = a.cmd("a5", "NOOP", "OK")
	rm := lineIndex(lines, `* ESEARCH (TAG "q1") REMOVEFROM (0 2)`)
	rmUID := lineIndex(lines, `* ESEARCH (TAG "u1") UID REMOVEFROM (0 1)`)
	exp := lineIndex(lines, "* 2 EXPUNGE")
	if rm < 0 || rmUID < 0 || exp < 0 || rm > exp || rmUID > exp {
		t.Fatalf("after EXPUNGE: %q", lines)
	}

	// Tag reuse while the context lives is BAD (RFC 5267 4.3).
	a.cmd("u1", "SEARCH RETURN (UPDATE) ALL", "BAD")

	// Updates come in IDLE too.
	a.Send("i1 IDLE")
	a.Expect("+ ")
	b.cmd("b10", `STORE 1 +FLAGS (\Seen)`, "OK") // message s3, UID 3
	got := map[string]bool{}
	for !got["u1"] || !got["q1"] {
		l := a.Line()
		switch {
		case l == `* ESEARCH (TAG "u1") UID REMOVEFROM (0 3)`:
			got["u1"] = true
		case l == `* ESEARCH (TAG "q1") ADDTO (0 1)`:
			got["q1"] = true
		case strings.HasPrefix(l, "* ESEARCH"):
			t.Fatalf("in IDLE: %q", l)
		}
	}
	a.Send("DONE")
	a.Expect("i1 OK")

	// CANCELUPDATE: an unknown tag is refused, whole; known ones end.
	a.cmd("c1", `CANCELUPDATE "u1" "nosuch"`, "NO")
	a.cmd("c2", `CANCELUPDATE "u1" "q1"`, "OK")
	b.cmd("b11", `STORE 1:* -FLAGS (\Seen)`, "OK")
	if lines = a.cmd("a6", "NOOP", "OK"); has(lines, "ESEARCH") {
		t.Fatalf("after CANCELUPDATE: %q", lines)
	}
	a.cmd("c3", `CANCELUPDATE "u1"`, "NO")
	a.cmd("c4", "CANCELUPDATE u1", "BAD")
}

// TestContextSearchLimitsAndVolatile: past ten contexts the search answers
// with NOUPDATE (RFC 5267 4.3.1); criteria by sequence number are
// evaluated whole again, since an expunge moves messages in and out of
// them; contexts end when the mailbox is closed.
func TestContextSearchLimitsAndVolatile(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	for i := 1; i <= 4; i++ {
		b.appendMsg(fmt.Sprintf("b%d", i), "INBOX", "", fmt.Sprintf("s%d", i))
	}
	a.cmd("a1", "SELECT INBOX", "OK")
	b.cmd("b5", "SELECT INBOX", "OK")
	// UID SEARCH 2 (sequence number 2): UID 2 now.
	lines := a.cmd("v1", "UID SEARCH RETURN (UPDATE) 2", "OK")
	if got := esearch(lines, "v1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "v1") UID ALL 2` {
		t.Fatalf("initial: %q", lines)
	}
	for i := 2; i <= maxLiveSearches; i++ {
		a.cmd(fmt.Sprintf("v%d", i), "SEARCH RETURN (UPDATE) ALL", "OK")
	}
	lines = a.cmd("over", "SEARCH RETURN (UPDATE COUNT) ALL", "OK")
	if !has(lines, `* NO [NOUPDATE "over"]`) || !has(lines, `* ESEARCH (TAG "over") COUNT 4`) {
		t.Fatalf("past the limit: %q", lines)
	}
	// Expunging message 1 makes UID 3 sequence number 2.
	b.cmd("b6", `STORE 1 +FLAGS (\Deleted)`, "OK")
	b.cmd("b7", "EXPUNGE", "OK")
	lines = a.cmd("a2", "NOOP", "OK")
	if got := esearch(lines, "v1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "v1") UID REMOVEFROM (0 2) ADDTO (0 3)` {
		t.Fatalf("volatile criteria after EXPUNGE: %q", lines)
	}
	if has(lines, `(TAG "over")`) {
		t.Fatalf("a refused context was updated: %q", lines)
	}
	// Reselecting ends them all: the same tags are free again.
	a.cmd("a3", "SELECT INBOX", "OK")
	b.appendMsg("b8", "INBOX", "", "s5")
	if lines = a.cmd("a4", "NOOP", "OK"); has(lines, "ESEARCH") {
		t.Fatalf("after SELECT: %q", lines)
	}
	a.cmd("v1", "SEARCH RETURN (UPDATE) ALL", "OK")
	a.cmd("a5", "UNSELECT", "OK")
	a.cmd("a6", `CANCELUPDATE "v1"`, "BAD") // not selected
}

// TestContextSearchContent: a live search on text re-reads only the new
// message, and answers quickly for a mailbox of many messages.
func TestContextSearchContent(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	for i := 1; i <= 3; i++ {
		b.appendMsg(fmt.Sprintf("b%d", i), "INBOX", "", fmt.Sprintf("plain%d", i))
	}
	a.cmd("a1", "SELECT INBOX", "OK")
	lines := a.cmd("t1", `UID SEARCH RETURN (UPDATE) BODY "needle"`, "OK")
	if got := esearch(lines, "t1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "t1") UID` {
		t.Fatalf("initial: %q", lines)
	}
	b.appendMsg("b4", "INBOX", "", "needle")
	b.appendMsg("b5", "INBOX", `\Seen`, "other")
	start := time.Now()
	lines = a.cmd("a2", "NOOP", "OK")
	if got := esearch(lines, "t1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "t1") UID ADDTO (0 4)` {
		t.Fatalf("after APPEND: %q", lines)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("NOOP took %v", d)
	}
}

// TestContextSearchUpdateFetch: UPDATE with fetch attributes (RFC 5465
// section 7) sends a new message's FETCH after EXISTS and before its
// ADDTO; a message that joins the result by a flag change gets no FETCH.
func TestContextSearchUpdateFetch(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	b.appendMsg("b1", "INBOX", "", "plain")
	a.cmd("a1", "SELECT INBOX", "OK")
	b.cmd("b2", "SELECT INBOX", "OK")
	a.cmd("f1", `UID SEARCH RETURN (COUNT UPDATE (FLAGS BODY[HEADER.FIELDS (Subject)])) OR SUBJECT wanted FLAGGED`, "OK")
	b.appendMsg("b3", "INBOX", "", "wanted")
	lines := a.cmd("a2", "NOOP", "OK")
	ex := lineIndex(lines, "* 2 EXISTS")
	fe := lineIndex(lines, "* 2 FETCH (UID 2 FLAGS () BODY[HEADER.FIELDS (Subject)] {")
	subj := lineIndex(lines, "Subject: wanted")
	es := lineIndex(lines, `* ESEARCH (TAG "f1") UID ADDTO (0 2)`)
	if ex < 0 || fe < ex || subj < fe || es < subj {
		t.Fatalf("new message: %q", lines)
	}
	b.cmd("b4", `STORE 1 +FLAGS (\Flagged)`, "OK")
	lines = a.cmd("a3", "NOOP", "OK")
	if lineIndex(lines, `* ESEARCH (TAG "f1") UID ADDTO (0 1)`) < 0 || lineIndex(lines, "BODY[") >= 0 {
		t.Fatalf("flag change: %q", lines)
	}
	// The notification did not set \Seen.
	if lines = b.cmd("b5", "FETCH 2 FLAGS", "OK"); lineIndex(lines, `\Seen`) >= 0 {
		t.Fatalf("UPDATE's FETCH set \\Seen: %q", lines)
	}
}

// TestContextSearchModSeq: a live search on MODSEQ (RFC 7162) takes in a
// message whose flags change after it, since the changed message is
// evaluated again with its new modseq; updates carry no MODSEQ (RFC 5267's
// ADDTO has none).
func TestContextSearchModSeq(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	b.appendMsg("b1", "INBOX", "", "one")
	b.appendMsg("b2", "INBOX", "", "two")
	lines := a.cmd("a1", "SELECT INBOX (CONDSTORE)", "OK")
	var hms uint64
	for _, l := range lines {
		if _, err := fmt.Sscanf(l, "* OK [HIGHESTMODSEQ %d]", &hms); err == nil {
			break
		}
	}
	if hms == 0 {
		t.Fatalf("no HIGHESTMODSEQ: %q", lines)
	}
	lines = a.cmd("m1", fmt.Sprintf("UID SEARCH RETURN (UPDATE COUNT) MODSEQ %d", hms+1), "OK")
	if got := esearch(lines, "m1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "m1") UID COUNT 0` {
		t.Fatalf("initial: %q", lines)
	}
	b.cmd("b3", "SELECT INBOX", "OK")
	b.cmd("b4", `STORE 2 +FLAGS (\Answered)`, "OK")
	lines = a.cmd("a2", "NOOP", "OK")
	if got := esearch(lines, "m1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "m1") UID ADDTO (0 2)` {
		t.Fatalf("after STORE: %q", lines)
	}
	if lineIndex(lines, "* 2 FETCH (UID 2 FLAGS (\\Answered") < 0 || lineIndex(lines, ") MODSEQ (") < 0 {
		t.Fatalf("the flag change itself: %q", lines)
	}
}
