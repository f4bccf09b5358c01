package loadgen

import (
	"errors"
	"sync"
	"time"
)

// maxErrorSamples bounds Report.ErrorSamples: enough to see every kind of
// failure a run hit without flooding the report with one kind.
const maxErrorSamples = 10

// recorder collects what all clients of a run measured. One mutex guards it:
// a command takes tens of microseconds at the least, so an uncontended lock
// per command costs nothing measurable, and one shared histogram per command
// keeps memory independent of the number of clients.
type recorder struct {
	mu       sync.Mutex
	commands map[string]*commandRecord
	cycles   int
	errors   int
	samples  []string
	shapes   map[string]bool // sampleShape of every kept sample
	bytes    int64
	// methodErrors counts JMAP method errors by "method: type", so the
	// report says which method failed how, not only how often.
	methodErrors map[string]int
}

type commandRecord struct {
	count, errors int
	latency       histogram
}

func newRecorder() *recorder {
	return &recorder{commands: make(map[string]*commandRecord), shapes: make(map[string]bool)}
}

// command records one command. latency < 0 means the command got no answer
// (the connection failed), so it has no latency to count; err is nil for a
// command that succeeded and passed every check.
func (r *recorder) command(name string, latency time.Duration, err error) {
	var text string
	if err != nil {
		text = name + ": " + err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.commands[name]
	if c == nil {
		c = &commandRecord{}
		r.commands[name] = c
	}
	c.count++
	if latency >= 0 {
		c.latency.add(latency)
	}
	if err != nil {
		c.errors++
		r.errors++
		r.sample(text)
		var me *methodError
		if errors.As(err, &me) {
			if r.methodErrors == nil {
				r.methodErrors = make(map[string]int)
			}
			r.methodErrors[me.method+": "+me.typ]++
		}
	}
}

// sample keeps text if it is a new kind of error. Kinds are compared with
// their numbers blanked out, so that "RETR 3: ..." and "RETR 4: ..." (or two
// connection errors from different local ports) take one slot, not all ten.
func (r *recorder) sample(text string) {
	if len(r.samples) >= maxErrorSamples {
		return
	}
	shape := sampleShape(text)
	if r.shapes[shape] {
		return
	}
	r.shapes[shape] = true
	r.samples = append(r.samples, text)
}

func sampleShape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if len(b) == 0 || b[len(b)-1] != '#' {
				b = append(b, '#')
			}
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func (r *recorder) cycleDone() {
	r.mu.Lock()
	r.cycles++
	r.mu.Unlock()
}

func (r *recorder) addBytes(n int64) {
	r.mu.Lock()
	r.bytes += n
	r.mu.Unlock()
}

// report summarises the run so far.
func (r *recorder) report(protocol string, clients int, elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{
		Protocol:     protocol,
		Clients:      clients,
		Elapsed:      elapsed,
		Cycles:       r.cycles,
		Commands:     make(map[string]*CommandStats, len(r.commands)),
		Errors:       r.errors,
		ErrorSamples: append([]string{}, r.samples...),
		Bytes:        r.bytes,
	}
	if len(r.methodErrors) > 0 {
		rep.MethodErrors = make(map[string]int, len(r.methodErrors))
		for k, n := range r.methodErrors {
			rep.MethodErrors[k] = n
		}
	}
	commands := 0
	for name, c := range r.commands {
		if name != "CONNECT" {
			commands += c.count
		}
	}
	if elapsed > 0 {
		rep.CyclesPerSec = float64(r.cycles) / elapsed.Seconds()
		rep.CommandsPerSec = float64(commands) / elapsed.Seconds()
	}
	for name, c := range r.commands {
		rep.Commands[name] = &CommandStats{
			Count:  c.count,
			P50:    c.latency.quantile(0.50),
			P99:    c.latency.quantile(0.99),
			Max:    c.latency.max,
			Errors: c.errors,
		}
	}
	return rep
}
