// Package debugserver serves Go's profiler and runtime figures on the
// listen.debug address, for operators measuring Mailroom under load:
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/heap
//	curl http://127.0.0.1:6060/debug/vars                 # memstats, mailroom.panics
//	curl http://127.0.0.1:6060/debug/pprof/goroutine?debug=1
//
// It has no authentication: bind it to loopback only.
package debugserver

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"mailroom/internal/listener"
	"mailroom/internal/panics"
)

// Factory returns the listener.Factory for listen.debug.
func Factory() listener.Factory {
	return func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
		if implicitTLS {
			return nil, errors.New("the debug listener does not speak TLS")
		}
		return New(d.Logger, d.Panics), nil
	}
}

// Server serves /debug/pprof/ and /debug/vars.
type Server struct {
	http *http.Server
	vars *expvar.Map // this server's figures, under "mailroom"
}

// New returns a debug server whose /debug/vars also shows the server's
// panic count (p may be nil: no server figures).
func New(log *slog.Logger, p *panics.Counter) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The server's own figures are not published in expvar's global
	// registry: expvar.Publish panics on a name published twice, and tests
	// run several servers in one process. They are added to the global
	// ones (memstats, cmdline) when /debug/vars is served.
	vars := new(expvar.Map)
	if p != nil {
		vars.Set("panics", expvar.Func(func() any { return p.Count() }))
	}
	s := &Server{vars: vars}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/vars", s.serveVars)
	log = log.With("proto", "debug")
	s.http = &http.Server{
		Handler:           listener.RecoverHTTP("debug", log, p, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// varsKey is where the server's own figures appear in /debug/vars.
const varsKey = "mailroom"

// serveVars writes what expvar.Handler writes (every published variable
// as one JSON object) plus this server's figures under "mailroom".
func (s *Server) serveVars(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fmt.Fprintf(w, "{\n")
	first := true
	field := func(key, value string) {
		if !first {
			fmt.Fprintf(w, ",\n")
		}
		first = false
		fmt.Fprintf(w, "%q: %s", key, value)
	}
	expvar.Do(func(kv expvar.KeyValue) {
		if kv.Key != varsKey { // ours win over a global of the same name
			field(kv.Key, kv.Value.String())
		}
	})
	field(varsKey, s.vars.String())
	fmt.Fprintf(w, "\n}\n")
}

// Serve implements listener.Protocol.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown implements listener.Protocol. Profiles in progress are cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.http.Close()
}
