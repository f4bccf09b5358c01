package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"strings"

	"github.com/miekg/dns"

	"mailroom/internal/mtasts"
	"mailroom/internal/resolver"
	"mailroom/internal/tlsrpt"
)

// TLSRecorder is told what became of TLS in each session with an MX host
// and of each policy lookup that failed, for TLS-RPT (RFC 8460).
// *tlsrpt.Recorder is the real one.
type TLSRecorder interface {
	RecordTLS(tlsrpt.Outcome)
}

// destPolicy is the MTA-STS policy of a destination domain.
type destPolicy struct {
	domain string
	sts    *mtasts.Policy // nil: none in force
	cached bool           // sts came from the cache without a fetch
}

// hopPolicy is how TLS with one MX host must go, and how to report it.
type hopPolicy struct {
	domain string
	mode   tlsMode
	// kind is the TLS-RPT policy type; strings and mxPatterns describe
	// the policy in reports.
	kind       string
	strings    []string
	mxPatterns []string
	// testing: an MTA-STS policy in testing mode. TLS is opportunistic,
	// but the certificate is checked as enforce would and failures are
	// reported (RFC 8461 section 5).
	testing bool
	// unlisted: the host matches no mx pattern of a testing policy; that
	// is reported once, and its sessions are not.
	unlisted bool
	// tlsa are the usable TLSA records when mode is tlsDANE; none means
	// TLS is mandatory but unauthenticated (RFC 7672 section 2.2).
	tlsa []*dns.TLSA
	// base is the TLSA base domain (the MX host, or the target of its
	// secure CNAME), the name sent in SNI; names are those a DANE-TA
	// certificate may carry (RFC 7672 section 3.2.2).
	base  string
	names []string
}

// domainPolicy finds domain's MTA-STS policy.
func (c *Client) domainPolicy(ctx context.Context, domain string, log *slog.Logger) *destPolicy {
	dp := &destPolicy{domain: strings.ToLower(strings.TrimSuffix(domain, "."))}
	if c.sts == nil || strings.HasPrefix(dp.domain, "[") {
		return dp
	}
	r := c.sts.Lookup(ctx, dp.domain)
	if r.Err != nil {
		c.record(tlsrpt.Outcome{PolicyDomain: dp.domain, PolicyType: tlsrpt.PolicySTS,
			ResultType: mtasts.ErrorType(r.Err), Detail: r.Err.Error()})
	}
	dp.sts, dp.cached = r.Policy, r.Cached && !r.FetchFailed
	if dp.sts != nil {
		log.Info("MTA-STS policy", "mode", dp.sts.Mode, "mx", dp.sts.MX, "cached", r.Cached)
	}
	return dp
}

// refreshPolicy fetches the domain's policy again, bypassing the cache,
// and reports whether it changed.
func (c *Client) refreshPolicy(ctx context.Context, dp *destPolicy, log *slog.Logger) bool {
	r := c.sts.Refresh(ctx, dp.domain)
	dp.cached = false
	if r.Cached || (r.Policy != nil && dp.sts != nil && r.Policy.Text == dp.sts.Text) {
		return false
	}
	log.Info("MTA-STS policy changed: trying again", "mode", policyMode(r.Policy))
	dp.sts = r.Policy
	return true
}

func policyMode(p *mtasts.Policy) mtasts.Mode {
	if p == nil {
		return mtasts.None
	}
	return p.Mode
}

