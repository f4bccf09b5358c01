package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"mailroom/internal/store"
)

// ThreadStore is what the conversation tests need.
type ThreadStore interface {
	MessageStore
	store.Threads
}

// threadTests check the thread rule of store.Threads on every backend.
var threadTests = []struct {
	name string
	fn   func(t *testing.T, st ThreadStore)
}{
	{"ThreadReplies", testThreadReplies},
	{"ThreadOutOfOrder", testThreadOutOfOrder},
	{"ThreadAcrossFolders", testThreadAcrossFolders},
	{"ThreadMoveCopy", testThreadMoveCopy},
	{"ThreadAccounts", testThreadAccounts},
	{"ThreadSubjectMismatch", testThreadSubjectMismatch},
	{"ThreadJunkReferences", testThreadJunkReferences},
	{"ThreadLongReferences", testThreadLongReferences},
	{"ThreadLoops", testThreadLoops},
	{"ThreadNoIDs", testThreadNoIDs},
	{"ThreadConcurrent", testThreadConcurrent},
	{"RethreadAccount", testRethreadAccount},
}

// threadMsg builds a message with the given Message-ID (without
// brackets; "" for none), subject and raw In-Reply-To and References
// fields ("" to leave them out).
func threadMsg(id, subject, inReplyTo, references string) []byte {
	var b strings.Builder
	b.WriteString("From: Bob <bob@example.org>\r\nTo: demo@example.test\r\nSubject: " + subject + "\r\n")
	if id != "" {
		b.WriteString("Message-ID: <" + id + ">\r\n")
	}
	if inReplyTo != "" {
		b.WriteString("In-Reply-To: " + inReplyTo + "\r\n")
	}
	if references != "" {
		b.WriteString("References: " + references + "\r\n")
	}
	b.WriteString("Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nbody of " + id + "\r\n")
	return []byte(b.String())
}

// metaOf returns the stored meta of one delivered message.
func metaOf(t *testing.T, st ThreadStore, d store.Delivered) store.MessageMeta {
	t.Helper()
	for _, m := range must(st.MessageList(context.Background(), d.MailboxID)) {
		if m.UID == d.UID {
			return m
		}
	}
	t.Fatalf("message %d/%d not found", d.MailboxID, d.UID)
	return store.MessageMeta{}
}

func threadOf(t *testing.T, st ThreadStore, d store.Delivered) int64 {
	t.Helper()
	return metaOf(t, st, d).ThreadID
}

// wantThread checks that ThreadMessages lists exactly these messages, in
// this order.
func wantThread(t *testing.T, st ThreadStore, accountID, threadID int64, want ...store.Delivered) {
	t.Helper()
	got := must(st.ThreadMessages(context.Background(), accountID, threadID))
	var w []store.ThreadMember
	for _, d := range want {
		w = append(w, store.ThreadMember{MailboxID: d.MailboxID, UID: d.UID, ID: d.ID})
	}
	if !slices.Equal(got, w) {
		t.Fatalf("thread %d of account %d: got %+v, want %+v", threadID, accountID, got, w)
	}
}

func testThreadReplies(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox := store.Target{MailboxID: mailbox(t, st, acct, "INBOX").ID}
	a := deliver(t, st, threadMsg("a@x", "Lunch plans", "", ""), inbox)[0]
	b := deliver(t, st, threadMsg("b@x", "Re: Lunch plans", "<a@x>", "<a@x>"), inbox)[0]
	c := deliver(t, st, threadMsg("c@x", "RE: [team] re: lunch PLANS", "<b@x>", "<a@x> <b@x>"), inbox)[0]
	// The same subject without any reference is another conversation.
	d := deliver(t, st, threadMsg("d@x", "Lunch plans", "", ""), inbox)[0]
	if th := threadOf(t, st, a); th != a.ID {
		t.Fatalf("first message: thread %d, want its own ID %d", th, a.ID)
	}
	if threadOf(t, st, b) != a.ID || threadOf(t, st, c) != a.ID {
		t.Fatalf("replies: threads %d, %d, want %d", threadOf(t, st, b), threadOf(t, st, c), a.ID)
	}
	if th := threadOf(t, st, d); th != d.ID {
		t.Fatalf("same subject, no reference: thread %d, want a new one (%d)", th, d.ID)
	}
	wantThread(t, st, acct.ID, a.ID, a, b, c)
	wantThread(t, st, acct.ID, d.ID, d)
	wantThread(t, st, acct.ID, 1<<40)
}

