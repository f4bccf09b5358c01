package imapmigrate

import (
	"fmt"
	"io"
	"sort"
	"time"

	"mailroom/internal/mailimport"
	"mailroom/internal/store"
)

// ImportProgress is p as the import's progress line draws it.
func (p Progress) ImportProgress() mailimport.Progress {
	return mailimport.Progress{Messages: p.Messages, Bytes: p.Bytes, TotalBytes: p.TotalBytes, TotalMessages: p.TotalMessages, Elapsed: p.Elapsed}
}

// PrintSummary writes what a run did, per folder.
func (r *Result) PrintSummary(w io.Writer, source string) {
	names := make([]string, 0, len(r.Folders))
	for n := range r.Folders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := r.Folders[n]
		line := fmt.Sprintf("  %-24s %6d copied  %s", n, f.Copied, store.FormatOctets(f.Bytes))
		if f.FlagsUpdated > 0 {
			line += fmt.Sprintf(", flags updated on %d", f.FlagsUpdated)
		}
		if f.Recopied {
			line += ", UIDVALIDITY changed at the source: folder compared again"
		}
		if f.Matched > 0 {
			line += fmt.Sprintf(", %d found here already", f.Matched)
		}
		fmt.Fprintln(w, line)
	}
	n, size, flags := r.Totals()
	rate := ""
	if s := r.Elapsed.Seconds(); s > 0 && n > 0 {
		rate = fmt.Sprintf(", %.0f messages/s", float64(n)/s)
	}
	fmt.Fprintf(w, "%s: copied %d messages (%s), updated flags on %d, in %s%s\n",
		source, n, store.FormatOctets(size), flags, r.Elapsed.Round(time.Millisecond), rate)
}
