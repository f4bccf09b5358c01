package smtp

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzDataReader (Mailroom): the dot-reader drops no CR. Every CR read
// before the end-of-data line reaches the output, except the one of the
// ".\r\n" that ends the data; and the end is found exactly at the first
// "\r\n.\r\n" (or a leading ".\r\n"). Input cut off right after a CR
// may hold that CR back.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{
		"a\r\n.\r\n", ".\r\n", "x\r\n.\rMAIL FROM:<a@b>\r\n.\r\n", "..\r\n.\r\n",
		".\r\r\n.\r\n", "\r\n.\r", "a\r.\r\n.\r\n", ".x\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		out, err := io.ReadAll(&dataReader{r: br})
		consumed := len(in) - br.Buffered()
		crIn := bytes.Count(in[:consumed], []byte("\r"))
		crOut := bytes.Count(out, []byte("\r"))
		if err == nil { // the end-of-data line was found
			end := bytes.Index(append([]byte("\r\n"), in...), []byte("\r\n.\r\n"))
			if end < 0 || consumed != end+3 {
				t.Fatalf("%q: ended after %d bytes, first end-of-data line at %d", in, consumed, end)
			}
			crIn--
		}
		if err != nil && crOut == crIn-1 && bytes.HasSuffix(in, []byte(".\r")) {
			return // cut off in the middle of a possible end-of-data line
		}
		if crOut != crIn {
			t.Fatalf("%q -> %q: %d CRs in, %d out", in, out, crIn, crOut)
		}
	})
}
