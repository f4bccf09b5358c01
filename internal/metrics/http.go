package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ReadyTimeout bounds a readiness check: a load balancer waits no longer
// than its own timeout anyway, and a slow store is not a ready one.
const ReadyTimeout = 2 * time.Second

// Server is the listen.metrics listener: /metrics, /healthz and /readyz.
// It has no authentication; bind it to loopback or a private network.
type Server struct {
	http *http.Server
}

// NewServer serves m's metrics. ready says whether the server should get
// traffic (nil: it should); its error's text, a short reason for an
// unauthenticated client, is the 503's body. wrap, if
// not nil, wraps the handler (the server contains panics with it).
func NewServer(m *Metrics, ready func(context.Context) error, log *slog.Logger, wrap func(http.Handler) http.Handler) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	// Alive: this process accepts and answers a request. Nothing else is
	// asked, so that an orchestrator does not restart a server whose
	// database is away (restarting would not bring it back).
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				plain(w, http.StatusServiceUnavailable, err.Error())
				return
			}
		}
		plain(w, http.StatusOK, "ready")
	})
	var h http.Handler = mux
	if wrap != nil {
		h = wrap(h)
	}
	return &Server{http: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(body + "\n"))
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the listener; a scrape in progress may finish until ctx
// ends, and is cut then.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		// http.Server closes the listeners Serve still tracks; the one
		// internal/server closed first may be among them, its Serve not
		// having returned yet. Closed twice is still closed, and Shutdown
		// has drained the connections all the same.
		return nil
	}
	if err != nil {
		s.http.Close()
	}
	return err
}
