package imap

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// sortMessages are delivered in this order (sequence numbers 1..5), with
// INTERNALDATEs one hour apart but in the order 2 1 3 5 4.
var sortMessages = []string{
	"From: Carol <carol@x.example>\r\nTo: zed@x.example\r\nSubject: Re: budget\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\nMessage-ID: <b2@x>\r\nReferences: <b1@x>\r\n\r\nsmall\r\n",
	"From: alice@x.example\r\nTo: \"Bob\" <bob@x.example>\r\nSubject: budget\r\nDate: Mon, 2 Jan 2023 09:00:00 +0000\r\nMessage-ID: <b1@x>\r\n\r\n" + strings.Repeat("large body ", 100) + "\r\n",
	"From: =?utf-8?q?=C3=89mile?= <emile@x.example>\r\nTo: amy@x.example\r\nCc: c@x.example\r\nSubject: [team] Fwd: lunch\r\nDate: Mon, 2 Jan 2023 11:00:00 +0200\r\nMessage-ID: <l1@x>\r\n\r\nmedium body here\r\n",
	"From: Bob <bob@x.example>\r\nSubject: Re: lunch\r\nDate: Mon, 2 Jan 2023 12:00:00 +0000\r\nMessage-ID: <l2@x>\r\nIn-Reply-To: <l1@x>\r\n\r\nok\r\n",
	"From: dave@x.example\r\nTo: Amy <amy@x.example>\r\nSubject: lunch\r\nMessage-ID: <l3@x>\r\n\r\nno date header: INTERNALDATE is the sent date\r\n",
}

func sortRig(t *testing.T) (*rig, *raw, []uint32) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	inbox := r.Mailbox(acct, "INBOX")
	base := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	arrival := []int{2, 1, 3, 5, 4}
	var uids []uint32
	for i, m := range sortMessages {
		d := r.DeliverInto(store.Target{MailboxID: inbox.ID, InternalDate: base.Add(time.Duration(arrival[i]) * time.Hour)}, m)
		uids = append(uids, d.UID)
	}
	x := r.raw(true)
	x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("s", "SELECT INBOX", "OK")
	return r, x, uids
}

// untaggedOf returns the untagged line starting with prefix, failing if
// there is none.
func untaggedOf(t *testing.T, lines []string, prefix string) string {
	t.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no %q in %q", prefix, lines)
	return ""
}

