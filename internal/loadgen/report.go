package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"
)

// Report is what a run measured.
type Report struct {
	Protocol string        `json:"protocol"`
	Clients  int           `json:"clients"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	// Cycles counts the cycles that completed without any error; failed
	// cycles show up in Errors instead, so CyclesPerSec is useful work only.
	Cycles       int     `json:"cycles"`
	CyclesPerSec float64 `json:"cycles_per_sec"`
	// CommandsPerSec is the rate of protocol commands sent, failed ones
	// included: the sum of the Commands' counts, less CONNECT (the dial,
	// not a command), per second.
	CommandsPerSec float64 `json:"commands_per_sec"`
	// Commands is keyed by command name ("USER", "RETR", …; "CONNECT" is
	// the dial, TLS handshake and greeting).
	Commands map[string]*CommandStats `json:"commands"`
	// Errors is the sum of the commands' errors.
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples"` // first few distinct kinds
	// Bytes is what went over the wire in both directions, TLS included.
	Bytes int64 `json:"bytes"`
	// MethodErrors counts JMAP method errors by "method: type" (e.g.
	// "Email/changes: cannotCalculateChanges"); they are in Errors too.
	MethodErrors map[string]int `json:"method_errors,omitempty"`
	// Push is what JMAP's push probes measured, if any ran.
	Push *PushReport `json:"push,omitempty"`
}

// CommandStats describes one command. Count includes failed commands; the
// latencies are over the commands that got an answer (an -ERR is an
// answer, a dropped connection is not), measured from sending the command
// to the end of the response, so RETR includes the transfer.
type CommandStats struct {
	Count  int           `json:"count"`
	P50    time.Duration `json:"p50_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
	Errors int           `json:"errors"`
}

// WriteText writes the report for people: a summary line, a table of
// commands (alphabetical, so runs compare line by line) and the error
// samples.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	secs := r.Elapsed.Seconds()
	var mbps float64
	if secs > 0 {
		mbps = float64(r.Bytes) / secs / 1e6
	}
	fmt.Fprintf(tw, "%s: %d clients, %.2fs, %d cycles (%.1f/s), %d errors, %.1f commands/s, %.1f MB (%.2f MB/s)\n",
		r.Protocol, r.Clients, secs, r.Cycles, r.CyclesPerSec, r.Errors, r.CommandsPerSec, float64(r.Bytes)/1e6, mbps)
	fmt.Fprintln(tw, "command\tcount\terrors\tp50\tp99\tmax\t")
	names := make([]string, 0, len(r.Commands))
	for name := range r.Commands {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := r.Commands[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", name, c.Count, c.Errors,
			roundDuration(c.P50), roundDuration(c.P99), roundDuration(c.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.MethodErrors) > 0 {
		if _, err := fmt.Fprintln(w, "method errors:"); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(r.MethodErrors)) {
			if _, err := fmt.Fprintf(w, "  %s: %d\n", k, r.MethodErrors[k]); err != nil {
				return err
			}
		}
	}
	if r.Push != nil {
		if err := r.Push.writeText(w); err != nil {
			return err
		}
	}
	if len(r.ErrorSamples) > 0 {
		if _, err := fmt.Fprintln(w, "error samples:"); err != nil {
			return err
		}
		for _, s := range r.ErrorSamples {
			if _, err := fmt.Fprintf(w, "  %s\n", s); err != nil {
				return err
			}
		}
	}
	return nil
}

// roundDuration keeps three significant digits or so: the estimator is good
// to about 1%, and more digits only make the table harder to read.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(100 * time.Nanosecond)
	}
}

// WriteJSON writes the report for machines; durations are integer
// nanoseconds (the _ns fields), so the report reads back unchanged.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