func testThreadOutOfOrder(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox := store.Target{MailboxID: mailbox(t, st, acct, "INBOX").ID}
	// The reply arrives first; the original, then a reply to the
	// original that does not know the first reply, join it.
	r := deliver(t, st, threadMsg("r@x", "Re: Minutes", "<o@x>", "<o@x>"), inbox)[0]
	o := deliver(t, st, threadMsg("o@x", "Minutes", "", ""), inbox)[0]
	r2 := deliver(t, st, threadMsg("r2@x", "Re: Minutes", "<o@x>", ""), inbox)[0]
	for _, d := range []store.Delivered{r, o, r2} {
		if th := threadOf(t, st, d); th != r.ID {
			t.Fatalf("message %d: thread %d, want %d", d.ID, th, r.ID)
		}
	}
	wantThread(t, st, acct.ID, r.ID, r, o, r2)
}

func testThreadAcrossFolders(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox, sent := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Sent")
	a := deliver(t, st, threadMsg("q@x", "Question", "", ""), store.Target{MailboxID: inbox.ID})[0]
	r := deliver(t, st, threadMsg("ans@example.test", "Re: Question", "<q@x>", "<q@x>"), store.Target{MailboxID: sent.ID, Flags: store.FlagSeen})[0]
	if threadOf(t, st, r) != a.ID {
		t.Fatalf("reply in Sent: thread %d, want %d", threadOf(t, st, r), a.ID)
	}
	wantThread(t, st, acct.ID, a.ID, a, r)
}

func testThreadMoveCopy(t *testing.T, st ThreadStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox, archive := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Archive")
	a := deliver(t, st, threadMsg("m@x", "Report", "", ""), store.Target{MailboxID: inbox.ID})[0]
	b := deliver(t, st, threadMsg("n@x", "Re: Report", "<m@x>", ""), store.Target{MailboxID: inbox.ID})[0]
	mv := must(st.Move(ctx, inbox.ID, []uint32{b.UID}, archive.ID, store.KeepAll))
	moved := store.Delivered{MailboxID: archive.ID, UID: mv.DestUIDs[0], ID: b.ID}
	if threadOf(t, st, moved) != a.ID {
		t.Fatalf("moved reply: thread %d, want %d", threadOf(t, st, moved), a.ID)
	}
	cp := must(st.Copy(ctx, inbox.ID, []uint32{a.UID}, archive.ID, store.KeepAll))
	cm := metaOf(t, st, store.Delivered{MailboxID: archive.ID, UID: cp.DestUIDs[0]})
	if cm.ThreadID != a.ID || cm.ID == a.ID {
		t.Fatalf("copy %+v: want a new ID in thread %d", cm, a.ID)
	}
	copied := store.Delivered{MailboxID: archive.ID, UID: cm.UID, ID: cm.ID}
	wantThread(t, st, acct.ID, a.ID, a, moved, copied)
	// Expunged messages leave the thread; a later reply still joins it.
	must(st.Expunge(ctx, inbox.ID, []uint32{a.UID}))
	wantThread(t, st, acct.ID, a.ID, moved, copied)
	c := deliver(t, st, threadMsg("o@x", "Re: Report", "<n@x>", "<m@x> <n@x>"), store.Target{MailboxID: inbox.ID})[0]
	if threadOf(t, st, c) != a.ID {
		t.Fatalf("reply after expunge: thread %d, want %d", threadOf(t, st, c), a.ID)
	}
	// Renaming INBOX moves its messages, threads and all.
	ok(t, st.RenameMailbox(ctx, acct.ID, "INBOX", "Old"))
	old := mailbox(t, st, acct, "Old")
	list := must(st.MessageList(ctx, old.ID))
	if len(list) != 1 || list[0].ThreadID != a.ID {
		t.Fatalf("renamed INBOX: %+v, want one message in thread %d", list, a.ID)
	}
}