func TestSort(t *testing.T) {
	_, x, uids := sortRig(t)
	u := func(seqs ...int) string {
		var s []string
		for _, q := range seqs {
			s = append(s, strconv.Itoa(int(uids[q-1])))
		}
		return strings.Join(s, " ")
	}
	if l := x.cmd("c", "CAPABILITY", "OK"); !has(l, " SORT SORT=DISPLAY ESORT PARTIAL THREAD=ORDEREDSUBJECT THREAD=REFERENCES") || !has(l, " CONTEXT=SORT") {
		t.Errorf("capabilities: %q", l)
	}
	for _, c := range []struct{ cmd, want string }{
		// Sent dates: 5 has none, so its INTERNALDATE (04:00) counts; 3's
		// is 09:00 UTC, as 2's: a tie, broken by sequence number.
		{"SORT (DATE) UTF-8 ALL", "* SORT 5 2 3 1 4"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 4 1 2 3 5"}, // 2 and 3 tie: REVERSE leaves the tie-break
		{"SORT (ARRIVAL) US-ASCII ALL", "* SORT 2 1 3 5 4"},
		{"SORT (SIZE) UTF-8 ALL", "* SORT 4 5 1 3 2"},
		// Base subjects: budget budget lunch lunch lunch, then dates.
		{"SORT (SUBJECT DATE) UTF-8 ALL", "* SORT 2 1 5 3 4"},
		{"SORT (SUBJECT REVERSE ARRIVAL) UTF-8 ALL", "* SORT 1 2 4 5 3"},
		// addr-mailbox: alice bob carol dave emile; TO: "" amy amy bob zed.
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 4 1 5 3"},
		{"SORT (TO) UTF-8 ALL", "* SORT 4 3 5 2 1"},
		{"SORT (CC) UTF-8 ALL", "* SORT 1 2 4 5 3"},
		// Display names: alice@x.example Bob Carol dave@x.example Émile;
		// TO: "" Amy amy@x.example Bob zed@x.example.
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 2 4 1 5 3"},
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 4 5 3 2 1"},
		{"SORT (REVERSE DISPLAYFROM) UTF-8 ALL", "* SORT 3 5 1 4 2"},
		// Search criteria narrow the set.
		{"SORT (DATE) UTF-8 SUBJECT lunch", "* SORT 5 3 4"},
		{"SORT (DATE) UTF-8 2:4", "* SORT 2 3 4"},
		{"SORT (DATE) UTF-8 SUBJECT nothing-matches", "* SORT"},
		{"UID SORT (DATE) UTF-8 ALL", "* SORT " + u(5, 2, 3, 1, 4)},
		// ESORT: ESEARCH in sort order, MIN and MAX the first and last of it.
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") MIN 5 MAX 4 COUNT 5`},
		{"SORT RETURN (ALL) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") ALL 5,2:3,1,4`},
		{"SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL", `* ESEARCH (TAG "t") ALL 4:5,3,1:2`},
		{"SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing-matches", `* ESEARCH (TAG "t") COUNT 0`},
		{"UID SORT RETURN (MIN) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") UID MIN ` + u(5)},
		// PARTIAL (RFC 9394) over the sort order, from either end.
		{"SORT RETURN (PARTIAL 2:3) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") PARTIAL (2:3 2:3)`},
		{"SORT RETURN (PARTIAL 4:1) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") PARTIAL (1:4 5,2:3,1)`},
		{"SORT RETURN (PARTIAL -1:-2 COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") COUNT 5 PARTIAL (-1:-2 1,4)`},
		{"SORT RETURN (PARTIAL 6:9) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") PARTIAL (6:9 NIL)`},
		{"SEARCH RETURN (PARTIAL 2:3) ALL", `* ESEARCH (TAG "t") PARTIAL (2:3 2:3)`},
		{"SEARCH RETURN (PARTIAL -1:-2 MIN COUNT) ALL", `* ESEARCH (TAG "t") MIN 1 COUNT 5 PARTIAL (-1:-2 4:5)`},
		{"SEARCH RETURN (PARTIAL 1:100) SUBJECT lunch", `* ESEARCH (TAG "t") PARTIAL (1:100 3:5)`},
		{"UID SEARCH RETURN (PARTIAL 9:10) ALL", `* ESEARCH (TAG "t") UID PARTIAL (9:10 NIL)`},
		{"UID SEARCH RETURN (PARTIAL 1:1) ALL", `* ESEARCH (TAG "t") UID PARTIAL (1:1 ` + u(1) + ")"},
	} {
		lines := x.cmd("t", c.cmd, "OK")
		if got := untaggedOf(t, lines, "* "+strings.Fields(c.want)[1]); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.cmd, got, c.want)
		}
	}
	// SAVE keeps the sorted result as a set for "$" (RFC 5182).
	x.cmd("t", "SORT RETURN (SAVE) (REVERSE DATE) UTF-8 SUBJECT lunch", "OK")
	if got := untaggedOf(t, x.cmd("t", "SEARCH $", "OK"), "* SEARCH"); got != "* SEARCH 3 4 5" {
		t.Errorf("SEARCH $ after SORT SAVE: %s", got)
	}
}

