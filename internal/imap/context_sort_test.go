package imap

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// appendDated appends a message with a Date and a Subject.
func (x *raw) appendDated(tag, flags, subject string, date time.Time) []string {
	x.T.Helper()
	msg := "Date: " + date.Format(time.RFC1123Z) + "\r\nFrom: b@example.test\r\nSubject: " + subject +
		"\r\n\r\nhello " + subject + "\r\n"
	return x.cmd(tag, fmt.Sprintf("APPEND INBOX (%s) {%d+}\r\n%s", flags, len(msg), msg), "OK")
}

// sortModel is a client's copy of a sorted context (RFC 5267 4): the
// numbers in sort order, changed by ADDTO and REMOVEFROM as the RFC says a
// client applies them, in the order given, each at its position; for the
// sequence-number form, EXPUNGE renumbers them too.
type sortModel struct {
	t    *testing.T
	tag  string
	uid  bool
	nums []uint32
}

// expandSet lists a sequence-set's numbers in the order written.
func expandSet(t *testing.T, set string) []uint32 {
	t.Helper()
	var out []uint32
	for _, part := range strings.Split(set, ",") {
		a, b, isRange := strings.Cut(part, ":")
		lo, err1 := strconv.ParseUint(a, 10, 32)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.ParseUint(b, 10, 32)
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("bad sequence-set %q", set)
		}
		for n := lo; ; {
			out = append(out, uint32(n))
			if n == hi {
				break
			}
			if lo < hi {
				n++
			} else {
				n--
			}
		}
	}
	return out
}

// apply takes in the lines of one response, in order.
func (m *sortModel) apply(lines []string) {
	t := m.t
	t.Helper()
	prefix := `* ESEARCH (TAG "` + m.tag + `")`
	for _, l := range lines {
		if n, ok := strings.CutSuffix(strings.TrimPrefix(l, "* "), " EXPUNGE"); ok && !m.uid && l != n {
			seq, err := strconv.ParseUint(n, 10, 32)
			if err != nil {
				continue
			}
			for i, x := range m.nums {
				if x == uint32(seq) {
					t.Fatalf("%s: message %d expunged while still in the result: %q", m.tag, seq, lines)
				}
				if x > uint32(seq) {
					m.nums[i]--
				}
			}
			continue
		}
		rest, ok := strings.CutPrefix(l, prefix)
		if !ok {
			continue
		}
		if m.uid {
			if rest, ok = strings.CutPrefix(rest, " UID"); !ok {
				t.Fatalf("%s: no UID in %q", m.tag, l)
			}
		}
		for rest != "" {
			var item, pairs string
			var found bool
			if item, rest, found = strings.Cut(strings.TrimPrefix(rest, " "), " ("); !found {
				t.Fatalf("%s: bad update %q", m.tag, l)
			}
			pairs, rest, _ = strings.Cut(rest, ")")
			f := strings.Fields(pairs)
			if len(f)%2 != 0 {
				t.Fatalf("%s: odd pairs in %q", m.tag, l)
			}
			for i := 0; i < len(f); i += 2 {
				pos, err := strconv.Atoi(f[i])
				if err != nil || pos < 1 {
					t.Fatalf("%s: a sorted context needs positions from 1: %q", m.tag, l)
				}
				for k, n := range expandSet(t, f[i+1]) {
					switch item {
					case "ADDTO":
						p := pos - 1 + k
						if p > len(m.nums) || slices.Contains(m.nums, n) {
							t.Fatalf("%s: ADDTO %d at %d of %v: %q", m.tag, n, p+1, m.nums, l)
						}
						m.nums = slices.Insert(m.nums, p, n)
					case "REMOVEFROM":
						if pos > len(m.nums) || m.nums[pos-1] != n {
							t.Fatalf("%s: REMOVEFROM %d at %d of %v: %q", m.tag, n, pos, m.nums, l)
						}
						m.nums = slices.Delete(m.nums, pos-1, pos)
					default:
						t.Fatalf("%s: unexpected %s in %q", m.tag, item, l)
					}
				}
			}
		}
	}
}

// check compares the model with the result sorted again from scratch.
func (m *sortModel) check(x *raw, sortCmd, when string) {
	m.t.Helper()
	lines := x.cmd("chk", sortCmd, "OK")
	if len(esearch(lines, m.tag)) != 0 {
		m.t.Fatalf("%s: updates came with the check, not before it: %q", when, lines)
	}
	var want []uint32
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "* SORT"); ok {
			for _, f := range strings.Fields(rest) {
				n, _ := strconv.ParseUint(f, 10, 32)
				want = append(want, uint32(n))
			}
		}
	}
	if !slices.Equal(m.nums, want) {
		m.t.Fatalf("%s: %s: the updates give %v, sorting again %v", when, m.tag, m.nums, want)
	}
}