func testThreadAccounts(t *testing.T, st ThreadStore) {
	one := newAccount(t, st, "one@example.test")
	two := newAccount(t, st, "two@example.test")
	in1, in2 := mailbox(t, st, one, "INBOX"), mailbox(t, st, two, "INBOX")
	// One delivery to both accounts: a thread in each.
	ds := deliver(t, st, threadMsg("s@x", "Shared", "", ""), store.Target{MailboxID: in1.ID}, store.Target{MailboxID: in2.ID})
	if threadOf(t, st, ds[0]) != ds[0].ID || threadOf(t, st, ds[1]) != ds[1].ID {
		t.Fatalf("shared delivery: threads %d, %d, want %d, %d", threadOf(t, st, ds[0]), threadOf(t, st, ds[1]), ds[0].ID, ds[1].ID)
	}
	// Account two then receives the first reply it ever gets to a message
	// only account one has: it must not join anything of account one.
	deliver(t, st, threadMsg("p@x", "Private", "", ""), store.Target{MailboxID: in1.ID})
	r := deliver(t, st, threadMsg("pr@x", "Re: Private", "<p@x>", "<p@x>"), store.Target{MailboxID: in2.ID})[0]
	if threadOf(t, st, r) != r.ID {
		t.Fatalf("reply in account two: thread %d, want its own %d", threadOf(t, st, r), r.ID)
	}
	wantThread(t, st, two.ID, ds[1].ID, ds[1])
	wantThread(t, st, one.ID, ds[0].ID, ds[0])
	// Thread ids are per account: account one's listing of account two's
	// thread number finds only its own messages, if any.
	for _, m := range must(st.ThreadMessages(context.Background(), one.ID, r.ID)) {
		if m.MailboxID != in1.ID {
			t.Fatalf("account one's thread lists %+v", m)
		}
	}
}

func testThreadSubjectMismatch(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox := store.Target{MailboxID: mailbox(t, st, acct, "INBOX").ID}
	a := deliver(t, st, threadMsg("k@x", "Budget 2027", "", ""), inbox)[0]
	b := deliver(t, st, threadMsg("l@x", "Holiday party", "<k@x>", "<k@x>"), inbox)[0]
	if threadOf(t, st, b) != b.ID {
		t.Fatalf("reply with another subject: thread %d, want a new one (%d)", threadOf(t, st, b), b.ID)
	}
	// A reply to the renamed branch follows it, not the original.
	c := deliver(t, st, threadMsg("m@x", "Re: Holiday party", "<l@x>", "<k@x> <l@x>"), inbox)[0]
	if threadOf(t, st, c) != b.ID {
		t.Fatalf("reply to the new subject: thread %d, want %d", threadOf(t, st, c), b.ID)
	}
	wantThread(t, st, acct.ID, a.ID, a)
	// Subjects compare case-folded, encoded words decoded.
	d := deliver(t, st, threadMsg("n@x", "=?utf-8?q?Re=3A_BUDGET_2027?=", "<k@x>", ""), inbox)[0]
	if threadOf(t, st, d) != a.ID {
		t.Fatalf("encoded, upper-case reply: thread %d, want %d", threadOf(t, st, d), a.ID)
	}
}

