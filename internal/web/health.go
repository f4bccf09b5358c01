package web

import (
	"context"
	"net/http"
	"time"
)

// healthTimeout bounds the store check: a load balancer waits no longer
// than its own timeout anyway, and a slow store is not a healthy one.
const healthTimeout = 2 * time.Second

// health answers a load balancer's health check: 200 when this node's
// store answers, 503 when it does not (the database is away, or this
// node lost its connections to it). It needs no login and says nothing
// about accounts. A node shutting down stops accepting connections, which
// takes it out of the balancer's rotation as well.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.opts.Store.Ping(ctx); err != nil {
		s.log.Warn("health check: store unavailable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store unavailable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}
