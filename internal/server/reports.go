package server

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"mailroom/internal/config"
	"mailroom/internal/dmarcrpt"
	"mailroom/internal/resolver"
	"mailroom/internal/tlsrpt"
)

// background is a task that runs until its context is cancelled.
type background struct {
	stop context.CancelFunc
	done chan error
}

func runBackground(run func(context.Context) error) *background {
	ctx, stop := context.WithCancel(context.Background())
	bg := &background{stop: stop, done: make(chan error, 1)}
	go func() { bg.done <- run(ctx) }()
	return bg
}

// DMARCReportDir is where a data directory keeps DMARC report records
// until they are sent.
func DMARCReportDir(dataDir string) string { return filepath.Join(dataDir, "dmarcrpt") }

// newDMARCRecorder returns the recorder the inbound DMARC check reports
// to, nil when dmarc_reports.enabled is off.
func newDMARCRecorder(cfg config.Config, logger *slog.Logger) *dmarcrpt.Recorder {
	if !cfg.DMARCReports.Enabled {
		return nil
	}
	return dmarcrpt.NewRecorder(DMARCReportDir(cfg.DataDir), nil, logger.With("component", "dmarcrpt"))
}

// reportsFrom is the From address of reports: the configured one, or
// postmaster@hostname.
func reportsFrom(from, hostname string) string {
	if from != "" {
		return from
	}
	return "postmaster@" + hostname
}

// startReports runs the daily reporters: TLS-RPT (RFC 8460) when the
// queue records TLS outcomes, DMARC aggregate reports (RFC 7489) when
// inbound DMARC outcomes are recorded. Each saves its records every few
// minutes and, after midnight UTC, mails (or posts) each finished day's
// reports through the delivery agent.
func (s *Server) startReports() {
	cfg := s.deps.Config
	res := resolver.New(cfg.DNS.Servers, 0)
	var bgs []*background
	if rec := s.deps.Queue.TLSReports(); rec != nil {
		r := tlsrpt.NewReporter(tlsrpt.ReporterConfig{
			Recorder: rec, Resolver: res, Mailer: s.deps.Delivery, Submitter: cfg.Hostname,
			From: reportsFrom(cfg.TLSReports.From, cfg.Hostname), Logger: s.deps.Logger,
		})
		bgs = append(bgs, runBackground(r.Run))
	}
	if rec := s.deps.DMARCReports; rec != nil {
		r := dmarcrpt.NewReporter(dmarcrpt.ReporterConfig{
			Recorder: rec, Resolver: res, Mailer: s.deps.Delivery, Submitter: cfg.Hostname,
			From: reportsFrom(cfg.DMARCReports.From, cfg.Hostname), Logger: s.deps.Logger,
		})
		bgs = append(bgs, runBackground(r.Run))
	}
	s.mu.Lock()
	s.reports = bgs
	s.mu.Unlock()
}

// stopReports stops the reporters, which save today's records first.
func (s *Server) stopReports() error {
	s.mu.Lock()
	bgs := s.reports
	s.reports = nil
	s.mu.Unlock()
	var errs []error
	for _, bg := range bgs {
		bg.stop()
		errs = append(errs, <-bg.done)
	}
	return errors.Join(errs...)
}