func testThreadJunkReferences(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox := store.Target{MailboxID: mailbox(t, st, acct, "INBOX").ID}
	a := deliver(t, st, threadMsg("root@x", "Plans", "", ""), inbox)[0]
	junk := []struct{ irt, refs string }{
		{"", `"Joe" <root@x> (sent from my phone),, garbage <<nested`},
		{"root@x", ""}, // no brackets
		{"<root@x> (Joe's message of Monday)", ""}, // trailing comment
		{"", "<unterminated@x <root@x>"},           // a stray "<"
		{"", "<ro\r\n ot@x>"},                      // folded inside the id
		{"", "<" + strings.Repeat("z", 2000) + "> <root@x>"},
	}
	for i, j := range junk {
		d := deliver(t, st, threadMsg(fmt.Sprintf("j%d@x", i), "Re: Plans", j.irt, j.refs), inbox)[0]
		if th := threadOf(t, st, d); th != a.ID {
			t.Fatalf("junk %d (%q, %q): thread %d, want %d", i, j.irt, j.refs, th, a.ID)
		}
	}
	// Only junk: a thread of its own, stored fine.
	d := deliver(t, st, threadMsg("", "Re: Plans", "<>", "<<<>>> , ,"), inbox)[0]
	if th := threadOf(t, st, d); th != d.ID {
		t.Fatalf("references of junk only: thread %d, want %d", th, d.ID)
	}
}

func testThreadLongReferences(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox := store.Target{MailboxID: mailbox(t, st, acct, "INBOX").ID}
	root := deliver(t, st, threadMsg("root@long", "Long one", "", ""), inbox)[0]
	mid := deliver(t, st, threadMsg("mid@long", "Other", "", ""), inbox)[0]
	refs := make([]string, 10_000)
	for i := range refs {
		refs[i] = fmt.Sprintf("<r%d@long>", i)
	}
	// The root first, 10,000 ids after it: the first id is kept.
	withRoot := append([]string{"<root@long>"}, refs...)
	a := deliver(t, st, threadMsg("a@long", "Re: Long one", "", strings.Join(withRoot, " ")), inbox)[0]
	if threadOf(t, st, a) != root.ID {
		t.Fatalf("10,001 references, root first: thread %d, want %d", threadOf(t, st, a), root.ID)
	}
	// An id in the middle of 10,000 is beyond what is kept: no join.
	inMiddle := slices.Clone(refs)
	inMiddle[5000] = "<mid@long>"
	b := deliver(t, st, threadMsg("b@long", "Re: Other", "", strings.Join(inMiddle, " ")), inbox)[0]
	if threadOf(t, st, b) != b.ID {
		t.Fatalf("id in the middle of 10,000: thread %d, want a new one (%d)", threadOf(t, st, b), b.ID)
	}
	// The last ids are kept: a reply whose parent is last joins.
	last := append(slices.Clone(refs), "<mid@long>")
	c := deliver(t, st, threadMsg("c@long", "Re: Other", "", strings.Join(last, " ")), inbox)[0]
	if threadOf(t, st, c) != mid.ID {
		t.Fatalf("parent last of 10,001: thread %d, want %d", threadOf(t, st, c), mid.ID)
	}
}

func testThreadLoops(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox := store.Target{MailboxID: mailbox(t, st, acct, "INBOX").ID}
	// Each references the other, and one references itself.
	a := deliver(t, st, threadMsg("la@x", "Loop", "<lb@x>", "<la@x> <lb@x>"), inbox)[0]
	b := deliver(t, st, threadMsg("lb@x", "Re: Loop", "<la@x>", "<lb@x> <la@x>"), inbox)[0]
	c := deliver(t, st, threadMsg("lc@x", "Loop", "<lc@x>", "<lc@x>"), inbox)[0]
	if threadOf(t, st, a) != a.ID || threadOf(t, st, b) != a.ID {
		t.Fatalf("mutual references: threads %d, %d, want %d", threadOf(t, st, a), threadOf(t, st, b), a.ID)
	}
	if threadOf(t, st, c) != c.ID {
		t.Fatalf("self reference: thread %d, want %d", threadOf(t, st, c), c.ID)
	}
	// The same Message-ID twice (a message that reaches the account by
	// two paths) is one conversation.
	d := deliver(t, st, threadMsg("lc@x", "Loop", "", ""), inbox)[0]
	if threadOf(t, st, d) != c.ID {
		t.Fatalf("duplicate Message-ID: thread %d, want %d", threadOf(t, st, d), c.ID)
	}
}

