package imap

import (
	"context"
	"regexp"
	"strconv"
	"testing"

	"mailroom/internal/store"
)

func number(t *testing.T, lines []string, re string) uint64 {
	t.Helper()
	r := regexp.MustCompile(re)
	for _, l := range lines {
		if m := r.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in %q", re, lines)
	return 0
}

// TestCondstoreQresyncResync: a client goes offline, other clients change
// flags and expunge, mail arrives; on reconnect SELECT (QRESYNC ...) tells
// it exactly what changed (RFC 7162 3.2.5.1).
func TestCondstoreQresyncResync(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	for i := 0; i < 5; i++ {
		r.Deliver(acct, "Subject: m"+strconv.Itoa(i)+"\r\n\r\nx\r\n")
	}
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("a2", "ENABLE QRESYNC", "OK")
	lines := x.cmd("a3", "SELECT INBOX", "OK")
	uidValidity := number(t, lines, `UIDVALIDITY (\d+)`)
	modseq := number(t, lines, `HIGHESTMODSEQ (\d+)`)
	x.cmd("a4", "LOGOUT", "OK")

	// Offline: flags change on 2, 4 is expunged, 6 arrives.
	ctx := context.Background()
	inbox := r.Mailbox(acct, "INBOX")
	r.Store.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{2}, Op: store.FlagsAdd, Flags: store.FlagFlagged})
	r.Store.Expunge(ctx, inbox.ID, []uint32{4})
	r.Deliver(acct, "Subject: new\r\n\r\nx\r\n")

	y := r.raw(true)
	y.cmd("b1", "LOGIN ann@example.test \""+password+"\"", "OK")
	y.cmd("b2", "ENABLE QRESYNC", "OK")
	lines = y.cmd("b3", "SELECT INBOX (QRESYNC ("+strconv.FormatUint(uidValidity, 10)+" "+strconv.FormatUint(modseq, 10)+" 1:5))", "OK")
	if !has(lines, "* VANISHED (EARLIER) 4") || !has(lines, "UID 2 FLAGS (\\Flagged) MODSEQ (") || !has(lines, "FETCH (UID 6 FLAGS (") {
		t.Fatalf("QRESYNC SELECT: %q", lines)
	}
	if has(lines, "UID 1 ") || has(lines, "UID 3 ") {
		t.Fatalf("unchanged messages reported: %q", lines)
	}
	// CHANGEDSINCE with VANISHED.
	lines = y.cmd("b4", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatUint(modseq, 10)+" VANISHED)", "OK")
	if !has(lines, "* VANISHED (EARLIER) 4") || !has(lines, "UID 2 FLAGS (\\Flagged) MODSEQ") {
		t.Fatalf("CHANGEDSINCE VANISHED: %q", lines)
	}
	// Conditional STORE: message 2 changed since modseq, 1 did not.
	lines = y.cmd("b5", "UID STORE 1,2 (UNCHANGEDSINCE "+strconv.FormatUint(modseq, 10)+") +FLAGS (\\Seen)", "OK [MODIFIED 2]")
	if !has(lines, "UID 1 FLAGS (\\Seen) MODSEQ (") {
		t.Fatalf("conditional STORE: %q", lines)
	}
	// SEARCH MODSEQ returns the highest modseq of the matches.
	lines = y.cmd("b6", "UID SEARCH MODSEQ "+strconv.FormatUint(modseq+1, 10), "OK")
	if !has(lines, "(MODSEQ ") {
		t.Fatalf("SEARCH MODSEQ: %q", lines)
	}
	// With QRESYNC, expunges are announced as VANISHED.
	y.cmd("b7", "UID STORE 6 +FLAGS (\\Deleted)", "OK")
	if lines := y.cmd("b8", "EXPUNGE", "OK"); !has(lines, "* VANISHED 6") || has(lines, "EXPUNGE\r") {
		t.Fatalf("EXPUNGE under QRESYNC: %q", lines)
	}
}

