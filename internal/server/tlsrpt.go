package server

import (
	"context"

	"mailroom/internal/resolver"
	"mailroom/internal/tlsrpt"
)

// background is a task that runs until its context is cancelled.
type background struct {
	stop context.CancelFunc
	done chan error
}

// startTLSReports runs the daily TLS-RPT reporter (RFC 8460) when the
// queue records TLS outcomes: it saves the records every few minutes and,
// after midnight UTC, mails or posts each finished day's reports through
// the delivery agent.
func (s *Server) startTLSReports() {
	rec := s.deps.Queue.TLSReports()
	if rec == nil {
		return
	}
	cfg := s.deps.Config
	from := cfg.TLSReports.From
	if from == "" {
		from = "postmaster@" + cfg.Hostname
	}
	r := tlsrpt.NewReporter(tlsrpt.ReporterConfig{
		Recorder:  rec,
		Resolver:  resolver.New(cfg.DNS.Servers, 0),
		Mailer:    s.deps.Delivery,
		Submitter: cfg.Hostname,
		From:      from,
		Logger:    s.deps.Logger,
	})
	ctx, stop := context.WithCancel(context.Background())
	bg := &background{stop: stop, done: make(chan error, 1)}
	go func() { bg.done <- r.Run(ctx) }()
	s.mu.Lock()
	s.tlsReports = bg
	s.mu.Unlock()
}

// stopTLSReports stops the reporter, which saves today's records first.
func (s *Server) stopTLSReports() error {
	s.mu.Lock()
	bg := s.tlsReports
	s.tlsReports = nil
	s.mu.Unlock()
	if bg == nil {
		return nil
	}
	bg.stop()
	return <-bg.done
}
