package web

import (
	"net/http"

	"mailroom/internal/listener"
)

// health answers a load balancer's health check: 200 when this node's
// store answers, 503 when it does not (the database is away, or this
// node lost its connections to it). It needs no login and says nothing
// about accounts. A node shutting down stops accepting connections, which
// takes it out of the balancer's rotation as well. The metrics listener's
// /readyz makes the same store check (listener.CheckStore) and more.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := listener.CheckStore(r.Context(), s.opts.Store); err != nil {
		s.log.Warn("health check: store unavailable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store unavailable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}
