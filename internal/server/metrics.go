package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"mailroom/internal/listener"
	"mailroom/internal/metrics"
)

// instrument hands the registry to what reports to it besides the store
// and the authenticator (done in New): the panic count and the queue.
func (s *Server) instrument(mx *metrics.Metrics) {
	s.deps.Metrics = protocolMetrics{mx}
	pc := s.deps.Panics
	mx.Counter("panics_recovered_total", "Panics recovered in sessions, requests and workers (each is logged with its stack).",
		func() float64 { return float64(pc.Count()) })
	st := s.deps.Store
	mx.WatchQueue(func(ctx context.Context) (int, int, time.Time, error) {
		qs, err := st.QueueStats(ctx)
		return qs.Messages, qs.Recipients, qs.Oldest, err
	})
}

// protocolMetrics adapts the registry to what the protocols ask
// (listener.Metrics), so that they do not import internal/metrics.
type protocolMetrics struct{ m *metrics.Metrics }

func (p protocolMetrics) Protocol(proto string, commands []string) listener.ProtocolMetrics {
	return p.m.Protocol(proto, commands)
}

func (p protocolMetrics) Deliveries(proto string) listener.DeliveryMetrics {
	return p.m.Deliveries(proto)
}

// metricsFactory builds the listen.metrics listener.
func (s *Server) metricsFactory(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
	if implicitTLS {
		return nil, errors.New("the metrics listener does not speak TLS")
	}
	log := d.Logger.With("proto", "metrics")
	return metrics.NewServer(s.metrics, s.ready, log, func(h http.Handler) http.Handler {
		return listener.RecoverHTTP("metrics", log, d.Panics, h)
	}), nil
}

// ready is /readyz: the server should get traffic when every listener
// has started, it is not shutting down, and the store answers.
func (s *Server) ready(ctx context.Context) error {
	switch {
	case s.draining.Load():
		return errors.New("draining for shutdown")
	case !s.started.Load():
		return errors.New("starting: listeners not all started")
	}
	if err := listener.CheckStore(ctx, s.deps.Store); err != nil {
		// The cause goes to the log; the unauthenticated probe gets the
		// short reason only.
		s.deps.Logger.Warn("not ready", "err", err)
		return errors.New("store unavailable")
	}
	return nil
}