func TestSortErrors(t *testing.T) {
	r, x, _ := sortRig(t)
	for _, c := range []struct{ cmd, want string }{
		{"SORT (BOGUS) UTF-8 ALL", "BAD"},
		{"SORT () UTF-8 ALL", "BAD"},
		{"SORT DATE UTF-8 ALL", "BAD"},
		{"SORT (DATE) ALL", "BAD"},
		{"SORT (DATE) UTF-8 BOGUS", "BAD"},
		{"SORT (DATE) X-NO-SUCH-CHARSET ALL", "NO [BADCHARSET"},
		{"SORT RETURN (PARTIAL 1) (ARRIVAL) UTF-8 ALL", "BAD"},
		{"SORT RETURN (PARTIAL 1:*) (ARRIVAL) UTF-8 ALL", "BAD"},
		{"SORT RETURN (PARTIAL *:1) (ARRIVAL) UTF-8 ALL", "BAD"},
		{"SEARCH RETURN (PARTIAL 1) ALL", "BAD"},
		{"SEARCH RETURN (PARTIAL 1:*) ALL", "BAD"},
		{"SEARCH RETURN (PARTIAL *:1) ALL", "BAD"},
		{"THREAD BOGUS UTF-8 ALL", "BAD"},
		{"THREAD REFERENCES UTF-8", "BAD"},
		{"THREAD REFERENCES ISO-2022-XX ALL", "NO [BADCHARSET"},
		{"UID THREAD ORDEREDSUBJECT UTF-8 (", "BAD"},
	} {
		x.cmd("t", c.cmd, c.want)
	}
	x.cmd("ok", "NOOP", "OK") // the connection survived every error
	y := r.raw(true)
	y.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	y.cmd("t", "SORT (DATE) UTF-8 ALL", "BAD")
	y.cmd("t", "THREAD REFERENCES UTF-8 ALL", "BAD")
}

func TestThread(t *testing.T) {
	_, x, uids := sortRig(t)
	for _, c := range []struct{ cmd, want string }{
		// 1 replies to 2 by References; 4 to 3 by In-Reply-To. 5, "lunch",
		// is no reply while 3, "[team] Fwd: lunch", is a forward: 3's
		// thread goes under 5 (RFC 5256 section 4 step 5). Threads are in
		// the order of their first message's date: 5 has the earliest.
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (5 3 4)(2 1)"},
		{"THREAD REFERENCES UTF-8 SUBJECT lunch", "* THREAD (5 3 4)"},
		// Without 3, 4's parent is a dummy with one child: 4 rises to the
		// root, and goes under 5 by subject.
		{"THREAD REFERENCES UTF-8 NOT 3", "* THREAD (5 4)(2 1)"},
		// Without 5, the lunch thread is 3's.
		{"THREAD REFERENCES UTF-8 NOT 5", "* THREAD (2 1)(3 4)"},
		{fmt.Sprintf("UID THREAD REFERENCES US-ASCII UID %d,%d", uids[0], uids[1]), fmt.Sprintf("* THREAD (%d %d)", uids[1], uids[0])},
		// ORDEREDSUBJECT: budget (2, then 1), lunch (5 04:00, 3, 4).
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (5 (3)(4))(2 1)"},
		{"THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing-matches", "* THREAD"},
	} {
		if got := untaggedOf(t, x.cmd("t", c.cmd, "OK"), "* THREAD"); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.cmd, got, c.want)
		}
	}
	// The mailbox service caches the keys THREAD read: an expunge and a
	// new message must show in the next answer.
	x.cmd("t", "STORE 5 +FLAGS.SILENT (\\Deleted)", "OK")
	x.cmd("t", "EXPUNGE", "OK")
	msg := "Subject: Re: budget\r\nMessage-ID: <b3@x>\r\nIn-Reply-To: <b1@x>\r\nDate: Mon, 2 Jan 2023 09:30:00 +0000\r\n\r\nlate\r\n"
	x.cmd("a", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg), "OK")
	// 2 (09:00) has replies 5 (new, 09:30) and 1 (10:00); 3 and 4 are
	// the lunch thread again.
	if got := untaggedOf(t, x.cmd("t", "THREAD REFERENCES UTF-8 ALL", "OK"), "* THREAD"); got != "* THREAD (2 (5)(1))(3 4)" {
		t.Errorf("after EXPUNGE and APPEND: %s", got)
	}
	if got := untaggedOf(t, x.cmd("t", "SORT (REVERSE DATE) UTF-8 ALL", "OK"), "* SORT"); got != "* SORT 4 1 5 2 3" {
		t.Errorf("SORT after EXPUNGE and APPEND: %s", got)
	}
}

