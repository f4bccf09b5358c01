package imap

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// Replays of what Thunderbird, Apple Mail and Outlook send, in their own
// tags and command forms, against the real server over IMAPS. Each test
// names where its sequence comes from; what no public log showed is marked
// as reconstructed from the client's documented behaviour.

// plainIR is SASL PLAIN for ann@example.test: "\0ann@example.test\0correct horse".
const plainIR = "AGFubkBleGFtcGxlLnRlc3QAY29ycmVjdCBob3JzZQ=="

// replayMail fills ann's INBOX with three messages: a plain one, a
// multipart with an attachment, and one more plain one. UIDs 1, 2, 3.
func replayMail(r *rig, acct store.Account) {
	r.Deliver(acct, "From: Bob <bob@example.test>\r\nTo: ann@example.test\r\nSubject: one\r\n"+
		"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <one@example.test>\r\nX-Mailer: replay\r\n\r\nfirst\r\n")
	r.Deliver(acct, "From: Carol <carol@example.test>\r\nTo: ann@example.test\r\nSubject: two\r\n"+
		"Date: Sat, 21 Nov 2026 11:00:00 +0000\r\nMessage-ID: <two@example.test>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"+
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\nWorld\r\n"+
		"--b\r\nContent-Type: text/plain; charset=utf-8; name=\"notes.txt\"\r\n"+
		"Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnotes line 1\r\nnotes line 2\r\n\r\n--b--\r\n")
	r.Deliver(acct, "From: Dave <dave@example.test>\r\nTo: ann@example.test\r\nSubject: three\r\n"+
		"Date: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <three@example.test>\r\n\r\nthird\r\n")
}

// finish reads up to and including the tagged reply to a command already
// sent, which must start with want.
func finish(x *raw, tag, want string) []string {
	x.T.Helper()
	var lines []string
	for {
		l := x.Line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" "+want) {
				x.T.Fatalf("%s: got %q, want %s (all: %q)", tag, l, want, lines)
			}
			return lines
		}
	}
}

// collect reads lines (in IDLE, say) until each of subs has appeared in
// one of them. Updates are pushed at once, so a few seconds is plenty; a
// missing one fails the test then, not at the connection's deadline.
func collect(x *raw, subs ...string) []string {
	x.T.Helper()
	x.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer x.Conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var lines []string
	for {
		missing := false
		for _, s := range subs {
			if !has(lines, s) {
				missing = true
			}
		}
		if !missing {
			return lines
		}
		l, err := x.R.ReadString('\n')
		if err != nil {
			x.T.Fatalf("waiting for %q: %v; got %q", subs, err, append(lines, l))
		}
		lines = append(lines, strings.TrimSuffix(l, "\r\n"))
	}
}

// appendLiteral sends an APPEND whose message goes in a synchronizing
// literal, as these clients send it, and returns the tagged reply.
func appendLiteral(x *raw, tag, command, msg string) string {
	x.T.Helper()
	x.Send(tag + " " + command + " {" + strconv.Itoa(len(msg)) + "}")
	x.Expect("+ ")
	x.Send(msg) // the CRLF send adds ends the command
	lines := finish(x, tag, "OK")
	return lines[len(lines)-1]
}

// specialUse checks that each default folder is listed with its RFC 6154
// attribute, and INBOX with none.
func specialUse(t *testing.T, lines []string) {
	t.Helper()
	for name, attr := range map[string]string{"Sent": `\Sent`, "Trash": `\Trash`, "Drafts": `\Drafts`, "Junk": `\Junk`, "Archive": `\Archive`} {
		found := false
		for _, l := range lines {
			if strings.HasSuffix(l, `"/" "`+name+`"`) && strings.Contains(l, attr) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no %s attribute on %s: %q", attr, name, lines)
		}
	}
	for _, l := range lines {
		if strings.HasSuffix(l, `"INBOX"`) && (strings.Contains(l, `\Sent`) || strings.Contains(l, `\Archive`) || strings.Contains(l, `\Trash`)) {
			t.Fatalf("INBOX with a special use: %q", l)
		}
	}
}

