package mailimport

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The line is redrawn at most every 200 ms and shows the rate and, with a
// known total, the percentage and ETA.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(1000, 0)
	pl := NewProgressLine(&b)
	pl.now = func() time.Time { return now }
	p := Progress{Messages: 100, Bytes: 1 << 20, TotalBytes: 4 << 20, Elapsed: 2 * time.Second}
	pl.Update(p)
	now = now.Add(100 * time.Millisecond)
	pl.Update(p)
	if n := strings.Count(b.String(), "\r"); n != 1 {
		t.Fatalf("%d redraws in 100 ms: %q", n, b.String())
	}
	if want := "\r\x1b[K100 messages  1 MiB  50 msg/s  512 KiB/s  25%  ETA 6s"; b.String() != want {
		t.Errorf("line %q, want %q", b.String(), want)
	}
	now = now.Add(200 * time.Millisecond)
	pl.Update(Progress{Messages: 3, TotalMessages: 4, Elapsed: time.Second})
	if !strings.HasSuffix(b.String(), "3 messages  0 B  3 msg/s  0 B/s  75%  ETA 0s") {
		t.Errorf("Maildir line %q", b.String())
	}
}