func testThreadNoIDs(t *testing.T, st ThreadStore) {
	acct := newAccount(t, st, "demo@example.test")
	inbox, archive := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Archive")
	// No Message-ID and no references: copies of one delivery share a
	// thread, another such message is another thread.
	ds := deliver(t, st, threadMsg("", "Note", "", ""), store.Target{MailboxID: inbox.ID}, store.Target{MailboxID: archive.ID})
	if threadOf(t, st, ds[0]) != ds[0].ID || threadOf(t, st, ds[1]) != ds[0].ID {
		t.Fatalf("one delivery to two folders: threads %d, %d, want %d", threadOf(t, st, ds[0]), threadOf(t, st, ds[1]), ds[0].ID)
	}
	o := deliver(t, st, threadMsg("", "Note", "", ""), store.Target{MailboxID: inbox.ID})[0]
	if threadOf(t, st, o) != o.ID {
		t.Fatalf("another message without ids: thread %d, want %d", threadOf(t, st, o), o.ID)
	}
}

// testThreadConcurrent delivers a message and its reply at the same time
// into two mailboxes of one account, many times: whichever commits
// second must see the first's ids, so each pair is one thread.
func testThreadConcurrent(t *testing.T, st ThreadStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox, sent := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Sent")
	const pairs = 30
	var wg sync.WaitGroup
	got := make([][2]store.Delivered, pairs)
	errs := make(chan error, 2*pairs)
	for i := range pairs {
		for j, msg := range [][]byte{
			threadMsg(fmt.Sprintf("orig%d@x", i), fmt.Sprintf("Topic %d", i), "", ""),
			threadMsg(fmt.Sprintf("reply%d@x", i), fmt.Sprintf("Re: Topic %d", i), fmt.Sprintf("<orig%d@x>", i), ""),
		} {
			mb := []int64{inbox.ID, sent.ID}[j]
			wg.Go(func() {
				m, err := st.Stage(ctx, bytes.NewReader(msg))
				if err != nil {
					errs <- err
					return
				}
				d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: mb}})
				if err != nil {
					errs <- err
					return
				}
				got[i][j] = d[0]
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, p := range got {
		if a, b := threadOf(t, st, p[0]), threadOf(t, st, p[1]); a != b {
			t.Fatalf("pair %d delivered at once: threads %d and %d", i, a, b)
		}
	}
}

// testRethreadAccount checks that recomputing gives what delivery gave,
// across folders, out of order, with copies, and reports progress.
func testRethreadAccount(t *testing.T, st ThreadStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	other := newAccount(t, st, "other@example.test")
	inbox, sent := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Sent")
	deliver(t, st, threadMsg("r@x", "Re: Trip", "<t@x>", "<t@x>"), store.Target{MailboxID: inbox.ID})
	deliver(t, st, threadMsg("t@x", "Trip", "", ""), store.Target{MailboxID: inbox.ID})
	deliver(t, st, threadMsg("s@x", "Re: Trip", "<t@x>", "<t@x>"), store.Target{MailboxID: sent.ID})
	deliver(t, st, threadMsg("u@x", "Unrelated", "", ""), store.Target{MailboxID: inbox.ID})
	deliver(t, st, threadMsg("", "No ids", "", ""), store.Target{MailboxID: inbox.ID}, store.Target{MailboxID: sent.ID})
	must(st.Copy(ctx, inbox.ID, []uint32{4}, sent.ID, store.KeepAll))
	od := deliver(t, st, threadMsg("t@x", "Trip", "", ""), store.Target{MailboxID: mailbox(t, st, other, "INBOX").ID})[0]
	snapshot := func() map[[2]int64]int64 {
		out := map[[2]int64]int64{}
		for _, mb := range []int64{inbox.ID, sent.ID} {
			for _, m := range must(st.MessageList(ctx, mb)) {
				out[[2]int64{mb, int64(m.UID)}] = m.ThreadID
			}
		}
		return out
	}
	before := snapshot()
	var calls [][2]int
	n := must(st.RethreadAccount(ctx, acct.ID, func(done, total int) { calls = append(calls, [2]int{done, total}) }))
	if n != 7 || len(calls) == 0 || calls[len(calls)-1] != [2]int{7, 7} {
		t.Fatalf("rethread: %d messages, progress %v; want 7, ending at 7 of 7", n, calls)
	}
	if after := snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("rethread changed threads:\nbefore %v\nafter  %v", before, after)
	}
	// The other account is untouched, and new mail still threads.
	if threadOf(t, st, od) != od.ID {
		t.Fatalf("other account's thread changed to %d", threadOf(t, st, od))
	}
	r := deliver(t, st, threadMsg("v@x", "Re: Trip", "<s@x>", "<t@x> <s@x>"), store.Target{MailboxID: inbox.ID})[0]
	if threadOf(t, st, r) != before[[2]int64{inbox.ID, 1}] {
		t.Fatalf("reply after rethread: thread %d, want %d", threadOf(t, st, r), before[[2]int64{inbox.ID, 1}])
	}
	if n := must(st.RethreadAccount(ctx, newAccount(t, st, "empty@example.test").ID, nil)); n != 0 {
		t.Fatalf("rethread of an empty account: %d", n)
	}
}