// startSortModel runs a SORT RETURN (UPDATE ALL) and takes its result.
func startSortModel(t *testing.T, x *raw, tag, cmd string) *sortModel {
	t.Helper()
	lines := x.cmd(tag, cmd, "OK")
	m := &sortModel{t: t, tag: tag, uid: strings.HasPrefix(cmd, "UID ")}
	got := esearch(lines, tag)
	if len(got) != 1 {
		t.Fatalf("%s: %q", cmd, lines)
	}
	if _, all, ok := strings.Cut(got[0], " ALL "); ok {
		m.nums = expandSet(t, all)
	}
	return m
}

var day0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TestContextSortUpdates drives CONTEXT=SORT (RFC 5267 section 4): two
// live sorts, by UID in REVERSE DATE and by sequence number in SUBJECT
// order, while another session appends messages that sort first, in the
// middle and last, flags messages out of and back into the criteria, and
// expunges. Each update is checked exactly where the positions are easy
// to tell, and always against the result sorted again from scratch.
func TestContextSortUpdates(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	// UIDs 1-4: days 10, 20, 30, 40.
	for i, subj := range []string{"delta", "bravo", "foxtrot", "alpha"} {
		b.appendDated(fmt.Sprintf("b%d", i), "", subj, day0.AddDate(0, 0, 10*(i+1)))
	}
	if lines := a.cmd("c", "CAPABILITY", "OK"); !has(lines, " CONTEXT=SORT") || !has(lines, " ESORT") {
		t.Fatalf("CAPABILITY: %q", lines)
	}
	a.cmd("a1", "SELECT INBOX", "OK")
	b.cmd("b5", "SELECT INBOX", "OK")
	const dateSort, subjSort = "UID SORT (REVERSE DATE) UTF-8 UNSEEN", "SORT (SUBJECT) UTF-8 UNSEEN"
	d := startSortModel(t, a, "d1", "UID SORT RETURN (UPDATE ALL) (REVERSE DATE) UTF-8 UNSEEN")
	s := startSortModel(t, a, "s1", "SORT RETURN (CONTEXT ALL UPDATE) (SUBJECT) UTF-8 UNSEEN")
	if !slices.Equal(d.nums, []uint32{4, 3, 2, 1}) || !slices.Equal(s.nums, []uint32{4, 2, 1, 3}) {
		t.Fatalf("initial: %v %v", d.nums, s.nums)
	}
	step := func(when string, want ...string) []string {
		t.Helper()
		lines := a.cmd("n", "NOOP", "OK")
		for _, w := range want {
			if lineIndex(lines, w) < 0 {
				t.Fatalf("%s: no %q in %q", when, w, lines)
			}
		}
		d.apply(lines)
		s.apply(lines)
		d.check(a, dateSort, when)
		s.check(a, subjSort, when)
		return lines
	}

	// Three new messages: day 25 (middle), 50 (first), 1 (last in REVERSE
	// DATE). Each at its position in the final order, in that order.
	b.appendDated("b6", "", "charlie", day0.AddDate(0, 0, 25))
	b.appendDated("b7", "", "echo", day0.AddDate(0, 0, 50))
	b.appendDated("b8", "", "golf", day0.AddDate(0, 0, 1))
	lines := step("APPEND",
		`* ESEARCH (TAG "d1") UID ADDTO (1 6 4 5 7 7)`, // 6 4 3 5 2 1 7
		`* ESEARCH (TAG "s1") ADDTO (3 5 5 6 7 7)`)     // alpha bravo charlie delta echo foxtrot golf
	if ex, es := lineIndex(lines, "* 7 EXISTS"), lineIndex(lines, "* ESEARCH"); ex < 0 || es < ex {
		t.Fatalf("ADDTO before EXISTS: %q", lines)
	}

	// Two leave the criteria at once: each REMOVEFROM position counts
	// without the one removed before it.
	b.cmd("b9", `STORE 3:4 +FLAGS (\Seen)`, "OK")
	step("STORE +Seen",
		`* ESEARCH (TAG "d1") UID REMOVEFROM (2 4 2 3)`, // from 6 4 3 5 2 1 7
		`* ESEARCH (TAG "s1") REMOVEFROM (1 4 5 3)`)     // from 4 2 5 1 6 3 7
	// One comes back while another leaves: REMOVEFROM first, then ADDTO
	// at the position in the final order.
	b.cmd("b10", `STORE 4 -FLAGS (\Seen)`, "OK")
	b.cmd("b11", `STORE 1 +FLAGS (\Seen)`, "OK")
	step("STORE mixed",
		`* ESEARCH (TAG "d1") UID REMOVEFROM (4 1) ADDTO (2 4)`, // 6 5 2 1 7 -> 6 4 5 2 7
		`* ESEARCH (TAG "s1") REMOVEFROM (3 1) ADDTO (1 4)`)     // 2 5 1 6 7 -> 4 2 5 6 7
	// A flag that is not in the criteria changes nothing.
	b.cmd("b12", `STORE 2 +FLAGS (\Flagged)`, "OK")
	if lines := step("STORE Flagged"); len(esearch(lines, "d1"))+len(esearch(lines, "s1")) != 0 {
		t.Fatalf("a change that flips no match: %q", lines)
	}

	// Expunge one in the result and one not, with a new message in the
	// same report: REMOVEFROM with the sequence numbers before the
	// EXPUNGE, then ADDTO after EXISTS with the new ones.
	b.cmd("b13", `STORE 2,3 +FLAGS (\Deleted)`, "OK")
	b.cmd("b14", "EXPUNGE", "OK")
	b.appendDated("b15", "", "hotel", day0.AddDate(0, 0, 22))
	lines = step("EXPUNGE",
		`* ESEARCH (TAG "d1") UID REMOVEFROM (4 2)`, // 6 4 5 2 7 -> 6 4 5 7
		`* ESEARCH (TAG "s1") REMOVEFROM (2 2)`,     // 4 2 5 6 7 -> 4 5 6 7
		`* ESEARCH (TAG "d1") UID ADDTO (4 8)`,      // day 22: 6 4 5 8 7
		`* ESEARCH (TAG "s1") ADDTO (5 6)`)          // hotel, seq 6 after the expunges: 2 3 4 5 6
	if rm, ex := lineIndex(lines, "REMOVEFROM"), lineIndex(lines, "EXPUNGE"); rm < 0 || rm > ex {
		t.Fatalf("REMOVEFROM after EXPUNGE: %q", lines)
	}

	// CANCELUPDATE ends one sorted context; the other goes on.
	a.cmd("c1", `CANCELUPDATE "d1"`, "OK")
	b.appendDated("b16", "", "able", day0.AddDate(0, 0, 60))
	lines = a.cmd("n2", "NOOP", "OK")
	if len(esearch(lines, "d1")) != 0 || lineIndex(lines, `* ESEARCH (TAG "s1") ADDTO (1 7)`) < 0 {
		t.Fatalf("after CANCELUPDATE: %q", lines)
	}
	s.apply(lines)
	s.check(a, subjSort, "after CANCELUPDATE")
	a.cmd("c2", `CANCELUPDATE "d1"`, "NO")
	// The tag of a live sort may not name another.
	a.cmd("s1", "SORT RETURN (UPDATE) (DATE) UTF-8 ALL", "BAD")
}

