// Package selfcheck is `mailroom check`: it looks at an installation the
// way the rest of the world will — the configuration, the certificates
// clients are shown, the listening ports and the DNS records of every
// domain — and says, one line per check, whether each is right and what
// to do when it is not.
//
// It changes nothing: it reads the configuration and the store, connects
// to the configured ports and asks DNS.
package selfcheck

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
)

// Verdict is how a check came out.
type Verdict int

// The verdicts, in increasing severity.
const (
	OK Verdict = iota
	Warn
	Fail
)

func (v Verdict) String() string {
	switch v {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	}
	return "FAIL"
}

// Result is one line of the report.
type Result struct {
	Check   string // what was checked: "dns example.org MX"
	Verdict Verdict
	Message string // what was found and, unless OK, what to do
}

// Resolver is the DNS the checks ask; *resolver.Resolver is the real one
// (and these are the methods msgauth's SPF evaluation needs too).
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, domain string) ([]*dns.MX, error)
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
	LookupAddr(ctx context.Context, ip netip.Addr) ([]string, error)
}

// Store is what the checks read from the store.
type Store interface {
	DomainNames(ctx context.Context) ([]string, error)
	// DKIM returns the domain's current DKIM records (dkim.Keys.Records).
	DKIM(ctx context.Context, domain string) ([]dkim.TXTRecord, error)
	// ReadFile reads a shared file (store.SharedFiles): the ACME cache.
	ReadFile(ctx context.Context, name string) ([]byte, error)
}

// Options are the inputs of Run.
type Options struct {
	Config   config.Config
	Store    Store
	Resolver Resolver
	// Domains limits the DNS checks to these domains; empty: every
	// domain in the store.
	Domains []string
	// MTASTSPort is the HTTPS port MTA-STS policies are fetched from; 0
	// means 443. Tests set another.
	MTASTSPort int
	// RootCAs verify certificates (files and MTA-STS policy hosts); nil:
	// the system's.
	RootCAs *x509.CertPool
	// DialTimeout bounds each connection to a port; 0 means 3 s.
	DialTimeout time.Duration
	Now         func() time.Time
}

// Run performs every check in order and returns the results. Problems are
// results, not errors: Run fails only when ctx is done.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	var rs []Result
	domains, domainResults := o.domains(ctx)
	rs = append(rs, domainResults...)
	rs = append(rs, checkCertificates(ctx, o, domains)...)
	rs = append(rs, checkPorts(ctx, o)...)
	rs = append(rs, checkDNS(ctx, o, domains)...)
	return rs, ctx.Err()
}

// domains are the domains to check: those asked for, or every one the
// store serves.
func (o Options) domains(ctx context.Context) ([]string, []Result) {
	all, err := o.Store.DomainNames(ctx)
	if err != nil {
		return nil, []Result{{"store", Fail, fmt.Sprintf("listing the domains failed: %v", err)}}
	}
	if len(o.Domains) == 0 {
		if len(all) == 0 {
			return nil, []Result{{"domains", Warn, "the store serves no domain yet: add one with `mailroom domain add DOMAIN`"}}
		}
		return all, nil
	}
	served := map[string]bool{}
	for _, d := range all {
		served[d] = true
	}
	var ds []string
	var rs []Result
	for _, d := range o.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if !served[d] {
			rs = append(rs, Result{"domain " + d, Fail, "this server does not serve " + d + ": add it with `mailroom domain add " + d + "`"})
			continue
		}
		ds = append(ds, d)
	}
	return ds, rs
}

// Write prints results one per line, "VERDICT  check: message", and
// returns whether any failed.
func Write(w io.Writer, rs []Result) (failed bool, err error) {
	var b strings.Builder
	counts := map[Verdict]int{}
	for _, r := range rs {
		fmt.Fprintf(&b, "%-4s  %s: %s\n", r.Verdict, r.Check, r.Message)
		counts[r.Verdict]++
	}
	fmt.Fprintf(&b, "\n%d checks: %d OK, %d WARN, %d FAIL\n", len(rs), counts[OK], counts[Warn], counts[Fail])
	if _, err := io.WriteString(w, b.String()); err != nil {
		return false, fmt.Errorf("selfcheck: writing the report: %w", err)
	}
	return counts[Fail] > 0, nil
}
