package smtp

import (
	"bytes"
	"context"
	"io"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/dmarcreport"
	"mailroom/internal/listener"
	"mailroom/internal/msgauth"
	"mailroom/internal/resolver"
	"mailroom/internal/store"
)

// SenderChecker evaluates who sent a message (internal/msgauth's Checker).
type SenderChecker interface {
	Check(ctx context.Context, m msgauth.Message) *msgauth.Result
	Verdict(r *msgauth.Result) msgauth.Verdict
}

// newSenderChecks builds the MX's sender checks from the configuration,
// and the DMARC reporter (nil if reports are off or there is no queue).
func newSenderChecks(d listener.Deps) (SenderChecker, *dmarcreport.Reporter) {
	cfg := d.Config
	res := resolver.New(cfg.DNS.Servers, cfg.DNS.Timeout.Std())
	var reporter *dmarcreport.Reporter
	if cfg.SMTP.DMARCReports && d.Queue != nil {
		reporter = dmarcreport.New(dmarcreport.Options{Store: d.Store, Outbound: d.Queue, Resolver: res,
			Hostname: cfg.Hostname, Logger: d.Logger.With("component", "dmarcreport")})
	}
	return msgauth.New(res, msgauth.Options{
		AuthservID:     authservID(cfg.SMTP, cfg.Hostname),
		TrustedSealers: cfg.SMTP.ARCTrustedSealers,
		DNSBL:          cfg.SMTP.DNSBL,
		Enforce:        cfg.SMTP.DMARCEnforce,
		TempErrorDefer: cfg.SMTP.DMARCTempError == "defer",
		Logger:         d.Logger,
		Panics:         d.Panics,
	}), reporter
}

// authservID is the name in our Authentication-Results fields.
func authservID(cfg config.SMTP, hostname string) string {
	if cfg.AuthservID != "" {
		return cfg.AuthservID
	}
	return hostname
}

// stripOwnResults removes incoming Authentication-Results fields that
// claim to be ours (RFC 8601 section 5).
func (s *session) stripOwnResults(hdr []byte) []byte {
	hdr, n := msgauth.StripOwnResults(hdr, authservID(s.srv.opts.Config, s.srv.opts.Hostname))
	if n > 0 {
		s.srv.log.Info("removed Authentication-Results fields claiming our authserv-id", append(s.logger(), "count", n)...)
	}
	return hdr
}

// submissionResults is the Authentication-Results field of a submission:
// the sender is who logged in (RFC 8601 2.7.4).
func (s *session) submissionResults() []byte {
	return []byte(msgauth.AuthResultsHeader(authservID(s.srv.opts.Config, s.srv.opts.Hostname),
		[]string{"auth=pass smtp.auth=" + s.principal.Email}))
}

// checkInbound is DATA on the MX: it stages the message as received
// (without forged results of ours), runs the sender checks on it, and
// returns the header fields that record them with the staged message, to
// be staged again behind the trace field. The first staging is the price
// of bounded memory: DKIM and ARC need the whole body before the header
// that records them can be written, and a message may be 50 MB.
//
// A message that DMARC policy rejects gets 550 5.7.1 here, at the end of
// DATA, and nothing is stored: no bounce goes to a forged sender.
func (s *session) checkInbound(body io.Reader) ([]byte, store.Staged, error) {
	hdr, rest, err := readHeader(body, headerLimit)
	if err != nil {
		return nil, nil, s.dataError(err)
	}
	hdr = s.stripOwnResults(hdr)
	raw, err := s.srv.opts.Store.Stage(s.ctx, io.MultiReader(bytes.NewReader(hdr), rest))
	if err != nil {
		return nil, nil, s.dataError(err)
	}
	res := s.srv.senders.Check(s.ctx, msgauth.Message{
		IP: s.remote, HELO: s.conn.Hostname(), MailFrom: s.env.From, Header: hdr, Open: raw.Open,
	})
	v := s.srv.senders.Verdict(res)
	if s.srv.opts.Reporter != nil {
		// Counted for the domain's daily aggregate report, refused or not.
		if row, ok := dmarcreport.Record(res, s.remote, time.Now()); ok {
			if err := s.srv.opts.Store.AddDMARCResult(s.ctx, row); err != nil {
				s.srv.log.Warn("DMARC result not recorded for reports", append(s.logger(), "err", err)...)
			}
		}
	}
	s.srv.log.Info("sender checks", append(s.logger(), "from", s.env.From, "spf", res.SPF.Result,
		"dkim", dkimSummary(res.DKIM), "dmarc", res.DMARC.Result, "dmarc_domain", res.DMARC.FromDomain,
		"dmarc_disposition", string(res.DMARC.Disposition), "arc", res.ARC.Result, "iprev", res.IPRev.Result,
		"quarantine", v.Quarantine)...)
	switch v.Action {
	case msgauth.Reject:
		raw.Discard()
		s.srv.log.Warn("message refused by sender checks", append(s.logger(), "from", s.env.From, "reason", v.Reply)...)
		return nil, nil, smtpError(550, [3]int{5, 7, 1}, v.Reply)
	case msgauth.Defer:
		raw.Discard()
		return nil, nil, smtpError(451, [3]int{4, 4, 3}, v.Reply)
	case msgauth.Quarantine:
		s.env.Quarantine = append(s.env.Quarantine, v.Quarantine...)
	}
	id := authservID(s.srv.opts.Config, s.srv.opts.Hostname)
	return []byte(res.Header(id) + res.DNSBLHeader()), raw, nil
}

func dkimSummary(ds []msgauth.DKIMResult) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Result+":"+d.Domain)
	}
	return out
}
