package dmarcrpt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"mailroom/internal/resolver"
)

// Mailer delivers a message through our own delivery (local mailbox or
// outbound queue). *delivery.Agent is the real one.
type Mailer interface {
	DeliverNotice(ctx context.Context, to string, msg io.Reader) error
}

// TXTResolver looks up TXT records; *resolver.Resolver is the real one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ReporterConfig configures a Reporter.
type ReporterConfig struct {
	Recorder  *Recorder
	Resolver  TXTResolver
	Mailer    Mailer
	Submitter string // our host name: org_name
	From      string // the reports' From and email; should be DKIM-signed
	// Every is how often Run saves and looks for finished days; 0 means
	// ten minutes. After is its clock; nil means time.After.
	Every  time.Duration
	After  func(time.Duration) <-chan time.Time
	Now    func() time.Time
	Logger *slog.Logger
}

// Reporter mails each finished day's reports. Run it in the background.
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reporter{cfg: cfg, log: cfg.Logger.With("component", "dmarcrpt")}
}

// Run saves the records and sends finished days every cfg.Every until ctx
// ends, then saves once more.
func (r *Reporter) Run(ctx context.Context) error {
	for {
		if err := r.cfg.Recorder.Flush(); err != nil {
			r.log.Warn("saving DMARC report records", "err", err)
		}
		r.SendFinished(ctx)
		select {
		case <-ctx.Done():
			return r.cfg.Recorder.Flush()
		case <-r.cfg.After(r.cfg.Every):
		}
	}
}

// SendFinished sends every finished day's reports and forgets the day; a
// day with a temporary failure is tried again next round, for up to four
// days.
func (r *Reporter) SendFinished(ctx context.Context) {
	days, err := r.cfg.Recorder.Finished()
	if err != nil {
		r.log.Warn("listing DMARC report records", "err", err)
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
			if err := r.send(ctx, day.Day, domain, dr); err != nil {
				r.log.Info("DMARC report not sent: will retry", "day", day.Day, "domain", domain, "err", err)
				retry = true
				continue
			}
			dr.Sent = true
		}
		if retry && r.cfg.Now().Sub(day.Day.Start()) < 4*24*time.Hour {
			if err := r.cfg.Recorder.save(day); err != nil {
				r.log.Warn("saving DMARC report records", "day", day.Day, "err", err)
			}
			continue
		}
		if err := r.cfg.Recorder.Done(day.Day); err != nil {
			r.log.Warn("removing DMARC report records", "day", day.Day, "err", err)
		}
	}
}

// send mails one domain's report to the rua destinations its record names
// that agree to take it. An error is temporary.
func (r *Reporter) send(ctx context.Context, day Day, domain string, dr *DomainRecord) error {
	txts, err := r.cfg.Resolver.LookupTXT(ctx, "_dmarc."+domain)
	if resolver.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	dests := ParseRUA(txts)
	if len(dests) == 0 {
		return nil
	}
	rep := Build(day, domain, dr, r.cfg.Submitter, r.cfg.From)
	gz, err := rep.Gzip()
	if err != nil {
		return err
	}
	var firstErr error
	sent := 0
	for _, d := range dests {
		ok, err := r.accepts(ctx, domain, d.Address)
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		if !ok {
			r.log.Info("DMARC report destination does not accept reports for the domain", "domain", domain, "to", d.Address)
			continue
		}
		if d.Limit > 0 && int64(len(gz)) > d.Limit {
			r.log.Info("DMARC report larger than the destination's limit: not sent", "domain", domain, "to", d.Address,
				"size", len(gz), "limit", d.Limit)
			continue
		}
		if err := r.cfg.Mailer.DeliverNotice(ctx, d.Address, bytes.NewReader(rep.Message(gz, r.cfg.From, d.Address, r.cfg.Now()))); err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		sent++
		r.log.Info("DMARC report sent", "day", day, "domain", domain, "to", d.Address, "report_id", rep.ReportMetadata.ReportID)
	}
	if sent == 0 && firstErr != nil {
		return firstErr
	}
	return nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// accepts checks RFC 7489 section 7.1: a destination outside the policy
// domain's organizational domain must publish
// <domain>._report._dmarc.<destination domain> with a v=DMARC1 record, so
// that nobody can have reports sent to a third party.
func (r *Reporter) accepts(ctx context.Context, domain, addr string) (bool, error) {
	dest := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
	if orgDomain(dest) == orgDomain(domain) {
		return true, nil
	}
	txts, err := r.cfg.Resolver.LookupTXT(ctx, domain+"._report._dmarc."+dest)
	if resolver.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("verifying report destination %s: %w", dest, err)
	}
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, ";"); strings.TrimSpace(v) == "v=DMARC1" {
			return true, nil
		}
	}
	return false, nil
}

// orgDomain is the organizational domain (RFC 7489 section 3.2): one label
// below the public suffix.
func orgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}