func messages(t *testing.T, r *rig, acct store.Account, mailbox string) []store.MessageMeta {
	t.Helper()
	list, err := r.Store.MessageList(context.Background(), r.Mailbox(acct, mailbox).ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestReplayThunderbird follows Thunderbird (115) through opening the
// INBOX, downloading headers and a body, being told of changes in IDLE,
// resyncing with CHANGEDSINCE, deleting (move to Trash, and mark +
// UID EXPUNGE) and saving a sent message. Sources:
//   - https://github.com/stalwartlabs/stalwart/issues/234 (Thunderbird
//     115.7.0, MOZ_LOG=IMAP:5): numeric tags, ID and ENABLE UTF8=ACCEPT after
//     authentication.
//   - https://github.com/mjl-/mox/issues/66 (Thunderbird 115.2.2 transcript):
//     `list (subscribed) "" "*" return (special-use)` to find the folders.
//   - The Wireshark capture of Thunderbird against Dovecot in
//     https://github.com/Fabian-Martinez-Rincon/Redes-y-Comunicaciones
//     ("Análisis del protocolo IMAP"): `noop`, `UID fetch 8:* (FLAGS)`,
//     IDLE answered by `* 6 EXISTS`, DONE, then `UID fetch 8 (UID
//     RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date
//     Message-ID Priority X-Priority References Newsgroups In-Reply-To
//     Content-Type Reply-To)])`, `UID fetch 8 (UID RFC822.SIZE
//     BODY.PEEK[])` and `UID fetch 8 (UID BODY.PEEK[HEADER.FIELDS
//     (Content-Type Content-Transfer-Encoding)] BODY.PEEK[TEXT]<0.2048>)`.
//   - https://github.com/ProtonMail/proton-bridge/issues/204: Thunderbird
//     goes wrong unless UID comes first in the answer to `uid fetch N (UID
//     RFC822.SIZE BODY[])`.
//   - https://wiki.mozilla.org/Thunderbird:IMAP_RFC_4551_Implementation:
//     `UID fetch 1:* (FLAGS)` on opening a folder, CHANGEDSINCE with
//     CONDSTORE.
//
// `select "INBOX" (CONDSTORE)` (sent with mail.server.*.use_condstore),
// UID MOVE to Trash, `UID STORE … +FLAGS (\Deleted)` + UID EXPUNGE and the
// APPEND to Sent are reconstructed from Thunderbird's documented behaviour.
func TestReplayThunderbird(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	replayMail(r, acct)
	tb := r.raw(true)
	if lines := tb.cmd("1", "capability", "OK"); !has(lines, " IDLE") || !has(lines, " MOVE") || !has(lines, " UIDPLUS") ||
		!has(lines, " CONDSTORE") || !has(lines, " SPECIAL-USE") {
		t.Fatalf("capability: %q", lines)
	}
	tb.Send("2 authenticate PLAIN")
	tb.Expect("+")
	tb.Send(plainIR)
	finish(tb, "2", "OK")
	if lines := tb.cmd("3", `ID ("name" "Thunderbird" "version" "115.7.0")`, "OK"); !has(lines, "* ID (") {
		t.Fatalf("ID: %q", lines)
	}
	if lines := tb.cmd("4", "ENABLE UTF8=ACCEPT", "OK"); !has(lines, "* ENABLED UTF8=ACCEPT") {
		t.Fatalf("ENABLE: %q", lines)
	}
	lines := tb.cmd("5", `list (subscribed) "" "*" return (special-use)`, "OK")
	specialUse(t, lines)
	if !has(lines, `\Subscribed) "/" "INBOX"`) {
		t.Fatalf("INBOX not subscribed: %q", lines)
	}
	lines = tb.cmd("6", `select "INBOX" (CONDSTORE)`, "OK [READ-WRITE]")
	if !has(lines, "* 3 EXISTS") || !has(lines, "[UIDVALIDITY ") {
		t.Fatalf("select: %q", lines)
	}
	modseq := number(t, lines, `HIGHESTMODSEQ (\d+)`)
	uidValidity := number(t, lines, `UIDVALIDITY (\d+)`)
	lines = tb.cmd("7", "UID fetch 1:* (FLAGS)", "OK")
	for _, want := range []string{`* 1 FETCH (UID 1 FLAGS (\Recent))`, `* 2 FETCH (UID 2 FLAGS (\Recent))`, `* 3 FETCH (UID 3 FLAGS (\Recent))`} {
		if !has(lines, want) {
			t.Fatalf("UID fetch 1:* (FLAGS): no %q in %q", want, lines)
		}
	}
	const hdrs = "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To"
	lines = tb.cmd("8", "UID fetch 1:3 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ("+hdrs+")])", "OK")
	if !strings.HasPrefix(lines[0], "* 1 FETCH (UID 1 RFC822.SIZE ") || !has(lines, "Subject: one") ||
		!has(lines, "From: Carol <carol@example.test>") || !has(lines, "Message-ID: <three@example.test>") || has(lines, "X-Mailer") {
		t.Fatalf("header fetch: %q", lines)
	}
	lines = tb.cmd("9", "UID fetch 2 (UID RFC822.SIZE BODY.PEEK[])", "OK")
	if !strings.HasPrefix(lines[0], "* 2 FETCH (UID 2 RFC822.SIZE ") || !strings.Contains(lines[0], " BODY[] {") {
		t.Fatalf("body fetch, UID first: %q", lines[0])
	}
	lines = tb.cmd("10", "UID fetch 2 (UID BODY.PEEK[HEADER.FIELDS (Content-Type Content-Transfer-Encoding)] BODY.PEEK[TEXT]<0.2048>)", "OK")
	if !has(lines, "Content-Type: multipart/mixed") || !has(lines, "BODY[TEXT]<0> {") || !has(lines, "Hello") {
		t.Fatalf("partial text fetch: %q", lines)
	}
	if lines := tb.cmd("11", `UID STORE 2 +FLAGS (\Seen)`, "OK"); !has(lines, `* 2 FETCH (UID 2 FLAGS (\Seen \Recent) MODSEQ (`) {
		t.Fatalf("UID STORE under CONDSTORE: %q", lines)
	}
	tb.cmd("12", "noop", "OK")
	// UIDNEXT:* names the highest UID when nothing is new (RFC 9051
	// 6.4.9): Thunderbird polls this way and ignores what it has.
	if lines := tb.cmd("13", "UID fetch 4:* (FLAGS)", "OK"); len(lines) != 2 || !has(lines, `* 3 FETCH (UID 3 FLAGS (\Recent))`) {
		t.Fatalf("UID fetch 4:* with highest UID 3: %q", lines)
	}

	// IDLE: another client flags message 1, then new mail arrives.
	other := r.raw(true)
	other.cmd("o1", `LOGIN ann@example.test "`+password+`"`, "OK")
	other.cmd("o2", "SELECT INBOX", "OK")
	tb.Send("14 IDLE")
	tb.Expect("+ ")
	other.cmd("o3", `UID STORE 1 +FLAGS (\Flagged)`, "OK")
	r.Deliver(acct, "From: Eve <eve@example.test>\r\nSubject: four\r\n\r\nfourth\r\n")
	// A CONDSTORE client is told flag changes with UID and MODSEQ
	// (RFC 7162 3.1).
	collect(tb, "* 4 EXISTS", `* 1 FETCH (UID 1 FLAGS (\Flagged \Recent) MODSEQ (`)
	tb.Send("DONE")
	finish(tb, "14", "OK")
	tb.cmd("15", "noop", "OK")
	// (\Recent for this IMAP4rev1 session, or for the other one.)
	if lines := tb.cmd("16", "UID fetch 4:* (FLAGS)", "OK"); !has(lines, "* 4 FETCH (UID 4 FLAGS (") {
		t.Fatalf("new mail after IDLE: %q", lines)
	}
	if lines := tb.cmd("17", "UID fetch 4 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ("+hdrs+")])", "OK"); !has(lines, "Subject: four") {
		t.Fatalf("new message's headers: %q", lines)
	}
	// Resync: only what changed since the SELECT, with MODSEQ.
	lines = tb.cmd("18", "UID fetch 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatUint(modseq, 10)+")", "OK")
	if !has(lines, `UID 1 FLAGS (\Flagged \Recent) MODSEQ (`) || !has(lines, `UID 2 FLAGS (\Seen \Recent) MODSEQ (`) ||
		!has(lines, "UID 4 FLAGS (") || has(lines, "UID 3 ") {
		t.Fatalf("CHANGEDSINCE: %q", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, " FETCH (") && !strings.Contains(l, " MODSEQ (") {
			t.Fatalf("CHANGEDSINCE answer without MODSEQ: %q", l)
		}
	}

	// Delete = move to Trash.
	lines = tb.cmd("19", `UID MOVE 3 "Trash"`, "OK")
	if !has(lines, "* OK [COPYUID ") || !has(lines, " 3 1]") || !has(lines, "* 3 EXPUNGE") {
		t.Fatalf("UID MOVE: %q", lines)
	}
	if n := number(t, lines, `COPYUID (\d+) `); n == uidValidity {
		t.Fatalf("COPYUID carries the source's UIDVALIDITY, not Trash's: %q", lines)
	}
	// Delete with "mark as deleted", then compact the folder.
	tb.cmd("20", `UID STORE 1 +FLAGS (\Deleted)`, "OK")
	if lines := tb.cmd("21", "UID EXPUNGE 1", "OK"); !has(lines, "* 1 EXPUNGE") {
		t.Fatalf("UID EXPUNGE: %q", lines)
	}
	sent := "From: ann@example.test\r\nTo: bob@example.test\r\nSubject: reply\r\nMessage-ID: <reply@example.test>\r\n\r\nsent from thunderbird\r\n"
	if l := appendLiteral(tb, "22", `APPEND "Sent" (\Seen)`, sent); !strings.HasPrefix(l, "22 OK [APPENDUID ") || !strings.Contains(l, " 1]") {
		t.Fatalf("APPEND to Sent: %q", l)
	}
	tb.cmd("23", "logout", "OK")

	if inbox := messages(t, r, acct, "INBOX"); len(inbox) != 2 || inbox[0].UID != 2 || inbox[1].UID != 4 {
		t.Fatalf("INBOX after Thunderbird: %+v", inbox)
	}
	if trash := messages(t, r, acct, "Trash"); len(trash) != 1 {
		t.Fatalf("Trash: %+v", trash)
	}
	if s := messages(t, r, acct, "Sent"); len(s) != 1 || s[0].Flags&store.FlagSeen == 0 {
		t.Fatalf("Sent: %+v", s)
	}
}

// TestReplayAppleMail follows Apple Mail (iOS 18 / macOS): pipelined
// NAMESPACE and LIST … RETURN (SPECIAL-USE), SELECT with CONDSTORE, a
// separate connection that sits in IDLE, changes made on the main
// connection, a CHANGEDSINCE resync, UID EXPUNGE and a draft saved.
// Sources:
//   - https://github.com/stalwartlabs/stalwart/issues/765 (iOS 18 raw
//     trace): A-numbered tags, `A3 NAMESPACE` and `A4 LIST "" "*" RETURN
//     (SPECIAL-USE)` sent together, `A5 SELECT "INBOX" (CONDSTORE)`.
//   - https://github.com/zone-eu/wildduck/issues/869 (iOS 26 trace):
//     `1 CAPABILITY`, then `2 AUTHENTICATE PLAIN` answered with a
//     continuation.
//   - https://github.com/zone-eu/wildduck/issues/684: iOS Mail's IDLE
//     connection uses tags like `8.569`.
//   - https://github.com/modern-email/defects/issues/29: iPhone Mail
//     resyncs with CHANGEDSINCE the HIGHESTMODSEQ it was given (and sends
//     `CHANGEDSINCE 0` if a server ever gave it 0), so an empty mailbox
//     must report a HIGHESTMODSEQ of at least 1.
//
// The ID parameters, the UID FETCH forms (BODYSTRUCTURE, BODY.PEEK[1]),
// `+FLAGS.SILENT`, UID MOVE, UID EXPUNGE and the APPEND to Drafts are
// reconstructed from Apple Mail's documented behaviour; Apple's
// XAPPLEPUSHSERVICE is not offered, so Mail falls back to IDLE.
func TestReplayAppleMail(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	replayMail(r, acct)
	m := r.raw(true)
	lines := m.cmd("1", "CAPABILITY", "OK")
	if has(lines, "XAPPLEPUSHSERVICE") || has(lines, "X-APPLE") || !has(lines, " IDLE") || !has(lines, " CONDSTORE") {
		t.Fatalf("CAPABILITY: %q", lines)
	}
	m.Send("2 AUTHENTICATE PLAIN")
	m.Expect("+")
	m.Send(plainIR)
	finish(m, "2", "OK")
	if lines := m.cmd("A1", `ID ("name" "iPhone Mail" "version" "22A3354" "os" "iOS" "os-version" "18.0 (22A3354)")`, "OK"); !has(lines, "* ID (") {
		t.Fatalf("ID: %q", lines)
	}
	// Pipelined, as in the trace.
	m.Send("A3 NAMESPACE\r\nA4 LIST \"\" \"*\" RETURN (SPECIAL-USE)")
	if lines := finish(m, "A3", "OK"); !has(lines, `* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))`) {
		t.Fatalf("NAMESPACE: %q", lines)
	}
	specialUse(t, finish(m, "A4", "OK"))
	// An empty mailbox's HIGHESTMODSEQ is never 0 (defects#29).
	lines = m.cmd("A5", `STATUS "Junk" (HIGHESTMODSEQ MESSAGES UIDNEXT UIDVALIDITY UNSEEN)`, "OK")
	if number(t, lines, `HIGHESTMODSEQ (\d+)`) == 0 || !has(lines, "MESSAGES 0") {
		t.Fatalf("STATUS of an empty mailbox: %q", lines)
	}
	lines = m.cmd("A6", `SELECT "Junk" (CONDSTORE)`, "OK")
	junkModseq := number(t, lines, `HIGHESTMODSEQ (\d+)`)
	if lines := m.cmd("A7", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatUint(junkModseq, 10)+")", "OK"); len(lines) != 1 {
		t.Fatalf("CHANGEDSINCE on an empty mailbox: %q", lines)
	}
	lines = m.cmd("A8", `SELECT "INBOX" (CONDSTORE)`, "OK [READ-WRITE]")
	if !has(lines, "* OK [CLOSED]") || !has(lines, "* 3 EXISTS") {
		t.Fatalf("SELECT INBOX: %q", lines)
	}
	modseq := number(t, lines, `HIGHESTMODSEQ (\d+)`)
	if lines := m.cmd("A9", "UID FETCH 1:* (UID FLAGS)", "OK"); len(lines) != 4 {
		t.Fatalf("UID FETCH 1:*: %q", lines)
	}
	// Structure first, then only the part it shows.
	lines = m.cmd("A10", "UID FETCH 2 (UID RFC822.SIZE INTERNALDATE FLAGS BODYSTRUCTURE)", "OK")
	// body-fld-lines counts the part's line ends: "Hello\r\nWorld" has one,
	// the CRLF before "--b" being the boundary's (RFC 2046 5.1.1), as
	// Dovecot reports it.
	if !has(lines, `("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)`) ||
		!has(lines, `"7bit" 28 2 NIL ("attachment" ("filename" "notes.txt")) NIL NIL)`) || !has(lines, `"mixed" ("boundary" "b")`) {
		t.Fatalf("BODYSTRUCTURE: %q", lines)
	}
	if lines := m.cmd("A11", "UID FETCH 2 (BODY.PEEK[1])", "OK"); !has(lines, "BODY[1] {12}") || has(lines, `\Seen`) {
		t.Fatalf("BODY.PEEK[1]: %q", lines)
	}

	// The IDLE connection.
	idle := r.raw(true)
	idle.cmd("8.567", "AUTHENTICATE PLAIN "+plainIR, "OK")
	idle.cmd("8.568", `SELECT "INBOX" (CONDSTORE)`, "OK")
	idle.Send("8.569 IDLE")
	idle.Expect("+ ")
	m.cmd("A12", `UID STORE 1 +FLAGS.SILENT (\Seen)`, "OK")
	if lines := m.cmd("A13", `UID MOVE 2 "Archive"`, "OK"); !has(lines, "* OK [COPYUID ") || !has(lines, "* 2 EXPUNGE") {
		t.Fatalf("UID MOVE: %q", lines)
	}
	r.Deliver(acct, "From: Eve <eve@example.test>\r\nSubject: four\r\n\r\nfourth\r\n")
	collect(idle, `* 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (`, "* 2 EXPUNGE", "* 3 EXISTS")
	idle.Send("DONE")
	finish(idle, "8.569", "OK")

	// The main connection resyncs flags by modseq.
	lines = m.cmd("A14", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatUint(modseq, 10)+")", "OK")
	if !has(lines, `UID 1 FLAGS (\Seen \Recent) MODSEQ (`) || !has(lines, "UID 4 FLAGS () MODSEQ (") || has(lines, "UID 3 ") {
		t.Fatalf("CHANGEDSINCE resync: %q", lines)
	}
	m.cmd("A15", `UID STORE 3 +FLAGS.SILENT (\Deleted)`, "OK")
	if lines := m.cmd("A16", "UID EXPUNGE 3", "OK"); !has(lines, "* 2 EXPUNGE") { // UID 3 is message 2 now
		t.Fatalf("UID EXPUNGE: %q", lines)
	}
	draft := "From: ann@example.test\r\nSubject: draft\r\n\r\nhalf written\r\n"
	if l := appendLiteral(m, "A17", `APPEND "Drafts" (\Seen \Draft)`, draft); !strings.HasPrefix(l, "A17 OK [APPENDUID ") {
		t.Fatalf("APPEND to Drafts: %q", l)
	}
	lines = m.cmd("A18", `STATUS "Drafts" (HIGHESTMODSEQ MESSAGES UIDNEXT UIDVALIDITY UNSEEN)`, "OK")
	if !has(lines, "MESSAGES 1") || !has(lines, "UIDNEXT 2") || !has(lines, "UNSEEN 0") {
		t.Fatalf("STATUS Drafts: %q", lines)
	}
	m.cmd("A19", "LOGOUT", "OK")

	inbox := messages(t, r, acct, "INBOX")
	if len(inbox) != 2 || inbox[0].UID != 1 || inbox[0].Flags&store.FlagSeen == 0 || inbox[1].UID != 4 {
		t.Fatalf("INBOX after Apple Mail: %+v", inbox)
	}
	if a := messages(t, r, acct, "Archive"); len(a) != 1 {
		t.Fatalf("Archive: %+v", a)
	}
	if d := messages(t, r, acct, "Drafts"); len(d) != 1 || d[0].Flags&store.FlagDraft == 0 {
		t.Fatalf("Drafts: %+v", d)
	}
}

// TestReplayOutlook follows Microsoft's client (the "Microsoft Office 365"
// engine behind the new Outlook's IMAP accounts): ID before
// authentication, a plain `LIST "" "*"` (no LIST-EXTENDED) from which it
// takes the special-use folders, message sequence number FETCH,
// UID SEARCH, UID STORE, a plain EXPUNGE, the sent message APPENDed to
// Sent, and IDLE. Sources:
//   - https://github.com/modern-email/defects/issues/49 (mox transcript):
//     WIR00001-style tags, `ID ("name" "Microsoft Office 365" …)` before
//     `AUTHENTICATE PLAIN`, then `CAPABILITY`; it uses message sequence
//     number FETCH.
//
// The rest (LIST, SELECT, FETCH 1:* (UID FLAGS), UID SEARCH UNSEEN,
// UID STORE, EXPUNGE, APPEND with a date, IDLE) is reconstructed from
// Outlook's documented behaviour ([MS-STANOIMAP]); no log of it was found.
func TestReplayOutlook(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	replayMail(r, acct)
	o := r.raw(true)
	if lines := o.cmd("WIR00001", `ID ("name" "Microsoft Office 365" "version" "15.20.9160.4" "vendor" "Microsoft Corporation" "support-url" "https://support.microsoft.com/")`, "OK"); !has(lines, "* ID (") {
		t.Fatalf("ID before authentication: %q", lines)
	}
	o.cmd("WIR00002", "AUTHENTICATE PLAIN "+plainIR, "OK")
	if lines := o.cmd("WIR00003", "CAPABILITY", "OK"); !has(lines, " IDLE") || !has(lines, " UIDPLUS") || has(lines, " AUTH=") { // not URLAUTH=
		t.Fatalf("CAPABILITY after authentication: %q", lines)
	}
	// Plain LIST carries the special-use attributes too (RFC 6154 2):
	// clients that never ask for them still find Sent and Trash.
	specialUse(t, o.cmd("WIR00004", `LIST "" "*"`, "OK"))
	if lines := o.cmd("WIR00005", `SELECT "INBOX"`, "OK [READ-WRITE]"); !has(lines, "* 3 EXISTS") || !has(lines, "* 3 RECENT") {
		t.Fatalf("SELECT: %q", lines)
	}
	lines := o.cmd("WIR00006", "FETCH 1:* (UID FLAGS)", "OK")
	if !has(lines, "* 1 FETCH (UID 1 FLAGS (") || !has(lines, "* 3 FETCH (UID 3 FLAGS (") {
		t.Fatalf("FETCH 1:* (UID FLAGS): %q", lines)
	}
	lines = o.cmd("WIR00007", "UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[])", "OK")
	if !strings.HasPrefix(lines[0], "* 2 FETCH (UID 2 RFC822.SIZE ") || !has(lines, "notes line 2") {
		t.Fatalf("UID FETCH BODY.PEEK[]: %q", lines)
	}
	if lines := o.cmd("WIR00008", `UID STORE 2 +FLAGS (\Seen)`, "OK"); !has(lines, `* 2 FETCH (UID 2 FLAGS (\Seen \Recent))`) {
		t.Fatalf("UID STORE: %q", lines)
	}
	if lines := o.cmd("WIR00009", "UID SEARCH UNSEEN", "OK"); !has(lines, "* SEARCH 1 3") {
		t.Fatalf("UID SEARCH UNSEEN: %q", lines)
	}
	o.cmd("WIR00010", `UID STORE 3 +FLAGS (\Deleted)`, "OK")
	if lines := o.cmd("WIR00011", "EXPUNGE", "OK"); !has(lines, "* 3 EXPUNGE") {
		t.Fatalf("EXPUNGE: %q", lines)
	}
	sent := "From: ann@example.test\r\nTo: bob@example.test\r\nSubject: from outlook\r\n\r\nsent\r\n"
	if l := appendLiteral(o, "WIR00012", `APPEND "Sent" (\Seen) "21-Nov-2026 10:00:00 +0000"`, sent); !strings.HasPrefix(l, "WIR00012 OK [APPENDUID ") {
		t.Fatalf("APPEND to Sent: %q", l)
	}

	// IDLE: mail arrives and another client flags a message.
	other := r.raw(true)
	other.cmd("o1", "AUTHENTICATE PLAIN "+plainIR, "OK")
	other.cmd("o2", "SELECT INBOX", "OK")
	o.Send("WIR00013 IDLE")
	o.Expect("+ ")
	r.Deliver(acct, "From: Eve <eve@example.test>\r\nSubject: four\r\n\r\nfourth\r\n")
	other.cmd("o3", `UID STORE 1 +FLAGS (\Flagged)`, "OK")
	collect(o, "* 3 EXISTS", `* 1 FETCH (FLAGS (\Flagged \Recent))`)
	o.Send("DONE")
	finish(o, "WIR00013", "OK")
	if lines := o.cmd("WIR00014", "UID FETCH 4 (UID FLAGS)", "OK"); !has(lines, "* 3 FETCH (UID 4 FLAGS (") {
		t.Fatalf("new message after IDLE: %q", lines)
	}
	o.cmd("WIR00015", "LOGOUT", "OK")

	if inbox := messages(t, r, acct, "INBOX"); len(inbox) != 3 {
		t.Fatalf("INBOX after Outlook: %+v", inbox)
	}
	s := messages(t, r, acct, "Sent")
	if len(s) != 1 || s[0].Flags&store.FlagSeen == 0 {
		t.Fatalf("Sent: %+v", s)
	}
}
