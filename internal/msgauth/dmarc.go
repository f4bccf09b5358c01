package msgauth

import (
	"context"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"mailroom/internal/mime"
	"mailroom/internal/resolver"
)

// Disposition is what local policy does with a message (RFC 7489 section
// 6.6.4 after sampling and overrides).
type Disposition string

// The dispositions.
const (
	DispositionNone       Disposition = "none"
	DispositionQuarantine Disposition = "quarantine"
	DispositionReject     Disposition = "reject"
)

// DMARCResult is the DMARC verdict on the RFC5322.From domain.
type DMARCResult struct {
	Result     string // none, pass, fail, temperror, permerror
	FromDomain string // header.from
	// Policy is the domain owner's policy that applies (p=, or sp= for a
	// subdomain of the record's domain); "" without a record.
	Policy Policy
	// Disposition is what we apply: Policy, lowered by pct= sampling or
	// an override.
	Disposition Disposition
	// Override says why Disposition is below Policy: "sampled_out",
	// "trusted_forwarder" (an ARC chain from a trusted sealer) or
	// "local_policy" (enforcement switched off). RFC 7489 appendix C names.
	Override    string
	SPFAligned  bool
	DKIMAligned bool
	Record      *dmarc.Record // the record used, nil if none
	RecordAt    string        // the domain it was found at
	Reason      string
	// Ambiguous: several From fields, or several author domains. Readers
	// differ on which one they show, which is what a forger wants; RFC
	// 7489 6.6.1 says such messages are typically rejected, and we do
	// when enforcing. (A message without a From is recorded as permerror
	// but accepted: nothing in it claims a domain.)
	Ambiguous bool
}

// Policy is a DMARC p= or sp= value.
type Policy = dmarc.Policy

// dmarc evaluates the From domain's DMARC policy against the SPF and DKIM
// results (RFC 7489 section 6.6).
func (c *Checker) dmarc(ctx context.Context, hdr []Field, spfr SPFResult, dkims []DKIMResult, arc ARCResult) DMARCResult {
	r := DMARCResult{Disposition: DispositionNone}
	// RFC 7489 6.6.1: the RFC5322.From domain is the Author Domain. A
	// message with no From field, or several (forbidden by RFC 5322
	// 3.6), or a From without exactly one domain, cannot be evaluated.
	from := fields(hdr, "From")
	switch len(from) {
	case 0:
		r.Result, r.Reason = "permerror", "no From header field"
		return r
	case 1:
	default:
		r.Result, r.Reason, r.Ambiguous = "permerror", "several From header fields", true
		return r
	}
	domains := map[string]bool{}
	var first string
	for _, a := range mime.ParseAddressList(from[0].Value) {
		if a.GroupStart || a.GroupEnd || a.Host == "" {
			continue
		}
		d := strings.ToLower(strings.TrimSuffix(a.Host, "."))
		if !domains[d] {
			domains[d] = true
			if first == "" {
				first = d
			}
		}
	}
	switch {
	case len(domains) == 0:
		r.Result, r.Reason = "permerror", "no address in the From header field"
		return r
	case len(domains) > 1:
		r.Result, r.Reason, r.FromDomain, r.Ambiguous = "permerror", "From header field names several domains", first, true
		return r
	}
	r.FromDomain = first
	if !isDomainName(first) {
		r.Result, r.Reason = "permerror", "From domain is not a domain name"
		return r
	}

	rec, at, err := c.dmarcRecord(ctx, r.FromDomain)
	switch {
	case err != nil:
		r.Result, r.Reason = "temperror", err.Error()
		return r
	case rec == nil:
		r.Result = "none"
		return r
	}
	r.Record, r.RecordAt = rec, at
	r.Policy = rec.Policy
	if at != r.FromDomain && rec.SubdomainPolicy != "" {
		r.Policy = rec.SubdomainPolicy
	}

	// Identifier alignment (RFC 7489 3.1).
	if spfr.Result == "pass" && aligned(spfr.Domain, r.FromDomain, rec.SPFAlignment) {
		r.SPFAligned = true
	}
	for _, d := range dkims {
		if d.Result == "pass" && aligned(d.Domain, r.FromDomain, rec.DKIMAlignment) {
			r.DKIMAligned = true
		}
	}
	if r.SPFAligned || r.DKIMAligned {
		r.Result = "pass"
		return r
	}
	r.Result = "fail"
	r.Disposition = Disposition(r.Policy)
	if r.Disposition != DispositionReject && r.Disposition != DispositionQuarantine {
		r.Disposition = DispositionNone
		return r
	}
	// pct (6.6.4): a message not sampled gets the next policy down.
	if rec.Percent != nil && *rec.Percent < 100 && c.opts.Percent() >= *rec.Percent {
		r.Override = "sampled_out"
		if r.Disposition == DispositionReject {
			r.Disposition = DispositionQuarantine
		} else {
			r.Disposition = DispositionNone
		}
	}
	if r.Disposition != DispositionNone && arc.Result == "pass" && c.trustedSealer(arc.Sealer) {
		r.Override, r.Disposition = "trusted_forwarder", DispositionNone
	}
	if r.Disposition != DispositionNone && !c.opts.Enforce {
		r.Override, r.Disposition = "local_policy", DispositionNone
	}
	return r
}

