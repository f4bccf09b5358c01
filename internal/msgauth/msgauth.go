// Package msgauth evaluates who sent a message received from the Internet:
// SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489), ARC (RFC 8617), the
// client's reverse DNS (iprev, RFC 8601 section 3) and HELO name, and DNS
// blocklists (RFC 5782). It returns the results, the Authentication-Results
// header field that records them (RFC 8601) and what local policy makes of
// them (accept, quarantine, reject, try later). It does not talk SMTP and
// does not store mail: the SMTP layer asks, and acts on the answer.
//
// Every check ends in a result, never an error: a DNS failure is a
// "temperror" that the policy never turns into a permanent rejection.
package msgauth

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"mailroom/internal/panics"
)

// Resolver is the DNS that msgauth needs; internal/resolver's Resolver
// implements it, and its errors are classified with resolver.IsNotFound.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, domain string) ([]*dns.MX, error)
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
	LookupAddr(ctx context.Context, ip netip.Addr) ([]string, error)
}

// Options configure a Checker.
type Options struct {
	// AuthservID names this server in Authentication-Results (RFC 8601
	// section 2.5): usually its host name.
	AuthservID string
	// TrustedSealers are the ARC sealing domains (d= of ARC-Seal) whose
	// passing chain overrides a DMARC failure (RFC 7489 section 7.2.2,
	// RFC 8617 section 7.2).
	TrustedSealers []string
	// DNSBL are the blocklist zones to ask about the client's address.
	DNSBL []string
	// Enforce applies DMARC p=reject and p=quarantine; false only records.
	Enforce bool
	// TempErrorDefer answers a DMARC temperror with a temporary failure
	// (451) rather than accepting the message.
	TempErrorDefer bool
	// Percent draws the number, 0 to 99, that a DMARC pct= is compared
	// with (RFC 7489 section 6.6.4). Nil is a random draw; tests inject a
	// fixed one.
	Percent func() int
	// Now is the clock for signature expiry; nil is time.Now.
	Now func() time.Time
	// Timeout bounds all the checks of one message together (30 s if 0).
	Timeout time.Duration
	Logger  *slog.Logger
	Panics  *panics.Counter // counts panics recovered in the checks (nil: logged only)
}

// Checker runs the checks. It is safe for concurrent use.
type Checker struct {
	res  Resolver
	opts Options
}

// New returns a Checker asking res.
func New(res Resolver, opts Options) *Checker {
	if opts.Percent == nil {
		opts.Percent = func() int { return rand.IntN(100) }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{res: res, opts: opts}
}

// Message is what a check looks at.
type Message struct {
	IP       netip.Addr // the SMTP client
	HELO     string     // its EHLO/HELO argument
	MailFrom string     // the reverse path, "" for the null sender
	// Header is the message's header block as received (without our own
	// trace fields). Open reads the whole message (header and body) again,
	// as often as asked: DKIM and ARC stream it rather than hold it.
	Header []byte
	Open   func() (io.ReadCloser, error)
}

// Result is everything the checks found.
type Result struct {
	SPF   SPFResult
	DKIM  []DKIMResult
	DMARC DMARCResult
	ARC   ARCResult
	IPRev IPRevResult
	HELO  HELOResult
	DNSBL []DNSBLResult
}

// Check runs every check on m.
func (c *Checker) Check(ctx context.Context, m Message) *Result {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	hdr := ParseHeader(m.Header)
	r := &Result{}
	var wg sync.WaitGroup
	// Each check in its own goroutine, whose panic (a library meeting
	// input it did not expect) must not take the server down: it is
	// logged, counted, and the check's result is an error.
	run := func(name string, check, failed func()) {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					c.opts.Panics.Report(c.opts.Logger, "sender check "+name, v)
					failed()
				}
			}()
			check()
		})
	}
	const internal = "internal error"
	run("spf", func() { r.SPF = c.spf(ctx, m.IP, m.HELO, m.MailFrom) },
		func() {
			r.SPF = SPFResult{Result: "temperror", Identity: "mailfrom", Value: m.MailFrom, Reason: internal}
		})
	run("dkim", func() { r.DKIM = c.dkim(ctx, hdr, m.Open) },
		func() { r.DKIM = []DKIMResult{{Result: "temperror", Reason: internal}} })
	run("arc", func() { r.ARC = c.arc(ctx, hdr, m.Open) }, func() { r.ARC = ARCResult{Result: "fail", Reason: internal} })
	run("iprev", func() { r.IPRev = c.iprev(ctx, m.IP) }, func() { r.IPRev = IPRevResult{Result: "temperror", IP: m.IP, Reason: internal} })
	run("helo", func() { r.HELO = c.helo(ctx, m.IP, m.HELO) }, func() { r.HELO = HELOResult{Result: "temperror", Reason: internal} })
	run("dnsbl", func() { r.DNSBL = c.dnsbl(ctx, m.IP) }, func() { r.DNSBL = nil })
	wg.Wait()
	r.DMARC = c.dmarc(ctx, hdr, r.SPF, r.DKIM, r.ARC)
	return r
}
