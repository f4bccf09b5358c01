// Package debugserver serves Go's profiler and runtime figures on the
// listen.debug address, for operators measuring Mailroom under load:
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/heap
//	curl http://127.0.0.1:6060/debug/vars                 # memstats
//	curl http://127.0.0.1:6060/debug/pprof/goroutine?debug=1
//
// It has no authentication: bind it to loopback only.
package debugserver

import (
	"context"
	"errors"
	"expvar"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"mailroom/internal/server"
)

// Factory returns the server.Factory for listen.debug.
func Factory() server.Factory {
	return func(d server.Deps, implicitTLS bool) (server.Protocol, error) {
		if implicitTLS {
			return nil, errors.New("the debug listener does not speak TLS")
		}
		return New(), nil
	}
}

// Server serves /debug/pprof/ and /debug/vars.
type Server struct {
	http *http.Server
}

// New returns a debug server.
func New() *Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	return &Server{http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
}

// Serve implements server.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown implements server.Protocol. Profiles in progress are cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.http.Close()
}
