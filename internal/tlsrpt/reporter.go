package tlsrpt

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"mailroom/internal/resolver"
)

// Mailer delivers a message to an address through our own delivery: a
// local mailbox or the outbound queue. *delivery.Agent is the real one.
type Mailer interface {
	DeliverNotice(ctx context.Context, to string, msg io.Reader) error
}

// TXTResolver looks up TXT records; *resolver.Resolver is the real one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Leases are named expiring locks shared by every node (store.Leases):
// one node at a time sends the reports.
type Leases interface {
	AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// sendLease is the lease the node sending the reports holds, and
// sendLeaseFor how long it holds it without renewing: longer than one
// report takes to send (a DNS lookup, a mail queued or an HTTPS POST of at
// most a minute).
const (
	sendLease    = "tlsrpt/send"
	sendLeaseFor = 5 * time.Minute
)

// ReporterConfig configures a Reporter.
type ReporterConfig struct {
	Recorder *Recorder
	Resolver TXTResolver
	Mailer   Mailer
	// Submitter is our host name: the report's organization-name and
	// the TLS-Report-Submitter.
	Submitter string
	// From is the reports' From address and contact-info. Reports must
	// be DKIM-signed (RFC 8460 section 5.3), so it should be in a domain
	// this server signs for.
	From string
	// HTTP posts reports to https: destinations; nil: a client with a
	// one-minute timeout and the system's CAs.
	HTTP *http.Client
	// Every is how often Run saves the day's records and looks for
	// finished days to report; 0 means ten minutes.
	Every time.Duration
	// Grace is how long after a day ends its reports wait, for every
	// node to have saved its last counts of it (each saves every Every);
	// 0 means twice Every.
	Grace time.Duration
	// Leases make one node send each day's reports when several run
	// (the store); nil: this node alone sends them.
	Leases Leases
	// After is the clock Run waits on; nil means time.After. Tests drive
	// it.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
}

// Reporter sends each finished day's reports. Run it in the background,
// on every node: they save their counts into the same days, and one at a
// time sends them.
type Reporter struct {
	cfg   ReporterConfig
	log   *slog.Logger
	owner string // this reporter's name as the holder of sendLease
}

// NewReporter returns a Reporter.
func NewReporter(cfg ReporterConfig) *Reporter {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Minute
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * cfg.Every
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: time.Minute}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reporter{cfg: cfg, log: cfg.Logger.With("component", "tlsrpt"), owner: "tlsrpt-" + rand.Text()}
}

// Run saves the records and sends finished days' reports every
// cfg.Every until ctx ends, then saves once more.
func (r *Reporter) Run(ctx context.Context) error {
	for {
		if err := r.cfg.Recorder.Flush(ctx); err != nil {
			r.log.Warn("saving TLS-RPT records", "err", err)
		}
		r.SendFinished(ctx)
		select {
		case <-ctx.Done():
			// The last save outlives the server's context, briefly.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			return r.cfg.Recorder.Flush(fctx)
		case <-r.cfg.After(r.cfg.Every):
		}
	}
}

// SendFinished sends the reports of every finished day to the domains
// that ask for them, and marks the day reported. With Leases, one node at
// a time does it, and each domain's report is marked sent in the store as
// soon as it went out, so that a node taking over after another died
// sends the rest only. A day whose reports could not all be sent is tried
// again at the next round, for up to three days: reports are for trends,
// and an old one helps nobody.
func (r *Reporter) SendFinished(ctx context.Context) {
	rec := r.cfg.Recorder
	if !r.lease(ctx) {
		return
	}
	if r.cfg.Leases != nil {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := r.cfg.Leases.ReleaseLease(rctx, sendLease, r.owner); err != nil {
				r.log.Warn("releasing the TLS-RPT lease", "err", err)
			}
		}()
	}
	days, err := rec.Finished(ctx)
	if err != nil {
		r.log.Warn("listing TLS-RPT records", "err", err)
		return
	}
	for _, day := range days {
		if rec.now().Before(day.Day.Start().Add(24*time.Hour + r.cfg.Grace)) {
			continue // another node may still save counts of it
		}
		retry := false
		for _, domain := range slices.Sorted(maps.Keys(day.Domains)) {
			dr := day.Domains[domain]
			if ctx.Err() != nil {
				return
			}
			if dr.Sent {
				continue
			}
			if !r.lease(ctx) {
				return // lost it: another node goes on
			}
			switch err := r.send(ctx, day.Day, domain, dr); {
			case err == nil:
				r.markSent(ctx, day.Day, domain)
			case isTemporary(err):
				r.log.Info("TLS-RPT report not sent: will retry", "day", day.Day, "domain", domain, "err", err)
				retry = true
			default:
				r.log.Info("TLS-RPT report not sent", "day", day.Day, "domain", domain, "err", err)
				r.markSent(ctx, day.Day, domain)
			}
		}
		if retry && rec.now().Sub(day.Day.Start()) < 4*24*time.Hour {
			continue
		}
		if err := rec.Done(ctx, day.Day); err != nil {
			r.log.Warn("marking TLS-RPT records reported", "day", day.Day, "err", err)
		}
	}
}

