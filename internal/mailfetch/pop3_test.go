package mailfetch

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		line   string
		ok     bool
		text   string
		broken bool
	}{
		{"+OK", true, "", false},
		{"+OK POP3 ready <1.2@host>", true, "POP3 ready <1.2@host>", false},
		{"-ERR", false, "", false},
		{"-ERR [AUTH] invalid login", false, "[AUTH] invalid login", false},
		{"+OKAY", false, "", true},
		{"* OK IMAP4rev1 ready", false, "", true},
		{"", false, "", true},
		{"-ERRor", false, "", true},
	} {
		ok, text, err := parseStatus(tc.line)
		if (err != nil) != tc.broken || ok != tc.ok || text != tc.text {
			t.Errorf("parseStatus(%q) = %v, %q, %v; want %v, %q, broken %v", tc.line, ok, text, err, tc.ok, tc.text, tc.broken)
		}
	}
}

func TestParseListingLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int
		val  string
		bad  bool
	}{
		{"1 whqtswO00WBw418f9t5JxYwZ", 1, "whqtswO00WBw418f9t5JxYwZ", false},
		{"12 4096", 12, "4096", false},
		{"  3   abc  ", 3, "abc", false},
		{"0 abc", 0, "", true},
		{"-1 abc", 0, "", true},
		{"x abc", 0, "", true},
		{"1", 0, "", true},
		{"1 a b", 0, "", true},
		{"99999999999999999999 a", 0, "", true},
	} {
		n, val, err := parseListingLine(tc.line)
		if (err != nil) != tc.bad || n != tc.n || val != tc.val {
			t.Errorf("parseListingLine(%q) = %d, %q, %v", tc.line, n, val, err)
		}
	}
}

// readDot reads a multi-line body through dotReader.
func readDot(in string) (string, error) {
	d := &dotReader{r: bufio.NewReaderSize(strings.NewReader(in), 16), bol: true}
	b, err := io.ReadAll(d)
	return string(b), err
}

func TestDotReader(t *testing.T) {
	long := strings.Repeat("x", 100) // longer than the 16-octet buffer
	for _, tc := range []struct {
		in, out string
		bad     bool
	}{
		{".\r\n", "", false},
		{"a\r\nb\r\n.\r\n", "a\r\nb\r\n", false},
		{"..dot\r\n.\r\n", ".dot\r\n", false},
		{"...\r\n.\r\n", "..\r\n", false},
		{"bare\nlf\n.\n", "bare\r\nlf\r\n", false},
		{"mid.dot\r\n.\r\n", "mid.dot\r\n", false},
		{long + "\r\n.\r\n", long + "\r\n", false},
		{"." + long + "\r\n.\r\n", long + "\r\n", false},
		// A CR that ends a buffer's worth of a long line is kept.
		{strings.Repeat("y", 15) + "\rz\r\n.\r\n", strings.Repeat("y", 15) + "\rz\r\n", false},
		{strings.Repeat("y", 15) + "\r\n.\r\n", strings.Repeat("y", 15) + "\r\n", false},
		{"a\r\nb", "", true},      // connection dropped
		{"a\r\n.\r", "", true},    // no final LF
		{"a\r\n. \r\n", "", true}, // ". " is a stuffed line, not the end
	} {
		out, err := readDot(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: read %q, want an error", tc.in, out)
			}
			continue
		}
		if err != nil || out != tc.out {
			t.Errorf("%q: read %q, %v; want %q", tc.in, out, err, tc.out)
		}
	}
}

func TestReadMultilineBounds(t *testing.T) {
	var lines []string
	err := readMultiline(bufio.NewReader(strings.NewReader("1 a\r\n2 b\r\n3 c\r\n.\r\n")), 2, func(l string) error {
		lines = append(lines, l)
		return nil
	})
	if err == nil || len(lines) != 2 {
		t.Errorf("three lines with a bound of two: %v, %q", err, lines)
	}
	huge := strings.Repeat("z", maxLine+10) + "\r\n.\r\n"
	err = readMultiline(bufio.NewReaderSize(strings.NewReader(huge), maxLine), 10, func(string) error { return nil })
	if !errors.Is(err, errLineTooLong) {
		t.Errorf("a line over %d octets: %v", maxLine, err)
	}
}

// FuzzPOP3Responses feeds arbitrary server output to the response
// parsers: none may panic, a listing stays within its bound, and a
// message read through dotReader, stuffed again, reads back the same.
func FuzzPOP3Responses(f *testing.F) {
	for _, s := range []string{
		"+OK ready\r\n", "-ERR no\r\n", "1 abc\r\n2 def\r\n.\r\n", "..x\r\n.\r\n",
		"a\nb\r\n.\n", "+OK\r\n.\r\n", strings.Repeat("q", 5000) + "\r\n.\r\n", "\r\n\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		if line, err := readLine(br); err == nil {
			parseStatus(line)
		}
		n := 0
		readMultiline(bufio.NewReaderSize(bytes.NewReader(data), 64), 5, func(l string) error {
			n++
			parseListingLine(l)
			return nil
		})
		if n > 5 {
			t.Fatalf("%d listing lines with a bound of 5", n)
		}
		out, err := readDot(string(data))
		if err != nil {
			return
		}
		if len(out) > 2*len(data) {
			t.Fatalf("%d octets out of %d in", len(out), len(data))
		}
		if out != "" && !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("output %q does not end a line", out)
		}
		again, err := readDot(stuff(out) + ".\r\n")
		if err != nil || again != out {
			t.Fatalf("restuffed: %q, %v; want %q", again, err, out)
		}
	})
}

// stuff byte-stuffs a body (RFC 1939 3).
func stuff(body string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(body, "\r\n") {
		if strings.HasPrefix(line, ".") {
			b.WriteByte('.')
		}
		b.WriteString(line)
	}
	return b.String()
}
