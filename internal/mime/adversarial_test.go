package mime

import (
	"strings"
	"testing"
	"time"
)

// TestAdversarialHeaders feeds full-size header blocks of repeated syntax
// characters to every header parser; each must stay linear.
func TestAdversarialHeaders(t *testing.T) {
	pieces := []string{"(", ")", "[", "]", `"`, `\`, "<", ">", "@", ",", ";", ":", "=?", "=?a?q?", "?=", "a ", "%", "'", "*", "=",
		"a*1*=x;", "a*0=", "=?utf-8?q?=C3?= ", "<@a,", "g:", "&amp", "<!--", "<script>"}
	fields := []string{"From", "To", "Subject", "Content-Type", "Content-Disposition", "Content-Language"}
	for _, p := range pieces {
		val := strings.Repeat(p, (200<<10)/len(p))
		for _, f := range fields {
			in := f + ": text/html; x=" + val + "\r\n\r\n" + val
			start := time.Now()
			m := scanChunks(t, []byte(in), Limits{})
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s: %q repeated: %v", f, p, d)
			}
			if m.Size != int64(len(in)) {
				t.Fatal("size")
			}
		}
	}
}
