package thread

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/mime"
)

// msg is a test message: Num is its 1-based position, dates are minutes.
type msg struct {
	id, irt, refs, subj string
	min                 int64 // sent date, in minutes after the epoch
}

func build(ms []msg) []*Message {
	out := make([]*Message, len(ms))
	for i, m := range ms {
		out[i] = &Message{Num: uint32(i + 1), Fields: &Fields{MessageID: m.id, InReplyTo: m.irt, References: m.refs,
			Subject: m.subj}, Sent: m.min * 60, Arrival: m.min * 60}
	}
	return out
}

// prepared returns copies of msgs with Prepare's keys: every algorithm
// must answer the same with them as without.
func prepared(msgs []*Message) []*Message {
	out := make([]*Message, len(msgs))
	for i, m := range msgs {
		c := *m
		c.Prepare()
		out[i] = &c
	}
	return out
}

// compacted returns copies of msgs compacted as the mailbox service's
// cache keeps them, with one interning map for all: every algorithm must
// answer the same with them.
func compacted(msgs []*Message) []*Message {
	strs := map[string]string{}
	intern := func(s string) string {
		if k, ok := strs[s]; ok {
			return k
		}
		strs[s] = s
		return s
	}
	out := make([]*Message, len(msgs))
	for i, m := range msgs {
		c := *m
		c.Compact(intern)
		if c.Fields != nil {
			panic("Compact kept the raw fields")
		}
		out[i] = &c
	}
	return out
}

// render prints threads as IMAP THREAD does, numbering messages by Num.
func render(msgs []*Message, roots []*Node) string {
	var b strings.Builder
	var node func(n *Node, open bool)
	node = func(n *Node, open bool) {
		if open {
			b.WriteByte('(')
		}
		first := true
		for {
			if n.Msg >= 0 {
				if !first {
					b.WriteByte(' ')
				}
				b.WriteString(strconv.Itoa(int(msgs[n.Msg].Num)))
				first = false
			}
			if len(n.Children) != 1 {
				break
			}
			n = n.Children[0]
		}
		if len(n.Children) > 1 && !first {
			b.WriteByte(' ')
		}
		for _, c := range n.Children {
			if len(n.Children) > 1 {
				node(c, true)
			}
		}
		if open {
			b.WriteByte(')')
		}
	}
	for _, r := range roots {
		node(r, true)
	}
	return b.String()
}

