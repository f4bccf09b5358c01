package main

import (
	"bufio"
	"bytes"
	"testing"
)

// The mbox reader takes any bytes (a truncated or foreign file) without
// panicking or looping, and every message it returns has CRLF lines only.
func FuzzMboxReader(f *testing.F) {
	f.Add([]byte("From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\n>From here\n\nFrom c@d Tue Jan  3 10:00:00 2006\n\nbody"))
	f.Add([]byte("not an mbox"))
	f.Add([]byte("From \n\n\nFrom x\r\n>>From y\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mr := &mboxReader{r: bufio.NewReader(bytes.NewReader(data))}
		for i := 0; i <= len(data); i++ {
			m, err := mr.read()
			if err != nil {
				return
			}
			if bytes.Contains(bytes.ReplaceAll(m.raw, []byte("\r\n"), nil), []byte("\n")) {
				t.Fatalf("bare LF in %q", m.raw)
			}
		}
		t.Fatalf("more messages than bytes: the reader does not advance")
	})
}

// A THREAD, SORT or SEARCH answer of any shape is turned into Message-IDs
// and compared with itself without panicking, and equals itself.
func FuzzAnswers(f *testing.F) {
	f.Add("THREAD (1)(2 3 (4)(5))")
	f.Add("THREAD ((1)(2))(3")
	f.Add("SEARCH 1 2 4294967296 x")
	f.Add("SORT 3 2 1")
	f.Fuzz(func(t *testing.T, line string) {
		ids := map[uint32]string{1: "<a>", 2: "<b>", 3: "<c>"}
		for _, kind := range []string{"search", "sort", "thread"} {
			q := query{name: "f", kind: kind}
			a := parseAnswer(q, &response{status: "OK", untagged: [][]byte{[]byte(line)}})
			x := a.byID(q, ids)
			_ = a.hits()
			if d := diff(q, "x", x, "y", x, 3); d != "" {
				t.Fatalf("%s answer differs from itself: %s", kind, d)
			}
		}
	})
}
