package web

import (
	"net"
	"net/http"
	"time"
)

// timed records each request's time under its route pattern ("GET
// /mail/{mailbox}"), which the mux sets on the request it is given; a
// request no route matched is "other". Patterns come from the code, so a
// client cannot make up new series.
func (s *Server) timed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		mux.ServeHTTP(w, r)
		s.opts.Metrics.Command(r.Pattern, time.Since(start))
	})
}

// countConn counts the web's sessions as its connections (a browser
// keeps a few open), for the metrics.
func (s *Server) countConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.opts.Metrics.SessionOpened()
	case http.StateClosed, http.StateHijacked:
		s.opts.Metrics.SessionClosed()
	}
}
