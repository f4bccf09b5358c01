package storecopy

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// On a terminal the bar is redrawn in place, at most every 100 ms, and
// ends with a newline; elsewhere plain lines come at most every few
// seconds, plus one per phase and its end.
func TestProgressWriter(t *testing.T) {
	var tty bytes.Buffer
	pw := NewProgressWriter(&tty, true)
	for i := range int64(1000) {
		pw.Update(Progress{Phase: "copy", Table: "messages", Rows: i, TotalRows: 1000, Bodies: i / 10, BodyBytes: i << 20, Elapsed: time.Second})
	}
	pw.Update(Progress{Phase: "copy", Rows: 1000, TotalRows: 1000, Elapsed: 2 * time.Second, Done: true})
	out := tty.String()
	if n := strings.Count(out, "\r\x1b[K"); n < 2 || n > 10 {
		t.Errorf("%d redraws for 1001 updates within a moment", n)
	}
	if !strings.Contains(out, "[##############################] 100%  1000/1000 rows") || !strings.HasSuffix(out, "done in 2s\n") {
		t.Errorf("terminal output %q", out)
	}
	if !strings.Contains(out, "[#") || !strings.Contains(out, "...]") || !strings.Contains(out, "(messages)") {
		t.Errorf("no bar while copying: %q", out)
	}

	var plain bytes.Buffer
	pw = NewProgressWriter(&plain, false)
	for i := range int64(1000) {
		pw.Update(Progress{Phase: "copy", Table: "messages", Rows: i, TotalRows: 1000})
	}
	pw.Update(Progress{Phase: "copy", Rows: 1000, TotalRows: 1000, Done: true})
	pw.Update(Progress{Phase: "verify", TotalRows: 1000})
	lines := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")
	if len(lines) != 3 || strings.ContainsAny(plain.String(), "\r\x1b#") {
		t.Fatalf("plain output %q", plain.String())
	}
	if !strings.HasPrefix(lines[1], "copy        100%  1000/1000 rows") || !strings.HasPrefix(lines[2], "verify        0%") {
		t.Errorf("plain lines %q", lines)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 50 << 20: "50.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
