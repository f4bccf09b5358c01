package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// query is one timed command. The words come from bench/gen-corpus.py's
// vocabulary and marker words, so every query has answers at any N
// (the rare ones at a few thousand messages and up).
type query struct {
	name string
	kind string // search, sort, thread
	args []arg  // after "UID SEARCH" / the whole SORT or THREAD tail
	note string
}

func s(name, note string, args ...arg) query {
	return query{name: name, kind: "search", args: args, note: note}
}

// queries is the fixed list: 20 searches, then SORT and THREAD of ALL.
var queries = []query{
	s("text-common", "TEXT, a common English word", atom("TEXT"), str("meeting")),
	s("text-rare", "TEXT, a word in about 1 message in 2,000", atom("TEXT"), str("quokka")),
	s("body-two-words", `BODY "two words"`, atom("BODY"), str("budget review")),
	s("body-phrase-linebreak", "BODY, a phrase the 72-column wrapping often breaks across lines", atom("BODY"), str("another round of budget review")),
	s("text-umlaut", "TEXT, German word with umlaut", atom("TEXT"), str("Prüfung")),
	s("text-casefold", "TEXT, upper case of a word written in lower case (Ü/ü)", atom("TEXT"), str("ÜBERARBEITETE")),
	s("text-zh", "TEXT, Chinese 2-character word (no spaces around it)", atom("TEXT"), str("预算")),
	s("text-ja", "TEXT, Japanese word (kanji, unspaced)", atom("TEXT"), str("会議")),
	s("text-ru", "TEXT, Russian word with ё", atom("TEXT"), str("отчёт")),
	s("text-el", "TEXT, Greek word with diacritics", atom("TEXT"), str("προϋπολογισμός")),
	s("from-address", "FROM, the most frequent sender's address", atom("FROM"), str("emma.wilson@example.com")),
	s("from-name-2047", "FROM, a name that is RFC 2047-encoded in the header", atom("FROM"), str("Müller")),
	s("to-domain", "TO, a domain", atom("TO"), str("example.jp")),
	s("subject-word", "SUBJECT, an English word", atom("SUBJECT"), str("reminder")),
	s("text-address", "TEXT, an address (in From, To or Cc)", atom("TEXT"), str("juergen.mueller@example.de")),
	s("attachment-filename", "TEXT, a word only in attachment file names", atom("TEXT"), str("Kostenvoranschlag")),
	s("attached-message-header", "BODY, a word only in the From of attached message/rfc822 parts (RFC 9051: the body holds it)", atom("BODY"), str("Zephyrine")),
	s("flags-and-text", "UNSEEN FLAGGED with TEXT", atom("UNSEEN FLAGGED TEXT"), str("invoice")),
	s("date-and-from", "SINCE/BEFORE with FROM", atom("SINCE 1-Jan-2019 BEFORE 1-Jan-2021 FROM"), str("example.de")),
	s("or-not", "OR of two SUBJECTs, NOT a TEXT word", atom("OR SUBJECT"), str("contract"), atom("SUBJECT"), str("Vertrag"), atom("NOT TEXT"), str("budget")),
	{name: "sort-reverse-date", kind: "sort", args: []arg{atom("(REVERSE DATE) UTF-8 ALL")}},
	{name: "sort-subject", kind: "sort", args: []arg{atom("(SUBJECT) UTF-8 ALL")}},
	{name: "thread-references", kind: "thread", args: []arg{atom("REFERENCES UTF-8 ALL")}},
	{name: "thread-orderedsubject", kind: "thread", args: []arg{atom("ORDEREDSUBJECT UTF-8 ALL")}},
}

// command is the full command of q.
func (q query) command() []arg {
	switch q.kind {
	case "sort":
		return append([]arg{atom("UID SORT")}, q.args...)
	case "thread":
		return append([]arg{atom("UID THREAD")}, q.args...)
	}
	cmd := []arg{atom("UID SEARCH")}
	for _, a := range q.args {
		if !quotable(a.s) {
			cmd = append(cmd, atom("CHARSET UTF-8"))
			break
		}
	}
	return append(cmd, q.args...)
}

// answer is what a server answered to a query, in UIDs.
type answer struct {
	unsupported string // the NO/BAD text when the server refused
	uids        []uint32
	thread      string // the THREAD response as sent
}

