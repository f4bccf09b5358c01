// Package panics contains a panic to the one session or task it happened
// in: the goroutine's deferred Recover (or a deferred function that calls
// Report) logs the panic value with its stack at ERROR and counts it, and
// the caller closes only what that goroutine owned. Every other session,
// listener and worker goes on.
//
// It is a leaf package, so that the plumbing under the protocols
// (internal/listener), the outbound queue and the mailbox index, which
// the plumbing itself imports, can all use it.
package panics

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// Msg is the message of the log record of every recovered panic, so that
// operators can search for one string.
const Msg = "panic recovered"

// Counter counts the panics recovered in one server. Its methods may be
// called on a nil *Counter, which logs without counting (tools and tests
// that build a protocol without a server).
type Counter struct {
	n atomic.Int64
}

// Count returns how many panics were recovered so far.
func (c *Counter) Count() int64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

// Recover contains a panic in the goroutine that defers it; what names
// the session or task that ends (for the log), and args are added to the
// record. It must be deferred directly (defer c.Recover(log, "...")):
// recover only works in the deferred call itself. A goroutine that must
// also undo something on a panic (close a connection, fail a pipe) defers
// its own function that calls recover and Report.
func (c *Counter) Recover(log *slog.Logger, what string, args ...any) {
	if v := recover(); v != nil {
		c.Report(log, what, v, args...)
	}
}

// Report logs the recovered panic value v at ERROR with the current stack
// and counts it. Called from a deferred function while the panic is being
// recovered, the stack still holds the frames that panicked.
func (c *Counter) Report(log *slog.Logger, what string, v any, args ...any) {
	c.ReportStack(log, what, v, debug.Stack(), args...)
}

// ReportStack is Report with the stack taken by whoever recovered the
// panic (a library that recovers by itself and only tells us afterwards).
func (c *Counter) ReportStack(log *slog.Logger, what string, v any, stack []byte, args ...any) {
	if log != nil {
		attrs := append([]any{"in", what, "panic", fmt.Sprint(v)}, args...)
		log.Error(Msg, append(attrs, "stack", string(stack))...)
	}
	// Counted after the record is written: whoever sees the count go up
	// finds the record.
	if c != nil {
		c.n.Add(1)
	}
}
