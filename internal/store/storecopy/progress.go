package storecopy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// ProgressWriter renders Progress on w: on a terminal one bar redrawn in
// place, else (a log, a pipe) a plain line now and then, so that a
// redirected copy does not fill its log with redraws.
type ProgressWriter struct {
	w     io.Writer
	tty   bool
	every time.Duration // between plain lines
	last  time.Time
	phase string
}

// NewProgressWriter returns a ProgressWriter; tty says whether w is a
// terminal.
func NewProgressWriter(w io.Writer, tty bool) *ProgressWriter {
	return &ProgressWriter{w: w, tty: tty, every: 5 * time.Second}
}

// Update is an Options.Progress.
func (pw *ProgressWriter) Update(p Progress) {
	now := time.Now()
	newPhase := p.Phase != pw.phase
	pw.phase = p.Phase
	if pw.tty {
		if !p.Done && !newPhase && now.Sub(pw.last) < 100*time.Millisecond {
			return
		}
		pw.last = now
		fmt.Fprintf(pw.w, "\r\x1b[K%s", line(p, true))
		if p.Done {
			fmt.Fprintln(pw.w)
		}
		return
	}
	if !p.Done && !newPhase && now.Sub(pw.last) < pw.every {
		return
	}
	pw.last = now
	fmt.Fprintln(pw.w, line(p, false))
}

func line(p Progress, bar bool) string {
	var b strings.Builder
	frac := 1.0
	if p.TotalRows > 0 {
		frac = min(float64(p.Rows)/float64(p.TotalRows), 1)
	}
	fmt.Fprintf(&b, "%-11s ", p.Phase)
	if bar {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", n), strings.Repeat(".", width-n))
	}
	fmt.Fprintf(&b, "%3.0f%%  %d/%d rows  %d bodies %s", frac*100, p.Rows, p.TotalRows, p.Bodies, Bytes(p.BodyBytes))
	if s := p.Elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, "  %s/s", Bytes(int64(float64(p.BodyBytes)/s)))
	}
	if p.Done {
		fmt.Fprintf(&b, "  done in %s", p.Elapsed.Round(time.Millisecond))
	} else if p.Table != "" {
		fmt.Fprintf(&b, "  (%s)", p.Table)
	}
	return b.String()
}

// Bytes formats a byte count for people.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Print writes the verification: per table the rows and the start of the
// SHA-256 on each side, then the bodies and the sequences, then the
// verdict.
func (r *Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\trows\tsha256 source\tdestination")
	for i, s := range r.Source.Tables {
		var d TableSum
		if i < len(r.Destination.Tables) {
			d = r.Destination.Tables[i]
		}
		fmt.Fprintf(tw, "%s\t%d\t%x\t%x\t%s\n", s.Name, s.Rows, s.SHA256[:8], d.SHA256[:8], verdict(s == d))
	}
	fmt.Fprintf(tw, "bodies\t%d\t%x\t%x\t%s\n", r.Source.Bodies, r.Source.BodiesSHA256[:8], r.Destination.BodiesSHA256[:8],
		verdict(r.Source.Bodies == r.Destination.Bodies && r.Source.BodyBytes == r.Destination.BodyBytes && r.Source.BodiesSHA256 == r.Destination.BodiesSHA256))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Copied > 0 {
		s := r.Copied.Seconds()
		fmt.Fprintf(w, "copied %d rows and %d bodies (%s) in %s: %.0f rows/s, %s/s of bodies\n",
			r.Source.Rows(), r.Source.Bodies, Bytes(r.Source.BodyBytes), r.Copied.Round(time.Millisecond),
			float64(r.Source.Rows())/s, Bytes(int64(float64(r.Source.BodyBytes)/s)))
	}
	if len(r.Diffs) > 0 {
		fmt.Fprintf(w, "VERIFICATION FAILED: %d difference(s):\n", len(r.Diffs))
		for _, d := range r.Diffs {
			fmt.Fprintf(w, "  %s\n", d)
		}
		return nil
	}
	_, err := fmt.Fprintf(w, "verified in %s: %d tables, %d rows, %d bodies (%s) and %d id sequences identical on both sides\n",
		r.Verified.Round(time.Millisecond), len(r.Source.Tables), r.Source.Rows(), r.Source.Bodies, Bytes(r.Source.BodyBytes), len(r.Source.Sequences))
	return err
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "DIFFERS"
}