// RunRethreadMigrated checks RethreadAccount on mail as a schema upgrade
// leaves it: every message its own thread, no thread keys. reset makes
// the backend's data so (the migration's own statements).
func RunRethreadMigrated(t *testing.T, st ThreadStore, reset func(t *testing.T)) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox, sent := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Sent")
	a := deliver(t, st, threadMsg("a@up", "Upgrade", "", ""), store.Target{MailboxID: inbox.ID})[0]
	b := deliver(t, st, threadMsg("b@up", "Re: Upgrade", "<a@up>", ""), store.Target{MailboxID: sent.ID})[0]
	d := deliver(t, st, threadMsg("d@up", "Re: Other", "", "<c@up>"), store.Target{MailboxID: inbox.ID})[0]
	c := deliver(t, st, threadMsg("c@up", "Other", "", ""), store.Target{MailboxID: inbox.ID})[0]
	cp := must(st.Copy(ctx, inbox.ID, []uint32{a.UID}, sent.ID, store.KeepAll))
	acopy := metaOf(t, st, store.Delivered{MailboxID: sent.ID, UID: cp.DestUIDs[0]})
	reset(t)
	if threadOf(t, st, b) != b.ID || threadOf(t, st, c) != c.ID || acopy.ID == a.ID {
		t.Fatalf("after reset: threads %d, %d; want singletons", threadOf(t, st, b), threadOf(t, st, c))
	}
	if n := must(st.RethreadAccount(ctx, acct.ID, nil)); n != 5 {
		t.Fatalf("rethread saw %d messages, want 5", n)
	}
	copied := store.Delivered{MailboxID: sent.ID, UID: acopy.UID, ID: acopy.ID}
	wantThread(t, st, acct.ID, a.ID, a, b, copied)
	wantThread(t, st, acct.ID, d.ID, d, c)
	// Keys are back: a new reply joins.
	e := deliver(t, st, threadMsg("e@up", "Re: Upgrade", "<b@up>", ""), store.Target{MailboxID: inbox.ID})[0]
	if threadOf(t, st, e) != a.ID {
		t.Fatalf("reply after rethread: thread %d, want %d", threadOf(t, st, e), a.ID)
	}
}
