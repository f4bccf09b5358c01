package listener

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"mailroom/internal/panics"
)

// Sessions runs the accept loop of a line protocol (POP3, IMAP) and tracks
// its live connections, so that a graceful shutdown can end at once the
// ones waiting for the client and let the others finish their command.
//
// A panic in a session ends that session only: its connection is closed,
// the panic is logged with its stack and counted, and the accept loop and
// every other session go on.
type Sessions struct {
	proto  string
	log    *slog.Logger
	panics *panics.Counter
	// Metrics counts the sessions (set before Serve; nil: not counted).
	Metrics ProtocolMetrics

	mu      sync.Mutex
	live    map[*Session]struct{}
	closing bool
	wg      sync.WaitGroup
}

// Session is one tracked connection.
type Session struct {
	set  *Sessions
	conn net.Conn // the accepted connection; deadlines set on it reach a TLS layer above
	idle bool     // waiting for the client (guarded by set.mu)
}

// NewSessions returns the session set of one listener of proto ("imap"),
// reporting panics to log and p.
func NewSessions(proto string, log *slog.Logger, p *panics.Counter) *Sessions {
	return &Sessions{proto: proto, log: log, panics: p}
}

// Serve accepts connections on ln and runs handle for each in its own
// goroutine until ln is closed. handle owns the connection and must close
// it; if handle panics, Serve closes it.
func (ss *Sessions) Serve(ln net.Listener, handle func(c net.Conn, t *Session)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		t := ss.add(c)
		if t == nil {
			c.Close()
			continue
		}
		if ss.Metrics != nil {
			ss.Metrics.SessionOpened()
		}
		go func() {
			defer ss.wg.Done()
			if ss.Metrics != nil {
				defer ss.Metrics.SessionClosed()
			}
			defer ss.remove(t)
			defer ss.contain(c)
			handle(c, t)
		}()
	}
}

// contain, deferred by a session's goroutine, contains a panic to that
// session. The session's own deferred cleanups (unselect, lock release,
// Close) have run by now; closing again makes sure the client is not left
// waiting on a connection nobody reads.
func (ss *Sessions) contain(c net.Conn) {
	v := recover()
	if v == nil {
		return
	}
	c.Close()
	ss.panics.Report(ss.log, ss.proto+" session", v, "proto", ss.proto, "remote", c.RemoteAddr().String())
}

func (ss *Sessions) add(c net.Conn) *Session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return nil
	}
	if ss.live == nil {
		ss.live = map[*Session]struct{}{}
	}
	t := &Session{set: ss, conn: c}
	ss.live[t] = struct{}{}
	ss.wg.Add(1)
	return t
}

func (ss *Sessions) remove(t *Session) {
	ss.mu.Lock()
	delete(ss.live, t)
	ss.mu.Unlock()
}

// Closing reports whether Shutdown has begun.
func (ss *Sessions) Closing() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closing
}

// Idle marks the session as waiting for the client for up to timeout. It
// returns false, without waiting, once a shutdown has begun.
func (t *Session) Idle(timeout time.Duration) bool {
	t.set.mu.Lock()
	defer t.set.mu.Unlock()
	if t.set.closing {
		return false
	}
	t.idle = true
	t.conn.SetReadDeadline(time.Now().Add(timeout))
	return true
}

// Busy marks the session as working on a command: a shutdown lets it finish.
func (t *Session) Busy() {
	t.set.mu.Lock()
	t.idle = false
	t.set.mu.Unlock()
}

// Shutdown stops tracking new connections, ends idle sessions at once (their
// pending read fails; the session says goodbye as its protocol wants), waits
// for the others until ctx ends, then closes what is left.
func (ss *Sessions) Shutdown(ctx context.Context) error {
	ss.mu.Lock()
	ss.closing = true
	for t := range ss.live {
		if t.idle {
			t.conn.SetReadDeadline(time.Now())
		}
	}
	ss.mu.Unlock()
	done := make(chan struct{})
	go func() { ss.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		ss.mu.Lock()
		for t := range ss.live {
			t.conn.Close()
		}
		ss.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
