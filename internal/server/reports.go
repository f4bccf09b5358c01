package server

import (
	"context"
	"errors"

	"mailroom/internal/jmap/mailapi"
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

// reportsFrom is the From address of reports: the configured one, or
// postmaster@hostname.
func reportsFrom(from, hostname string) string {
	if from != "" {
		return from
	}
	return "postmaster@" + hostname
}

// startReports runs the background tasks every node runs: the releaser of
// held JMAP submissions, and the daily TLS-RPT reporter (RFC 8460) when the queue
// records TLS outcomes: it saves its records every few minutes and, after
// midnight UTC, mails (or posts) each finished day's reports through the
// delivery agent. Every node runs one: their counts add up in the store,
// and a lease lets one node at a time send. (DMARC aggregate reports come from the MX listener,
// internal/dmarcreport, out of the store.)
func (s *Server) startReports() {
	cfg := s.deps.Config
	res := resolver.New(cfg.DNS.Servers, 0)
	var bgs []*background
	if rec := s.deps.Queue.TLSReports(); rec != nil {
		r := tlsrpt.NewReporter(tlsrpt.ReporterConfig{
			Recorder: rec, Resolver: res, Mailer: s.deps.Delivery, Submitter: cfg.Hostname,
			From: reportsFrom(cfg.TLSReports.From, cfg.Hostname), Logger: s.deps.Logger,
			Leases: s.deps.Store, // one node sends each day's reports
		})
		bgs = append(bgs, runBackground(r.Run))
	}
	// Held JMAP submissions (FUTURERELEASE): every node runs the
	// releaser, a claim per submission lets one send it.
	bgs = append(bgs, runBackground(mailapi.NewReleaser(mailapi.ReleaserOptions{Store: s.deps.Store, Delivery: s.deps.Delivery,
		Logger: s.deps.Logger}).Run))
	if f := s.deps.Fetch; f != nil {
		// Collecting mail from other servers ([fetch]): every node runs
		// the schedule, a lease per source lets one at a time collect it.
		bgs = append(bgs, runBackground(f.Run))
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
