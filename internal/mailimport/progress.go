package mailimport

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"mailroom/internal/store"
)

// ProgressLine draws Progress as one line redrawn in place on a terminal,
// at most every 200 ms: a redraw per message would cost more than the
// import on a slow terminal.
type ProgressLine struct {
	w    io.Writer
	last time.Time
	now  func() time.Time
}

// NewProgressLine draws on w, which should be a terminal.
func NewProgressLine(w io.Writer) *ProgressLine {
	return &ProgressLine{w: w, now: time.Now}
}

// Update is an Options.Progress.
func (pl *ProgressLine) Update(p Progress) {
	now := pl.now()
	if now.Sub(pl.last) < 200*time.Millisecond {
		return
	}
	pl.last = now
	fmt.Fprintf(pl.w, "\r\x1b[K%s", p.line())
}

// Clear removes the line, before the summary.
func (pl *ProgressLine) Clear() {
	if !pl.last.IsZero() {
		fmt.Fprint(pl.w, "\r\x1b[K")
	}
}

// line is "1234 messages  12.0 MiB  410 msg/s  2.1 MiB/s  45%  ETA 12s".
func (p Progress) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d messages  %s", p.Messages, octets(p.Bytes))
	s := p.Elapsed.Seconds()
	if s <= 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "  %.0f msg/s  %s/s", float64(p.Messages)/s, octets(int64(float64(p.Bytes)/s)))
	var frac float64
	switch {
	case p.TotalBytes > 0:
		frac = float64(p.Bytes) / float64(p.TotalBytes)
	case p.TotalMessages > 0:
		frac = float64(p.Messages) / float64(p.TotalMessages)
	default:
		return b.String()
	}
	frac = min(frac, 1)
	fmt.Fprintf(&b, "  %.0f%%", frac*100)
	if frac > 0 {
		eta := time.Duration(float64(p.Elapsed) * (1 - frac) / frac)
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

func octets(n int64) string { return store.FormatOctets(n) }

// PrintSummary writes what an import did: per folder, skipped, time.
func (r *Result) PrintSummary(w io.Writer, source string) {
	if r.AlreadyDone {
		fmt.Fprintf(w, "%s: already imported, nothing to do\n", source)
		return
	}
	names := make([]string, 0, len(r.Folders))
	for n := range r.Folders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := r.Folders[n]
		fmt.Fprintf(w, "  %-24s %6d messages  %s\n", n, f.Messages, octets(f.Bytes))
	}
	for _, s := range r.Skipped {
		if s.Where != "" {
			fmt.Fprintf(w, "  skipped %s: %s\n", s.Where, s.Reason)
		} else {
			fmt.Fprintf(w, "  skipped %d bytes at offset %d: %s\n", s.Bytes, s.Offset, s.Reason)
		}
	}
	n, size := r.Messages()
	resumed := ""
	if r.Resumed {
		resumed = " (resumed: the earlier run's messages are not counted)"
	}
	rate := ""
	if s := r.Elapsed.Seconds(); s > 0 && n > 0 {
		rate = fmt.Sprintf(", %.0f messages/s", float64(n)/s)
	}
	fmt.Fprintf(w, "%s: imported %d messages (%s), skipped %d, in %s%s%s\n",
		source, n, octets(size), len(r.Skipped), r.Elapsed.Round(time.Millisecond), rate, resumed)
}