// lease takes or renews sendLease; without Leases this node is the only
// one.
func (r *Reporter) lease(ctx context.Context) bool {
	if r.cfg.Leases == nil {
		return true
	}
	ok, err := r.cfg.Leases.AcquireLease(ctx, sendLease, r.owner, time.Now().Add(sendLeaseFor))
	if err != nil {
		r.log.Warn("taking the TLS-RPT lease", "err", err)
	}
	return ok && err == nil
}

func (r *Reporter) markSent(ctx context.Context, day Day, domain string) {
	if err := r.cfg.Recorder.MarkSent(ctx, day, domain); err != nil {
		r.log.Warn("marking a TLS-RPT report sent", "day", day, "domain", domain, "err", err)
	}
}

// temporary marks an error worth retrying.
type temporary struct{ error }

func (t temporary) Unwrap() error { return t.error }

func isTemporary(err error) bool {
	_, ok := err.(temporary)
	return ok
}

// send sends one domain's report for day to each destination of its
// _smtp._tls record. A domain without one wants no report.
func (r *Reporter) send(ctx context.Context, day Day, domain string, dr *DomainRecord) error {
	txts, err := r.cfg.Resolver.LookupTXT(ctx, "_smtp._tls."+domain)
	if err != nil {
		if resolver.IsNotFound(err) {
			return nil
		}
		return temporary{fmt.Errorf("looking up _smtp._tls.%s: %w", domain, err)}
	}
	rua, ok := ParseRecord(txts)
	if !ok {
		return nil
	}
	rep := Build(day, domain, dr, r.cfg.Submitter, r.cfg.From)
	var errs []error
	sent := 0
	for _, u := range rua {
		var err error
		if strings.HasPrefix(strings.ToLower(u), "mailto:") {
			err = r.mail(ctx, rep, domain, u)
		} else {
			err = r.post(ctx, rep, u)
		}
		if err != nil {
			r.log.Info("TLS-RPT report not delivered", "domain", domain, "to", u, "err", err)
			errs = append(errs, err)
			continue
		}
		sent++
		r.log.Info("TLS-RPT report sent", "day", day, "domain", domain, "to", u, "report_id", rep.ReportID)
	}
	if sent == 0 && len(errs) > 0 {
		// Every destination failed; the next round tries again.
		return temporary{errs[0]}
	}
	return nil
}

func (r *Reporter) mail(ctx context.Context, rep *Report, domain, uri string) error {
	to, err := mailtoAddress(uri)
	if err != nil {
		return err
	}
	msg, err := rep.Message(domain, r.cfg.From, to, time.Now())
	if err != nil {
		return err
	}
	return r.cfg.Mailer.DeliverNotice(ctx, to, bytes.NewReader(msg))
}

// post sends the report by HTTPS POST (RFC 8460 section 5.4).
func (r *Reporter) post(ctx context.Context, rep *Report, url string) error {
	gz, err := rep.Gzip()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(gz))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	resp, err := r.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("posting to %s: %w", url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting to %s: HTTP status %s", url, resp.Status)
	}
	return nil
}
