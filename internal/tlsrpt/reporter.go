package tlsrpt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	// After is the clock Run waits on; nil means time.After. Tests drive
	// it.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
}

// Reporter sends each finished day's reports. Run it in the background.
type Reporter struct {
	cfg ReporterConfig
	log *slog.Logger
}

// NewReporter returns a Reporter.
func NewReporter(cfg ReporterConfig) *Reporter {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Minute
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
	return &Reporter{cfg: cfg, log: cfg.Logger.With("component", "tlsrpt")}
}

// Run saves the records and sends finished days' reports every
// cfg.Every until ctx ends, then saves once more.
func (r *Reporter) Run(ctx context.Context) error {
	for {
		if err := r.cfg.Recorder.Flush(); err != nil {
			r.log.Warn("saving TLS-RPT records", "err", err)
		}
		r.SendFinished(ctx)
		select {
		case <-ctx.Done():
			if err := r.cfg.Recorder.Flush(); err != nil {
				return err
			}
			return nil
		case <-r.cfg.After(r.cfg.Every):
		}
	}
}

// SendFinished sends the reports of every finished day to the domains
// that ask for them, and forgets the day. A day whose reports could not
// all be sent is tried again at the next round, for up to three days:
// reports are for trends, and an old one helps nobody.
func (r *Reporter) SendFinished(ctx context.Context) {
	days, err := r.cfg.Recorder.Finished()
	if err != nil {
		r.log.Warn("listing TLS-RPT records", "err", err)
		return
	}
	for _, day := range days {
		retry := false
		for domain, dr := range day.Domains {
			if ctx.Err() != nil {
				return
			}
			if dr.Sent {
				continue
			}
			switch err := r.send(ctx, day.Day, domain, dr); {
			case err == nil:
				dr.Sent = true
			case isTemporary(err):
				r.log.Info("TLS-RPT report not sent: will retry", "day", day.Day, "domain", domain, "err", err)
				retry = true
			default:
				r.log.Info("TLS-RPT report not sent", "day", day.Day, "domain", domain, "err", err)
				dr.Sent = true
			}
		}
		if retry && r.cfg.Recorder.now().Sub(day.Day.Start()) < 4*24*time.Hour {
			if err := r.cfg.Recorder.save(day); err != nil {
				r.log.Warn("saving TLS-RPT records", "day", day.Day, "err", err)
			}
			continue
		}
		if err := r.cfg.Recorder.Done(day.Day); err != nil {
			r.log.Warn("removing TLS-RPT records", "day", day.Day, "err", err)
		}
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