func parseAnswer(q query, res *response) answer {
	if res.status != "OK" {
		return answer{unsupported: strings.TrimSpace(res.status + " " + res.text)}
	}
	var a answer
	want := map[string]string{"search": "SEARCH", "sort": "SORT", "thread": "THREAD"}[q.kind]
	for _, l := range res.untagged {
		line := string(l)
		head, rest, _ := strings.Cut(line, " ")
		if !strings.EqualFold(head, want) {
			continue
		}
		if q.kind == "thread" {
			a.thread += rest
			continue
		}
		for _, f := range strings.Fields(rest) {
			if n, err := strconv.ParseUint(f, 10, 32); err == nil {
				a.uids = append(a.uids, uint32(n))
			}
		}
	}
	return a
}

// hits is the size of the answer: messages found, sorted or threaded.
func (a answer) hits() int {
	if a.thread != "" {
		n := 0
		for _, f := range strings.FieldsFunc(a.thread, func(r rune) bool { return r == '(' || r == ')' || r == ' ' }) {
			if _, err := strconv.Atoi(f); err == nil {
				n++
			}
		}
		return n
	}
	return len(a.uids)
}

// byID rewrites an answer in Message-IDs, the only names two servers share:
// a search as a sorted set, a sort as a sequence, a thread as its top-level
// threads with every UID replaced.
func (a answer) byID(q query, ids map[uint32]string) []string {
	name := func(u uint32) string {
		if id, ok := ids[u]; ok {
			return id
		}
		return fmt.Sprintf("uid:%d", u)
	}
	switch q.kind {
	case "search":
		out := make([]string, len(a.uids))
		for i, u := range a.uids {
			out[i] = name(u)
		}
		sort.Strings(out)
		return out
	case "sort":
		out := make([]string, len(a.uids))
		for i, u := range a.uids {
			out[i] = name(u)
		}
		return out
	}
	var out []string
	var cur strings.Builder
	depth := 0
	t := a.thread
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '(':
			depth++
			cur.WriteByte(c)
		case c == ')':
			depth--
			cur.WriteByte(c)
			if depth == 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		case c >= '0' && c <= '9':
			j := i
			for j < len(t) && t[j] >= '0' && t[j] <= '9' {
				j++
			}
			n, _ := strconv.ParseUint(t[i:j], 10, 32)
			cur.WriteString(name(uint32(n)))
			i = j - 1
		default:
			if depth > 0 {
				cur.WriteByte(c)
			}
		}
	}
	return out
}

// diff describes how b differs from a (both from byID), "" when equal.
func diff(q query, nameA string, a []string, nameB string, b []string, show int) string {
	if q.kind != "search" && len(a) == len(b) {
		same := true
		first := -1
		differ := 0
		for i := range a {
			if a[i] != b[i] {
				same = false
				differ++
				if first < 0 {
					first = i
				}
			}
		}
		if same {
			return ""
		}
		unit := "positions"
		if q.kind == "thread" {
			unit = "top-level threads"
		}
		// As sets too: the same members in another order is a different
		// fault from members that are not the same.
		inB := map[string]int{}
		for _, x := range b {
			inB[x]++
		}
		onlyA := 0
		for _, x := range a {
			if inB[x] > 0 {
				inB[x]--
			} else {
				onlyA++
			}
		}
		return fmt.Sprintf("%d of %d %s differ (%d not in %s's answer at all); first at #%d: %s %s | %s %s",
			differ, len(a), unit, onlyA, nameB, first+1, nameA, clip(a[first], 160), nameB, clip(b[first], 160))
	}
	setA, setB := map[string]bool{}, map[string]bool{}
	for _, x := range a {
		setA[x] = true
	}
	for _, x := range b {
		setB[x] = true
	}
	var onlyA, onlyB []string
	for _, x := range a {
		if !setB[x] {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !setA[x] {
			onlyB = append(onlyB, x)
		}
	}
	if len(onlyA) == 0 && len(onlyB) == 0 {
		if len(a) == len(b) {
			return ""
		}
		return fmt.Sprintf("same members, %d vs %d entries (duplicates)", len(a), len(b))
	}
	var sb strings.Builder
	if q.kind != "search" {
		fmt.Fprintf(&sb, "%d vs %d entries; ", len(a), len(b))
	}
	fmt.Fprintf(&sb, "only in %s: %d%s; only in %s: %d%s", nameA, len(onlyA), sample(onlyA, show), nameB, len(onlyB), sample(onlyB, show))
	return sb.String()
}

// sample lists up to n of xs (all of them when n < 0).
func sample(xs []string, n int) string {
	if len(xs) == 0 || n == 0 {
		return ""
	}
	if n < 0 {
		return " (" + strings.Join(xs, " ") + ")"
	}
	if len(xs) > n {
		return " (" + clip(strings.Join(xs[:n], " "), 400) + " …)"
	}
	return " (" + clip(strings.Join(xs, " "), 400) + ")"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