func TestObjectIDs(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: a\r\n\r\nx\r\n")
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	created := x.cmd("a2", "CREATE Projects", "OK [MAILBOXID (F")
	id := number(t, created, `MAILBOXID \(F(\d+)\)`)
	x.cmd("a3", "RENAME Projects Done", "OK")
	if lines := x.cmd("a4", "STATUS Done (MAILBOXID HIGHESTMODSEQ)", "OK"); number(t, lines, `MAILBOXID \(F(\d+)\)`) != id {
		t.Fatalf("MAILBOXID changed across RENAME: %q", lines)
	}
	if lines := x.cmd("a5", "SELECT INBOX", "OK"); !has(lines, "[MAILBOXID (F") {
		t.Fatalf("SELECT without MAILBOXID: %q", lines)
	}
	x.cmd("a6", "COPY 1 Done", "OK")
	a := x.cmd("a7", "FETCH 1 (EMAILID THREADID)", "OK")
	x.cmd("a8", "SELECT Done", "OK")
	b := x.cmd("a9", "FETCH 1 (EMAILID THREADID)", "OK")
	if number(t, a, `EMAILID \(M(\d+)\)`) != number(t, b, `EMAILID \(M(\d+)\)`) {
		t.Fatalf("EMAILID of a copy differs: %q / %q", a, b)
	}
	// RFC 8474 5.2: a copy is in the same thread.
	if number(t, a, `THREADID \(T(\d+)\)`) != number(t, b, `THREADID \(T(\d+)\)`) {
		t.Fatalf("THREADID of a copy differs: %q / %q", a, b)
	}
}

func TestSearchRes(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	for i := 0; i < 4; i++ {
		r.Deliver(acct, "Subject: m"+strconv.Itoa(i)+"\r\n\r\nx\r\n")
	}
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("a2", "SELECT INBOX", "OK")
	x.cmd("a3", "STORE 2,4 +FLAGS (\\Flagged)", "OK")
	// (cmd's lines end with the tagged reply.)
	if lines := x.cmd("a4", "SEARCH RETURN (SAVE) FLAGGED", "OK"); len(lines) != 1 {
		t.Fatalf("SAVE alone answered %q", lines)
	}
	if lines := x.cmd("a5", "FETCH $ (UID)", "OK"); len(lines) != 3 || !has(lines, "* 2 FETCH (UID 2)") || !has(lines, "* 4 FETCH (UID 4)") {
		t.Fatalf("FETCH $: %q", lines)
	}
	x.cmd("a6", "UID STORE $ +FLAGS (\\Deleted)", "OK")
	x.cmd("a7", "UID EXPUNGE 2", "OK")
	if lines := x.cmd("a8", "UID FETCH $ (UID)", "OK"); len(lines) != 2 || !has(lines, "UID 4") {
		t.Fatalf("$ after an expunge: %q", lines)
	}
	if lines := x.cmd("a9", "SEARCH $", "OK"); !has(lines, "* SEARCH 3") {
		t.Fatalf("SEARCH $: %q", lines)
	}
}

func TestListExtendedAndStatus(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: a\r\n\r\nx\r\n")
	ctx := context.Background()
	r.Store.CreateMailbox(ctx, acct.ID, "Lists/Go", "")
	r.Store.SetSubscribed(ctx, acct.ID, "Lists/Go", true)
	r.Store.SetSubscribed(ctx, acct.ID, "Junk", false)
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	lines := x.cmd("a2", `LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES UNSEEN))`, "OK")
	if !has(lines, `* LIST (\HasNoChildren \Subscribed) "/" "INBOX"`) || !has(lines, `* STATUS "INBOX" (MESSAGES 1 UNSEEN 1)`) ||
		has(lines, `"Junk"`) || !has(lines, `"Lists/Go"`) {
		t.Fatalf("LIST (SUBSCRIBED) RETURN (STATUS): %q", lines)
	}
	lines = x.cmd("a3", `LIST (SPECIAL-USE) "" "*"`, "OK")
	if has(lines, `"INBOX"`) || !has(lines, `\Sent`) || !has(lines, `\Trash`) {
		t.Fatalf("LIST (SPECIAL-USE): %q", lines)
	}
	lines = x.cmd("a4", `LIST "" ("INBOX" "Sent")`, "OK")
	if len(lines) != 3 {
		t.Fatalf("LIST with two patterns: %q", lines)
	}
	lines = x.cmd("a5", `LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`, "OK")
	if !has(lines, `"Lists" ("CHILDINFO" ("SUBSCRIBED"))`) {
		t.Fatalf("RECURSIVEMATCH: %q", lines)
	}
	x.cmd("a6", `LIST (RECURSIVEMATCH) "" "*"`, "BAD")
	lines = x.cmd("a7", `LIST "" "*" RETURN (SUBSCRIBED)`, "OK")
	if !has(lines, `(\HasNoChildren \Junk) "/" "Junk"`) || !has(lines, `\Subscribed) "/" "Lists/Go"`) {
		t.Fatalf("RETURN (SUBSCRIBED): %q", lines)
	}
}