// TestContextSortRandom: many rounds of random appends, flag changes and
// expunges by another session, several at once, against live sorts on
// several keys, UID and sequence forms; after each round, the updates
// applied as a client does must give the result sorted again.
func TestContextSortRandom(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	rnd := rand.New(rand.NewPCG(15, 5267))
	words := []string{"alpha", "Re: bravo", "charlie", "Fwd: alpha", "delta", "echo", "[x] foxtrot"}
	add := func(tag string) {
		flags := ""
		if rnd.IntN(3) == 0 {
			flags = `\Seen`
		}
		// Few distinct dates and subjects: ties, broken by sequence number.
		b.appendDated(tag, flags, words[rnd.IntN(len(words))], day0.AddDate(0, 0, rnd.IntN(6)))
	}
	for i := range 8 {
		add(fmt.Sprintf("i%d", i))
	}
	a.cmd("a1", "SELECT INBOX", "OK")
	b.cmd("b1", "SELECT INBOX", "OK")
	sorts := []struct{ tag, crit, search string }{
		{"r1", "REVERSE DATE", "UNSEEN"},
		{"r2", "SUBJECT", "UNSEEN"},
		{"r3", "REVERSE SUBJECT DATE", "ALL"},
		{"r4", "ARRIVAL", "OR SEEN FLAGGED"},
		{"r5", "SIZE REVERSE DATE", "2:*"}, // by sequence number: evaluated whole on each change
	}
	var models []*sortModel
	var checks []string
	for i, c := range sorts {
		uid := ""
		if i%2 == 0 {
			uid = "UID "
		}
		models = append(models, startSortModel(t, a, c.tag, uid+"SORT RETURN (UPDATE) ("+c.crit+") UTF-8 "+c.search))
		checks = append(checks, uid+"SORT ("+c.crit+") UTF-8 "+c.search)
	}
	for round := range 25 {
		for op := range 1 + rnd.IntN(4) {
			// b's view, synchronised: the count of messages it numbers.
			var exists int
			for _, l := range b.cmd("x", "SEARCH RETURN (COUNT) ALL", "OK") {
				fmt.Sscanf(l, `* ESEARCH (TAG "x") COUNT %d`, &exists)
			}
			tag := fmt.Sprintf("o%d_%d", round, op)
			switch k := rnd.IntN(6); {
			case k <= 1 || exists < 3:
				add(tag)
			case k <= 3:
				flag := []string{`\Seen`, `\Flagged`}[rnd.IntN(2)]
				sign := []string{"+", "-"}[rnd.IntN(2)]
				b.cmd(tag, fmt.Sprintf("STORE %d,%d %sFLAGS (%s)", 1+rnd.IntN(exists), 1+rnd.IntN(exists), sign, flag), "OK")
			default:
				b.cmd(tag, fmt.Sprintf(`STORE %d +FLAGS (\Deleted)`, 1+rnd.IntN(exists)), "OK")
				b.cmd(tag+"e", "EXPUNGE", "OK")
			}
		}
		lines := a.cmd("n", "NOOP", "OK")
		for i, m := range models {
			m.apply(lines)
			m.check(a, checks[i], fmt.Sprintf("round %d", round))
		}
	}
}