// hostPolicy decides TLS for one MX host: DANE if the host has
// authenticated TLSA records, else the domain's MTA-STS policy, else
// opportunistic TLS (RFC 8461 section 2: DANE takes precedence). secure
// says the MX and address lookups were authenticated; canonical is the
// target of the host's CNAME, if any. A hostFailure means the host must
// not be tried.
func (c *Client) hostPolicy(ctx context.Context, dp *destPolicy, h mxHost, secure bool, canonical string, log *slog.Logger) (*hopPolicy, *hostFailure) {
	hp := &hopPolicy{domain: dp.domain, mode: tlsOpportunistic, kind: tlsrpt.PolicyNone}
	if secure {
		recs, ok, base, err := c.lookupTLSA(ctx, h.name, canonical)
		switch {
		case err != nil:
			// RFC 7672 section 2.2: a failed TLSA lookup for a host
			// whose addresses are signed may be an attack that hides
			// the records; the host counts as unreachable.
			log.Warn("TLSA lookup failed", "mx", h.name, "err", err)
			c.record(tlsrpt.Outcome{PolicyDomain: dp.domain, PolicyType: tlsrpt.PolicyTLSA,
				ResultType: tlsrpt.ResultDNSSECInvalid, ReceivingMX: h.name, Detail: err.Error()})
			return nil, hostFail(localFailure(false, "4.7.5", "TLSA lookup for %s failed: %v", h.name, err), nil)
		case ok && len(recs) > 0:
			hp.mode, hp.kind = tlsDANE, tlsrpt.PolicyTLSA
			hp.tlsa = usableTLSA(recs)
			hp.base, hp.names = base, []string{base}
			if base != h.name {
				hp.names = append(hp.names, h.name)
			}
			for _, r := range recs {
				hp.strings = append(hp.strings, strings.TrimPrefix(r.String(), r.Hdr.String()))
			}
			log.Info("DANE applies", "mx", h.name, "tlsa_base", base, "tlsa", len(recs), "usable", len(hp.tlsa))
			return hp, nil
		case len(recs) > 0:
			log.Info("TLSA records not authenticated: ignored", "mx", h.name)
		}
	}
	if dp.sts == nil {
		return hp, nil
	}
	hp.kind, hp.strings, hp.mxPatterns = tlsrpt.PolicySTS, dp.sts.Lines(), dp.sts.MX
	if !dp.sts.Matches(h.name) {
		c.record(tlsrpt.Outcome{PolicyDomain: dp.domain, PolicyType: hp.kind, PolicyString: hp.strings,
			MXHost: hp.mxPatterns, ResultType: tlsrpt.ResultValidationFailure, ReceivingMX: h.name,
			Detail: "MX host not listed in the MTA-STS policy"})
		if dp.sts.Mode == mtasts.Enforce {
			log.Warn("MX host not in the MTA-STS policy: skipped", "mx", h.name)
			hf := hostFail(localFailure(false, "4.7.5", "MX host %s does not match the MTA-STS policy of %s", h.name, dp.domain), nil)
			hf.bySTS = true
			return nil, hf
		}
		log.Info("MX host not in the MTA-STS policy (testing mode: delivering anyway)", "mx", h.name)
		hp.testing, hp.unlisted = true, true
		return hp, nil
	}
	if dp.sts.Mode == mtasts.Enforce {
		hp.mode = tlsRequired
	} else {
		hp.testing = true
	}
	return hp, nil
}

// lookupTLSA finds the TLSA records of an MX host whose addresses are
// authenticated: at the target of its CNAME first, then at its own name
// (RFC 7672 section 2.2.2). It returns where it found them, the TLSA base
// domain. NXDOMAIN is no records, not an error.
func (c *Client) lookupTLSA(ctx context.Context, host, canonical string) ([]*dns.TLSA, bool, string, error) {
	if canonical != "" {
		recs, ok, err := c.res.LookupTLSA(ctx, c.port, canonical)
		if err != nil && !resolver.IsNotFound(err) {
			return nil, false, "", err
		}
		if len(recs) > 0 {
			return recs, ok, canonical, nil
		}
	}
	recs, ok, err := c.res.LookupTLSA(ctx, c.port, host)
	if err != nil && !resolver.IsNotFound(err) {
		return nil, false, "", err
	}
	return recs, ok, host, nil
}

// tlsResultNoSTARTTLS is the TLS-RPT result of a server without STARTTLS.
const tlsResultNoSTARTTLS = tlsrpt.ResultSTARTTLSNotSupported

// tlsNote is what became of TLS in one session.
type tlsNote struct {
	set       bool // TLS was attempted or found missing
	success   bool
	result    string // RFC 8460 result type of a failure
	detail    string
	sendingIP string
}

func (n *tlsNote) fail(result, detail string) {
	n.set, n.success, n.result, n.detail = true, false, result, detail
}

func (n *tlsNote) ok() { n.set, n.success = true, true }

// recordSession reports the TLS outcome of a session with h.
func (c *Client) recordSession(h hop) {
	if h.pol == nil || h.note == nil || !h.note.set {
		return
	}
	c.record(tlsrpt.Outcome{
		PolicyDomain: h.pol.domain, PolicyType: h.pol.kind, PolicyString: h.pol.strings, MXHost: h.pol.mxPatterns,
		Success: h.note.success, ResultType: h.note.result, Detail: h.note.detail,
		SendingIP: h.note.sendingIP, ReceivingMX: h.name, ReceivingIP: h.addr.Addr().String(),
	})
}

func (c *Client) record(o tlsrpt.Outcome) {
	if c.rec != nil {
		c.rec.RecordTLS(o)
	}
}

// certResult classifies a certificate verification error for TLS-RPT.
func certResult(err error) string {
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	var uae x509.UnknownAuthorityError
	var dane *daneError
	switch {
	case errors.As(err, &dane):
		return tlsrpt.ResultValidationFailure
	case errors.As(err, &he):
		return tlsrpt.ResultCertificateHostMismatch
	case errors.As(err, &cie) && cie.Reason == x509.Expired:
		return tlsrpt.ResultCertificateExpired
	case errors.As(err, &uae):
		return tlsrpt.ResultCertificateNotTrusted
	}
	return tlsrpt.ResultValidationFailure
}

// localIP is our end of a connection, for TLS-RPT's sending-mta-ip.
func localIP(nc net.Conn) string {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}