func TestCollate(t *testing.T) {
	// i;unicode-casemap: case folded to titlecase, so "_" (0x5F) sorts
	// after letters, and decomposed, so "é" sorts between "E" and "F".
	ordered := []string{"", "A", "b", "B C", "Babylon", "e", "é", "Éa", "f", "Z", "[xyz]", "_"}
	for i := 1; i < len(ordered); i++ {
		a, b := Collate(ordered[i-1]), Collate(ordered[i])
		if a > b {
			t.Errorf("Collate(%q)=%q sorts after Collate(%q)=%q", ordered[i-1], a, ordered[i], b)
		}
	}
	for _, p := range [][2]string{{"abc", "ABC"}, {"ǆ", "ǅ"}, {"ﬁ", "FI"}, {"straße", "STRASSE"}} {
		if (Collate(p[0]) == Collate(p[1])) != (p[0] != "straße") {
			t.Errorf("Collate(%q)=%q, Collate(%q)=%q", p[0], Collate(p[0]), p[1], Collate(p[1]))
		}
	}
	if got := Collate("a\xffb"); !strings.HasPrefix(got, "A") {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func TestSentDate(t *testing.T) {
	const arrival = 1203717600
	for _, c := range []struct {
		date string
		want int64
	}{
		{"Fri, 22 Feb 2008 02:00:00 +0200", time.Date(2008, 2, 22, 0, 0, 0, 0, time.UTC).Unix()},
		{"22 Feb 2008 00:00:00 GMT", time.Date(2008, 2, 22, 0, 0, 0, 0, time.UTC).Unix()},
		{"Thu, 21 Feb 2008 19:00:00 -0500 (EST)", time.Date(2008, 2, 22, 0, 0, 0, 0, time.UTC).Unix()},
		{"", arrival},          // no Date: INTERNALDATE (RFC 5256 2.2)
		{"yesterday", arrival}, // unparsable: INTERNALDATE
		{strings.Repeat("1", 300), arrival},
	} {
		if got := SentDate(c.date, arrival); got != c.want {
			t.Errorf("SentDate(%q) = %d, want %d", c.date, got, c.want)
		}
	}
}

func TestAddressKeys(t *testing.T) {
	for _, c := range []struct {
		a             mime.Address
		mailbox, disp string
	}{
		{mime.Address{Name: "foo bar", DecodedName: "foo bar", Mailbox: "a", Host: "b.c"}, "a", "foo bar"},
		{mime.Address{Mailbox: "b", Host: "c.d"}, "b", "b@c.d"},
		{mime.Address{Mailbox: "d"}, "d", "d"}, // no domain
		{mime.Address{Name: "=?iso-8859-1?q?foo_aar?=", DecodedName: "foo aar", Mailbox: "e", Host: "f.g"}, "e", "foo aar"},
		{mime.Address{Mailbox: "group", GroupStart: true}, "group", "group"}, // a group's name, as IMAP's address list starts with it
		{mime.Address{Name: "  ", DecodedName: "  ", Mailbox: "x", Host: "y"}, "x", "x@y"},
		{mime.Address{}, "", ""},
	} {
		if got := AddrMailbox(c.a); got != c.mailbox {
			t.Errorf("AddrMailbox(%+v) = %q, want %q", c.a, got, c.mailbox)
		}
		if got := Display(c.a); got != c.disp {
			t.Errorf("Display(%+v) = %q, want %q", c.a, got, c.disp)
		}
	}
}

func TestSort(t *testing.T) {
	addr := func(mb string) mime.Address { return mime.Address{Mailbox: mb, Host: "x"} }
	msgs := []*Message{
		{Num: 1, Sent: 300, Arrival: 10, Size: 5, Fields: &Fields{Subject: "Re: b", From: addr("carol"), To: mime.Address{DecodedName: "Zed", Mailbox: "a", Host: "x"}}},
		{Num: 2, Sent: 100, Arrival: 30, Size: 5, Fields: &Fields{Subject: "a", From: addr("alice")}},
		{Num: 3, Sent: 300, Arrival: 20, Size: 1, Fields: &Fields{Subject: "[list] Fwd: A", From: addr("Bob"), To: addr("m")}},
		{Num: 4, Sent: 200, Arrival: 20, Size: 9, Fields: &Fields{Subject: "B (fwd)", From: addr("alice"), Cc: addr("c")}},
	}
	for _, c := range []struct {
		crit []Criterion
		want string
	}{
		{[]Criterion{{Key: Arrival}}, "1 3 4 2"}, // 3 and 4 tie: mailbox order
		{[]Criterion{{Key: Arrival, Reverse: true}}, "2 3 4 1"},
		{[]Criterion{{Key: Date}}, "2 4 1 3"},
		{[]Criterion{{Key: Date, Reverse: true}}, "1 3 4 2"}, // REVERSE does not reverse the tie-break
		{[]Criterion{{Key: Size}, {Key: Arrival, Reverse: true}}, "3 2 1 4"},
		{[]Criterion{{Key: Subject}}, "2 3 1 4"},              // base subjects a, A, b, B
		{[]Criterion{{Key: Subject}, {Key: Size}}, "3 2 1 4"}, // then by size
		{[]Criterion{{Key: From}}, "2 4 3 1"},                 // alice alice Bob carol, case-insensitive
		{[]Criterion{{Key: To}}, "2 4 1 3"},                   // "" "" a m
		{[]Criterion{{Key: DisplayTo}}, "2 4 3 1"},            // "" "" m@x Zed
		{[]Criterion{{Key: Cc, Reverse: true}}, "4 1 2 3"},
		{[]Criterion{{Key: DisplayFrom}}, "2 4 3 1"},
		{nil, "1 2 3 4"},
	} {
		for _, in := range [][]*Message{msgs, prepared(msgs), compacted(msgs)} {
			order := Sort(in, c.crit)
			var got []string
			for _, i := range order {
				got = append(got, strconv.Itoa(int(in[i].Num)))
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("%+v (prepared %v): %s, want %s", c.crit, in[0].derived != nil, g, c.want)
			}
		}
	}
}

func TestMsgIDs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"<a@b> <c@d>", "a@b c@d"},
		{"  <a@b>\r\n\t<c@d>", "a@b c@d"},
		{`<"01KF8JCEOCBS0045PS"@xxx.yyy.com>`, "01KF8JCEOCBS0045PS@xxx.yyy.com"}, // RFC 5256 section 4's example
		{`<"a b\"c"@d>`, `ab"c@d`},
		{"<a@b> (comment) <nope> <@x> <x@> <e@f>", "a@b e@f"},
		{"Your message of <junk <g@h>", "g@h"},
		{"<a@b", ""},
		{"<a@b@c>", "a@b@c"},
		{"", ""},
	} {
		got := strings.Join(MsgIDs(nil, c.in), " ")
		if got != c.want {
			t.Errorf("MsgIDs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := FirstMsgID("junk <x> <a@b> <c@d>"); got != "a@b" {
		t.Errorf("FirstMsgID = %q", got)
	}
	var long strings.Builder
	for i := range maxRefs + 10 {
		fmt.Fprintf(&long, "<%d@x> ", i)
	}
	ids := MsgIDs(nil, long.String())
	if len(ids) != maxRefs || ids[0] != "10@x" || ids[len(ids)-1] != fmt.Sprintf("%d@x", maxRefs+9) {
		t.Errorf("long References: %d ids, %s..%s; want the last %d", len(ids), ids[0], ids[len(ids)-1], maxRefs)
	}
}

func TestReferences(t *testing.T) {
	for _, c := range []struct {
		name string
		msgs []msg
		want string
	}{
		{"chain by References", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<2@x>", refs: "<1@x>", subj: "Re: a", min: 2},
			{id: "<3@x>", refs: "<1@x> <2@x>", subj: "Re: a", min: 3},
		}, "(1 2 3)"},
		{"siblings sorted by date", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<2@x>", refs: "<1@x>", subj: "b", min: 5},
			{id: "<3@x>", refs: "<1@x>", subj: "c", min: 3},
		}, "(1 (3)(2))"},
		{"In-Reply-To when References has no valid id", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<2@x>", irt: "<1@x>", refs: "<garbage>", subj: "b", min: 2},
		}, "(1 2)"},
		{"References win over In-Reply-To", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<2@x>", subj: "b", min: 2},
			{id: "<3@x>", irt: "<1@x>", refs: "<2@x>", subj: "c", min: 3},
		}, "(1)(2 3)"},
		{"quoted ids are the same id", []msg{
			{id: `<"q"@x>`, subj: "a", min: 1},
			{id: "<2@x>", refs: "<q@x>", subj: "b", min: 2},
		}, "(1 2)"},
		{"dummy root with several children stays", []msg{
			{id: "<2@x>", refs: "<gone@x>", subj: "b", min: 2},
			{id: "<3@x>", refs: "<gone@x>", subj: "c", min: 1},
		}, "((2)(1))"},
		{"dummy root with one child is promoted", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<2@x>", refs: "<gone@x>", subj: "b", min: 2},
		}, "(1)(2)"},
		{"dummy below the root gives way to its children", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<2@x>", refs: "<1@x> <gone@x>", subj: "b", min: 3},
			{id: "<3@x>", refs: "<1@x> <gone@x>", subj: "c", min: 2},
		}, "(1 (3)(2))"},
		{"duplicate Message-ID: the later one is a message of its own", []msg{
			{id: "<1@x>", subj: "a", min: 1},
			{id: "<1@x>", subj: "b", min: 2},
			{id: "<3@x>", refs: "<1@x>", subj: "c", min: 3},
		}, "(1 3)(2)"},
		{"reference loop is broken", []msg{
			{id: "<1@x>", refs: "<2@x>", subj: "a", min: 1},
			{id: "<2@x>", refs: "<1@x>", subj: "b", min: 2},
		}, "(2 1)"},
		{"a message referencing itself", []msg{
			{id: "<1@x>", refs: "<1@x>", subj: "a", min: 1},
		}, "(1)"},
		{"loop inside References", []msg{
			{id: "<1@x>", refs: "<a@x> <b@x> <a@x>", subj: "a", min: 1},
			{id: "<2@x>", refs: "<b@x> <a@x>", subj: "b", min: 2},
		}, "((1)(2))"},
		{"the message's own References replace a guessed parent", []msg{
			{id: "<3@x>", refs: "<1@x> <2@x>", subj: "c", min: 3},
			{id: "<2@x>", subj: "b", min: 2},
			{id: "<1@x>", subj: "a", min: 1},
		}, "(3)(2 1)"},
		// Step 5: subject gathering.
		{"reply without references goes under its subject's thread", []msg{
			{id: "<1@x>", subj: "hello", min: 1},
			{id: "<2@x>", subj: "Re: hello", min: 2},
		}, "(1 2)"},
		{"the original goes first even when it is younger", []msg{
			{id: "<1@x>", subj: "Re: hello", min: 1},
			{id: "<2@x>", subj: "hello", min: 2},
		}, "(2 1)"},
		{"two originals with one subject are gathered under a dummy", []msg{
			{id: "<1@x>", subj: "hello", min: 1},
			{id: "<2@x>", subj: "HELLO", min: 2},
			{id: "<3@x>", subj: "Re: hello", min: 3},
		}, "((1)(2)(3))"},
		{"empty subjects are not gathered", []msg{
			{id: "<1@x>", subj: "", min: 1},
			{id: "<2@x>", subj: "Re:", min: 2},
		}, "(1)(2)"},
		{"a dummy thread takes a message of its subject", []msg{
			{id: "<2@x>", refs: "<gone@x>", subj: "Re: s", min: 2},
			{id: "<3@x>", refs: "<gone@x>", subj: "Re: s", min: 3},
			{id: "<4@x>", subj: "s", min: 1},
		}, "((3)(1)(2))"},
		{"two dummy threads with one subject merge", []msg{
			{id: "<1@x>", refs: "<g1@x>", subj: "s", min: 1},
			{id: "<2@x>", refs: "<g1@x>", subj: "s", min: 2},
			{id: "<3@x>", refs: "<g2@x>", subj: "s", min: 3},
			{id: "<4@x>", refs: "<g2@x>", subj: "s", min: 4},
		}, "((1)(2)(3)(4))"},
		{"no messages", nil, ""},
	} {
		msgs := build(c.msgs)
		if got := render(msgs, References(msgs)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		if got := render(msgs, References(prepared(msgs))); got != c.want {
			t.Errorf("%s, prepared: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestOrderedSubject(t *testing.T) {
	msgs := build([]msg{
		{subj: "b", min: 5},
		{subj: "Re: a", min: 3},
		{subj: "A", min: 4},
		{subj: "", min: 9},
		{subj: "c", min: 1},
		{subj: "[x] re: a", min: 2},
		{subj: "", min: 8},
	})
	// Threads by the date of their first message; children by date.
	for _, in := range [][]*Message{msgs, prepared(msgs), compacted(msgs)} {
		if got, want := render(in, OrderedSubject(in)), "(5)(6 (2)(3))(1)(7 4)"; got != want {
			t.Errorf("ORDEREDSUBJECT: %s, want %s", got, want)
		}
	}
}

// count walks threads without recursion and reports how often each
// message appears and the deepest level.
func count(roots []*Node, n int) (seen []int, depth int) {
	seen = make([]int, n)
	type item struct {
		n *Node
		d int
	}
	var stack []item
	for _, r := range roots {
		stack = append(stack, item{r, 1})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		depth = max(depth, it.d)
		if it.n.Msg >= 0 {
			seen[it.n.Msg]++
		}
		for _, c := range it.n.Children {
			stack = append(stack, item{c, it.d + 1})
		}
	}
	return seen, depth
}

// TestHostile: a 10,000-deep reply chain, delivered newest first so every
// link is a guess replaced later, and 2,000 messages whose references
// form loops. Every message appears exactly once; the chain stays one
// thread as deep as it is.
func TestHostile(t *testing.T) {
	const deep = 10000
	var ms []msg
	for i := deep - 1; i >= 0; i-- {
		m := msg{id: fmt.Sprintf("<c%d@x>", i), subj: "chain", min: int64(i)}
		if i > 0 {
			m.irt = fmt.Sprintf("<c%d@x>", i-1)
			m.refs = fmt.Sprintf("<c0@x> <c%d@x>", i-1)
		}
		ms = append(ms, m)
	}
	for i := 0; i < 2000; i++ {
		ms = append(ms, msg{
			id:   fmt.Sprintf("<l%d@x>", i),
			refs: fmt.Sprintf("<l%d@x> <l%d@x> <l%d@x>", (i+1)%2000, (i+7)%2000, (i+1999)%2000),
			subj: "loop " + strconv.Itoa(i%13), min: int64(i),
		})
	}
	msgs := prepared(build(ms))
	start := time.Now()
	roots := References(msgs)
	elapsed := time.Since(start)
	seen, depth := count(roots, len(msgs))
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("message %d appears %d times", i+1, n)
		}
	}
	if depth < deep {
		t.Errorf("deepest level %d, want the %d-deep chain kept", depth, deep)
	}
	t.Logf("REFERENCES over %d messages: %v, depth %d, %d threads", len(msgs), elapsed, depth, len(roots))
	roots = OrderedSubject(msgs)
	seen, _ = count(roots, len(msgs))
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("ORDEREDSUBJECT: message %d appears %d times", i+1, n)
		}
	}
}

