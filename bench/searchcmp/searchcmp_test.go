package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The mbox reader gives back what gen-corpus.py wrote: a real corpus of a
// few messages, every message's Message-ID once, ">From " unquoted, CRLF
// lines, no separator line kept, and delivery dates from the From lines.
func TestMboxReaderOnGeneratedCorpus(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	path := filepath.Join(t.TempDir(), "c.mbox")
	out, err := exec.Command("python3", "../gen-corpus.py", "-n", "300", "-s", "7", "-o", path).CombinedOutput()
	if err != nil {
		t.Fatalf("gen-corpus: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mr := &mboxReader{r: bufio.NewReader(f)}
	seen := map[string]bool{}
	n, fromLines := 0, 0
	for {
		m, err := mr.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		s := string(m.raw)
		if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
			t.Fatalf("message %d has a bare LF", n)
		}
		if strings.HasSuffix(s, "\r\n\r\n") {
			t.Fatalf("message %d kept the separator line", n)
		}
		if strings.Contains(s, "\r\n>From the") {
			t.Fatalf("message %d: >From not unquoted", n)
		}
		fromLines += strings.Count(s, "\r\nFrom the desk")
		if m.date.Year() < 2015 || m.date.Year() > 2026 {
			t.Fatalf("message %d: delivery date %v", n, m.date)
		}
		i := strings.Index(s, "\r\nMessage-ID: <")
		if i < 0 {
			t.Fatalf("message %d has no Message-ID", n)
		}
		id := s[i+14 : i+14+strings.IndexByte(s[i+14:], '>')+1]
		if seen[id] {
			t.Fatalf("Message-ID %s twice", id)
		}
		seen[id] = true
	}
	if n != 300 || fromLines == 0 {
		t.Fatalf("read %d messages (want 300), %d with a From line (want some)", n, fromLines)
	}
}

func TestMboxReaderUnquotes(t *testing.T) {
	in := "From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\n>From here\n>>From there\n\nFrom c@d Tue Jan  3 10:00:00 2006\nSubject: y\n\nbody\n\n"
	mr := &mboxReader{r: bufio.NewReader(strings.NewReader(in))}
	m, err := mr.read()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.raw), "Subject: x\r\n\r\nFrom here\r\n>From there\r\n"; got != want {
		t.Fatalf("first message %q, want %q", got, want)
	}
	if m.date.Format("2006-01-02 15:04") != "2006-01-02 15:04" {
		t.Fatalf("date %v", m.date)
	}
	m, err = mr.read()
	if err != nil || string(m.raw) != "Subject: y\r\n\r\nbody\r\n" {
		t.Fatalf("second message %q, %v", m.raw, err)
	}
	if _, err := mr.read(); err != io.EOF {
		t.Fatalf("after the last message: %v", err)
	}
}

// Threads are compared top-level thread by top-level thread, in Message-IDs,
// so two servers with different UIDs for the same mail compare equal.
func TestThreadByIDAndDiff(t *testing.T) {
	q := query{name: "t", kind: "thread"}
	a := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte("THREAD (1)(2 3 (4)(5))")}})
	b := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte("THREAD (10)(20 30 (40)(50))")}})
	ida := map[uint32]string{1: "<a>", 2: "<b>", 3: "<c>", 4: "<d>", 5: "<e>"}
	idb := map[uint32]string{10: "<a>", 20: "<b>", 30: "<c>", 40: "<d>", 50: "<e>"}
	if got := a.byID(q, ida); strings.Join(got, "|") != "(<a>)|(<b> <c> (<d>)(<e>))" {
		t.Fatalf("byID %q", got)
	}
	if a.hits() != 5 {
		t.Fatalf("hits %d", a.hits())
	}
	if d := diff(q, "x", a.byID(q, ida), "y", b.byID(q, idb), 3); d != "" {
		t.Fatalf("equal threads differ: %s", d)
	}
	// The same threads in another order: every position differs, no member.
	c := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte("THREAD (20 30 (40)(50))(10)")}})
	if d := diff(q, "x", a.byID(q, ida), "y", c.byID(q, idb), 3); !strings.Contains(d, "2 of 2 top-level threads differ (0 not in y's answer at all)") {
		t.Fatalf("reordered threads: %q", d)
	}
	idb[50] = "<f>"
	if d := diff(q, "x", a.byID(q, ida), "y", b.byID(q, idb), 3); !strings.Contains(d, "1 of 2 top-level threads differ (1 not in y's answer at all); first at #2") {
		t.Fatalf("diff %q", d)
	}
}

func TestSearchDiffAndUnsupported(t *testing.T) {
	q := query{name: "s", kind: "search"}
	a := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte("SEARCH 1 2 3")}})
	b := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte("SEARCH 2 3 4")}})
	ids := map[uint32]string{1: "<a>", 2: "<b>", 3: "<c>", 4: "<d>"}
	d := diff(q, "x", a.byID(q, ids), "y", b.byID(q, ids), 5)
	if d != "only in x: 1 (<a>); only in y: 1 (<d>)" {
		t.Fatalf("diff %q", d)
	}
	empty := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte("SEARCH")}})
	if empty.hits() != 0 || empty.unsupported != "" {
		t.Fatalf("empty answer %+v", empty)
	}
	no := parseAnswer(query{kind: "sort"}, &response{status: "BAD", text: "UID SORT is not a command"})
	if no.unsupported != "BAD UID SORT is not a command" {
		t.Fatalf("unsupported %q", no.unsupported)
	}
	if got := render(queries[4].command()); got != `UID SEARCH CHARSET UTF-8 TEXT "Prüfung"` {
		t.Fatalf("command %s", got)
	}
}

func TestFolderAndFlagsAreStable(t *testing.T) {
	counts := map[string]int{}
	for k := 1; k <= 100000; k++ {
		counts[folderOf(k, 50)]++
	}
	if len(counts) != 50 || counts["INBOX"] < 38000 || counts["INBOX"] > 42000 {
		t.Fatalf("folders: %d, INBOX %d", len(counts), counts["INBOX"])
	}
	if folderOf(12345, 1) != "INBOX" || flagsOf(3) != "()" || flagsOf(46) != `(\Seen \Flagged)` {
		t.Fatalf("folderOf/flagsOf changed: %s %s %s", folderOf(12345, 1), flagsOf(3), flagsOf(46))
	}
}
