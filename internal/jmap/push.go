package jmap

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StateChange is the push object (RFC 8620 §7.1): for each account, the
// new state of each type that changed.
type StateChange struct {
	Type    string                       `json:"@type"`
	Changed map[string]map[string]string `json:"changed"`
	// PushState is set on WebSocket pushes only (RFC 8887 §4.3.5.2).
	PushState string `json:"pushState,omitempty"`
}

// pusher follows one user's states and reports what changed, filtered by
// the types the client asked for (nil: every type). EventSource and
// WebSocket share it.
type pusher struct {
	s     *Server
	u     User
	types map[string]bool
	last  map[string]map[string]string
	wake  chan struct{}
	stop  func()
}

// newPusher starts watching before it reads the baseline, so no change
// between the two is lost.
func (s *Server) newPusher(ctx context.Context, u User, types map[string]bool, since map[string]map[string]string) (*pusher, error) {
	p := &pusher{s: s, u: u, types: types, wake: make(chan struct{}, 1)}
	p.stop = s.opts.States.Watch(u, func() {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	})
	if since != nil {
		p.last = since
		p.poke()
		return p, nil
	}
	last, err := s.opts.States.States(ctx, u, types)
	if err != nil {
		p.stop()
		return nil, err
	}
	p.last = last
	return p, nil
}

// poke makes the next read compare the states at once.
func (p *pusher) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// diff reads the states and returns what changed since the last call,
// among the types asked for (nil if nothing did).
func (p *pusher) diff(ctx context.Context) (map[string]map[string]string, error) {
	now, err := p.s.opts.States.States(ctx, p.u, p.types)
	if err != nil {
		return nil, err
	}
	var changed map[string]map[string]string
	for acct, types := range now {
		for typ, state := range types {
			if p.types != nil && !p.types[typ] {
				continue
			}
			if p.last[acct][typ] == state {
				continue
			}
			if changed == nil {
				changed = map[string]map[string]string{}
			}
			if changed[acct] == nil {
				changed[acct] = map[string]string{}
			}
			changed[acct][typ] = state
		}
	}
	p.last = now
	return changed, nil
}

// parseTypes reads a types list: "*" (or empty) is every type.
func parseTypes(s string) map[string]bool {
	if s == "" || s == "*" {
		return nil
	}
	types := map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			types[t] = true
		}
	}
	return types
}

// Ping intervals: RFC 8620 §7.3 lets the server bound what the client asks.
const (
	minPing = 5 * time.Second
	maxPing = 10 * time.Minute
)

// serveEventSource pushes state changes as server-sent events (RFC 8620
// §7.3): "state" events with a StateChange, "ping" events if asked.
func (s *Server) serveEventSource(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "the event source is read with GET", http.StatusMethodNotAllowed)
		return
	}
	u, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	closeAfter := q.Get("closeafter")
	if closeAfter == "" {
		closeAfter = "no"
	}
	if closeAfter != "state" && closeAfter != "no" {
		http.Error(w, `closeafter is "state" or "no"`, http.StatusBadRequest)
		return
	}
	var ping time.Duration
	if v := q.Get("ping"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			http.Error(w, "ping is a number of seconds", http.StatusBadRequest)
			return
		}
		ping = time.Duration(n) * time.Second
		if ping > 0 {
			ping = min(max(ping, minPing), maxPing)
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not possible on this connection", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	p, err := s.newPusher(ctx, u, parseTypes(q.Get("types")), nil)
	if err != nil {
		s.log.Error("jmap: event source", "account", u.Email, "err", err)
		http.Error(w, "the server could not read the states", http.StatusServiceUnavailable)
		return
	}
	defer p.stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	var tick <-chan time.Time
	if ping > 0 {
		t := time.NewTicker(ping)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if _, err := fmt.Fprintf(w, "event: ping\ndata: {\"interval\":%d}\n\n", int(ping/time.Second)); err != nil {
				return
			}
			flusher.Flush()
		case <-p.wake:
			changed, err := p.diff(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("jmap: event source states", "account", u.Email, "err", err)
				}
				continue
			}
			if changed == nil {
				continue
			}
			b, _ := jsonMarshal(StateChange{Type: "StateChange", Changed: changed})
			if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
				return
			}
			flusher.Flush()
			if closeAfter == "state" {
				return
			}
		}
	}
}