// TestThreadHostile threads 2,000 messages: half a reply chain 10,000
// message ids deep (each message names ten ancestors, nine of them never
// delivered), delivered newest first, and half in reference rings. Every
// message must come out exactly once and the chain as one thread.
func TestThreadHostile(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	const n = 2000
	for i := n - 1; i >= 0; i-- {
		var m string
		if i%2 == 0 {
			k := i / 2 // the chain: ids c0..c9999, message k holds c(10k+9)
			var refs []string
			for j := max(10*k-1, 0); j < 10*k+9; j++ {
				refs = append(refs, fmt.Sprintf("<c%d@x>", j))
			}
			m = fmt.Sprintf("Message-ID: <c%d@x>\r\nReferences: %s\r\nSubject: chain %d\r\nDate: %s\r\n\r\n.\r\n",
				10*k+9, strings.Join(refs, " "), k, time.Unix(int64(1e9+k*60), 0).UTC().Format(time.RFC1123Z))
		} else {
			k := i / 2 // rings of five: each names the next and the one before
			ring := k / 5 * 5
			m = fmt.Sprintf("Message-ID: <r%d@x>\r\nReferences: <r%d@x> <r%d@x> <r%d@x>\r\nSubject: ring\r\n\r\n.\r\n",
				k, ring+(k+1)%5, ring+(k+4)%5, k)
		}
		r.Deliver(acct, m)
	}
	x := r.raw(true)
	x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("s", "SELECT INBOX", "OK")
	for _, alg := range []string{"REFERENCES", "ORDEREDSUBJECT"} {
		line := untaggedOf(t, x.cmd("t", "THREAD "+alg+" UTF-8 ALL", "OK"), "* THREAD ")
		seen := make(map[int]int)
		for _, f := range regexp.MustCompile(`\d+`).FindAllString(line, -1) {
			v, _ := strconv.Atoi(f)
			seen[v]++
		}
		for seq := 1; seq <= n; seq++ {
			if seen[seq] != 1 {
				t.Fatalf("%s: message %d appears %d times", alg, seq, seen[seq])
			}
		}
		if len(seen) != n || strings.Count(line, "(") != strings.Count(line, ")") {
			t.Fatalf("%s: %d numbers, parentheses unbalanced or extra numbers", alg, len(seen))
		}
		if alg == "REFERENCES" {
			// The chain was delivered newest first: sequence numbers n,
			// n-2, ... 2 hold chain messages 0, 1, ... in order.
			var chain []string
			for k := 0; k < n/2; k++ {
				chain = append(chain, strconv.Itoa(n-2*k))
			}
			if !strings.Contains(line, "("+strings.Join(chain, " ")+")") {
				t.Errorf("the chain is not one thread in date order: %.200s...", line)
			}
		}
	}
}

const imaplibSortScript = `
import imaplib, ssl, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
c.login(user, pw)
c.select("INBOX")
typ, data = c.sort("(REVERSE DATE)", "UTF-8", "ALL")
print("sort", typ, data[0].decode())
typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
print("thread", typ, data[0].decode())
typ, data = c.thread("ORDEREDSUBJECT", "UTF-8", "SUBJECT", "lunch")
print("orderedsubject", typ, data[0].decode())
typ, data = c.uid("SORT", "(DISPLAYFROM)", "UTF-8", "ALL")
print("uidsort", typ, len(data[0].split()))
try:
    c.sort("(NOSUCHKEY)", "UTF-8", "ALL")
except c.error as e:
    print("bad", "rejected")
c.logout()
`

// TestPythonImaplibSortThread: Python's imaplib, which has sort() and
// thread(), against the server.
func TestPythonImaplibSortThread(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	r, _, _ := sortRig(t)
	host, port := splitAddr(r.Addr("imaps"))
	out, err := exec.Command(python, "-c", imaplibSortScript, host, port, "ann@example.test", password).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	for _, want := range []string{"sort OK 4 1 2 3 5", "thread OK (5 3 4)(2 1)", "orderedsubject OK (5 (3)(4))", "uidsort OK 5", "bad rejected"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("imaplib output lacks %q:\n%s", want, out)
		}
	}
}