// TestContextSortLimit: sorted and plain contexts share the limit; past
// it a SORT still answers, with NOUPDATE.
func TestContextSortLimit(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a := r.login("ann@example.test")
	a.appendMsg("p", "INBOX", "", "one")
	a.cmd("a1", "SELECT INBOX", "OK")
	for i := 1; i < maxLiveSearches; i++ {
		if i%2 == 0 {
			a.cmd(fmt.Sprintf("v%d", i), "SEARCH RETURN (UPDATE) ALL", "OK")
		} else {
			a.cmd(fmt.Sprintf("v%d", i), "SORT RETURN (UPDATE) (DATE) UTF-8 ALL", "OK")
		}
	}
	a.cmd("last", "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL", "OK")
	lines := a.cmd("over", "SORT RETURN (UPDATE COUNT) (DATE) UTF-8 ALL", "OK")
	if !has(lines, `* NO [NOUPDATE "over"]`) || !has(lines, `* ESEARCH (TAG "over") COUNT 1`) {
		t.Fatalf("past the limit: %q", lines)
	}
	a.cmd("c", `CANCELUPDATE "last"`, "OK")
	if lines = a.cmd("again", "SORT RETURN (UPDATE) (DATE) UTF-8 ALL", "OK"); has(lines, "NOUPDATE") {
		t.Fatalf("after CANCELUPDATE: %q", lines)
	}
}

// TestContextSortUpdateFetch: a live sort's UPDATE (fetch-att) (RFC 5465
// section 7) writes a new member's FETCH after EXISTS and before its
// ADDTO, which carries its position in the sort order.
func TestContextSortUpdateFetch(t *testing.T) {
	r := newRig(t)
	r.Account("ann@example.test")
	a, b := r.login("ann@example.test"), r.login("ann@example.test")
	b.appendDated("b1", "", "one", day0.AddDate(0, 0, 1))
	b.appendDated("b2", "", "two", day0.AddDate(0, 0, 3))
	a.cmd("a1", "SELECT INBOX", "OK")
	a.cmd("f1", "UID SORT RETURN (COUNT UPDATE (FLAGS)) (DATE) UTF-8 ALL", "OK")
	b.appendDated("b3", "", "three", day0.AddDate(0, 0, 2))
	lines := a.cmd("a2", "NOOP", "OK")
	ex := lineIndex(lines, "* 3 EXISTS")
	fe := lineIndex(lines, "* 3 FETCH (UID 3 FLAGS (")
	es := lineIndex(lines, `* ESEARCH (TAG "f1") UID ADDTO (2 3)`)
	if ex < 0 || fe < ex || es < fe {
		t.Fatalf("new message: %q", lines)
	}
}