func (c *Checker) trustedSealer(d string) bool {
	for _, t := range c.opts.TrustedSealers {
		if strings.EqualFold(strings.TrimSuffix(t, "."), d) {
			return true
		}
	}
	return false
}

// aligned compares an authenticated domain with the From domain: equal
// in strict mode, the same organisational domain in relaxed mode.
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a := strings.ToLower(strings.TrimSuffix(authDomain, "."))
	f := strings.ToLower(strings.TrimSuffix(fromDomain, "."))
	if a == "" {
		return false
	}
	if a == f {
		return true
	}
	if mode == dmarc.AlignmentStrict {
		return false
	}
	return OrgDomain(a) == OrgDomain(f)
}

// OrgDomain is a domain's organisational domain (RFC 7489 3.2): one label
// below its public suffix, from the public suffix list.
func OrgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d // a public suffix itself, or malformed: only itself
	}
	return org
}

// dmarcRecord finds the policy for domain (RFC 7489 6.6.3): at
// _dmarc.<domain>, else at _dmarc.<organisational domain>. It returns a
// nil record when there is none (or not exactly one valid one), and an
// error only for a temporary DNS failure.
func (c *Checker) dmarcRecord(ctx context.Context, domain string) (*dmarc.Record, string, error) {
	rec, n, err := c.lookupDMARC(ctx, domain)
	if err != nil || rec != nil || n > 0 {
		// Found, failed, or several records (or an invalid one): step 4
		// and 6 end discovery here, without the organisational domain.
		return rec, domain, err
	}
	org := OrgDomain(domain)
	if org == domain {
		return nil, "", nil
	}
	rec, _, err = c.lookupDMARC(ctx, org)
	return rec, org, err
}

// lookupDMARC returns the one valid DMARC record at _dmarc.<domain>, and
// how many records starting with the version tag there were.
func (c *Checker) lookupDMARC(ctx context.Context, domain string) (*dmarc.Record, int, error) {
	txts, err := c.res.LookupTXT(ctx, "_dmarc."+domain)
	if err != nil {
		if resolver.IsNotFound(err) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	var found []string
	for _, t := range txts {
		// 6.6.3 step 3: keep records that start with the version tag.
		if v, _, _ := strings.Cut(t, ";"); strings.EqualFold(strings.ReplaceAll(v, " ", ""), "v=DMARC1") {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return nil, len(found), nil // none, or several: no DMARC processing (step 4)
	}
	rec, err := dmarc.Parse(found[0])
	if err != nil {
		return nil, 1, nil // step 6: an invalid record is no record
	}
	return rec, 1, nil
}