// TestLoopAttempts: a 10,000-deep chain, then 2,000 messages whose
// References repeat "<leaf> <root>" 250 times: every pair asks to link the
// chain's root under its own deepest message, a loop each time. Checking
// that by walking up the chain on every attempt would take 10^10 steps;
// the walk budget keeps the whole run linear in the input.
func TestLoopAttempts(t *testing.T) {
	const deep = 10000
	var ms []msg
	for i := 0; i < deep; i++ {
		m := msg{id: fmt.Sprintf("<c%d@x>", i), subj: "chain", min: int64(i)}
		if i > 0 {
			m.irt = fmt.Sprintf("<c%d@x>", i-1)
		}
		ms = append(ms, m)
	}
	pairs := strings.Repeat(fmt.Sprintf("<c%d@x> <c0@x> ", deep-1), 250)
	for i := 0; i < 2000; i++ {
		ms = append(ms, msg{id: fmt.Sprintf("<a%d@x>", i), refs: pairs, subj: "attack", min: int64(i)})
	}
	msgs := prepared(build(ms))
	start := time.Now()
	roots := References(msgs)
	t.Logf("%d messages: %v", len(msgs), time.Since(start))
	seen, depth := count(roots, len(msgs))
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("message %d appears %d times", i+1, n)
		}
	}
	if depth < deep {
		t.Errorf("depth %d: the chain was broken", depth)
	}
}
