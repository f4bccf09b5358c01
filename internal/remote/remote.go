// Package remote delivers one message to the recipients of one destination
// domain over SMTP: MX routing (RFC 5321 section 5, RFC 7505 null MX),
// opportunistic STARTTLS (RFC 3207, RFC 7435), PIPELINING (RFC 2920), SIZE
// (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) and the DSN
// parameters (RFC 3461), or relaying everything through a smarthost. TLS
// to each MX host follows DANE (RFC 7672) where the host has authenticated
// TLSA records, else the domain's MTA-STS policy (RFC 8461), else
// opportunistic STARTTLS; every session's TLS outcome can be recorded for
// TLS-RPT (RFC 8460).
//
// It makes one attempt and reports a Result per recipient; retries, delay
// warnings and bounces belong to the outbound queue that calls it.
//
// The SMTP client is our own. github.com/emersion/go-smtp's client (v0.25)
// does not pipeline, sends BODY=8BITMIME whenever the server offers it
// rather than when the content is 8-bit, takes no context, and has one
// timeout for every command and none at all while the message is sent,
// where RFC 5321 section 4.5.3.2 asks for one per command and one per
// block of data.
package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"mailroom/internal/mtasts"
	"mailroom/internal/resolver"
)

// Config configures a Client.
type Config struct {
	// Hostname is the name we give in EHLO, and the name that tells us an
	// MX record points back at ourselves. Empty: the system host name.
	Hostname string
	// DNSServers are the recursive resolvers to ask, as "host:port".
	// Empty: the nameservers of /etc/resolv.conf.
	DNSServers []string
	// Port is the remote SMTP port; 0 means 25. Tests set another.
	Port int
	// Smarthost, if set, receives all mail instead of the recipients' MX
	// hosts.
	Smarthost *Smarthost
	// TLS is the base client TLS configuration (RootCAs, MinVersion…).
	// Opportunistic STARTTLS to MX hosts does not require the certificate
	// to verify but logs whether it did; the smarthost's must verify.
	TLS *tls.Config
	// Timeouts bound each step; zero fields take the defaults.
	Timeouts Timeouts
	Logger   *slog.Logger
	// Policies keeps the MTA-STS policies fetched (RFC 8461), so that
	// they outlive restarts and every node knows them: the store's
	// shared files. nil: kept in memory only.
	Policies mtasts.Files
	// HTTPSPort is where MTA-STS policies are fetched: 0 means 443.
	// Tests set another.
	HTTPSPort int
	// TLSReports, if set, is told the TLS outcome of every session with
	// an MX host, for TLS-RPT (RFC 8460).
	TLSReports TLSRecorder
}

// Smarthost is a relay that takes all outbound mail.
type Smarthost struct {
	// Addr is "host:port". Without a port: 465 with ImplicitTLS, else 587.
	Addr string
	// ImplicitTLS speaks TLS from the start (RFC 8314); otherwise
	// STARTTLS is required. Either way the certificate must verify.
	ImplicitTLS bool
	// Username and Password, if set, authenticate with AUTH PLAIN (or
	// LOGIN when PLAIN is not offered), only ever over TLS.
	Username, Password string
}

// Timeouts are the per-step time limits. RFC 5321 section 4.5.3.2 asks for
// per-command timeouts rather than one for the whole transaction, so that
// the time allowed grows with the message instead of cutting large ones
// off; the defaults are its minimums.
type Timeouts struct {
	Connect   time.Duration // TCP connect and TLS handshake; default 30s
	Greeting  time.Duration // the 220 greeting; default 5m
	Mail      time.Duration // MAIL, and EHLO, STARTTLS, AUTH, RSET; default 5m
	Rcpt      time.Duration // each RCPT; default 5m
	Data      time.Duration // the 354 reply to DATA; default 2m
	DataBlock time.Duration // each write of message data; default 3m
	DataEnd   time.Duration // the reply to the final dot; default 10m
	DNS       time.Duration // each DNS query; default 5s
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, 30*time.Second)
	def(&t.Greeting, 5*time.Minute)
	def(&t.Mail, 5*time.Minute)
	def(&t.Rcpt, 5*time.Minute)
	def(&t.Data, 2*time.Minute)
	def(&t.DataBlock, 3*time.Minute)
	def(&t.DataEnd, 10*time.Minute)
	def(&t.DNS, 5*time.Second)
	return t
}

// Message is one message and its recipients in one domain.
type Message struct {
	From       string // reverse path; "" is the null sender
	Recipients []Rcpt // all in one domain (or all for the smarthost)
	UTF8       bool   // needs SMTPUTF8 (non-ASCII addresses or headers)
	EightBit   bool   // the content has 8-bit data (BODY=8BITMIME)
	Size       int64  // octets, for SIZE
	Ret        string // DSN RET: "FULL", "HDRS" or ""
	EnvID      string // DSN ENVID, "" if none
	// Open returns the message: header and body, lines ending in CRLF,
	// not dot-stuffed. It is called once per transaction and streamed,
	// never held in memory.
	Open func() (io.ReadCloser, error)
}

// Rcpt is one recipient.
type Rcpt struct {
	Addr   string
	Notify []string // DSN NOTIFY: NEVER, or some of SUCCESS, FAILURE, DELAY
	ORcpt  string   // DSN ORCPT as "addr-type;address", not xtext-encoded
}

// Result is what became of one recipient.
type Result struct {
	Rcpt      string
	Delivered bool
	// Permanent failures are bounced; other failures are retried.
	Permanent bool
	Code      int    // the SMTP reply code; 0 when there was none (DNS, connection)
	Enhanced  string // RFC 3463 status, e.g. "5.1.1"; ours when the server gave none
	Text      string // the server's reply text or our explanation
	RemoteMTA string // the host that gave the reply, "" if none did
	TLS       bool   // the transaction ran over TLS
	// DSN reports that the server took the DSN parameters (RFC 3461): it
	// now owns any success or failure notice. A delivered recipient that
	// asked NOTIFY=SUCCESS from a server without DSN gets a "relayed"
	// notice from us instead (RFC 3461 section 5.2.2).
	DSN bool
}

// Client delivers messages. It is safe for concurrent use.
type Client struct {
	hostname string // A-label, lower case, for EHLO and the MX loop check
	port     int
	smart    *Smarthost
	tls      *tls.Config
	t        Timeouts
	log      *slog.Logger
	res      *resolver.Resolver
	sts      *mtasts.Client // nil with a smarthost
	rec      TLSRecorder    // nil: outcomes are not recorded
}

// New returns a Client. Configuration problems that make delivery
// impossible (an unreadable resolv.conf) show up as temporary failures of
// every delivery, so that mail stays queued while the operator fixes them.
func New(cfg Config) *Client {
	c := &Client{
		port:  cfg.Port,
		smart: cfg.Smarthost,
		tls:   cfg.TLS,
		t:     cfg.Timeouts.withDefaults(),
		log:   cfg.Logger,
	}
	if c.port == 0 {
		c.port = 25
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "remote")
	host := cfg.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		host = a
	}
	if host == "" {
		host = "localhost"
	}
	c.hostname = host
	c.res = resolver.New(cfg.DNSServers, c.t.DNS)
	c.rec = cfg.TLSReports
	if c.smart == nil {
		// The policy fetch trusts the same CAs as verified SMTP.
		var roots *x509.CertPool
		if c.tls != nil {
			roots = c.tls.RootCAs
		}
		c.sts = mtasts.New(mtasts.Config{Resolver: c.res, Files: cfg.Policies, RootCAs: roots,
			Port: cfg.HTTPSPort, Logger: c.log})
	}
	return c
}

// Deliver makes one attempt to deliver m to its recipients, all of which
// are in domain (with a smarthost, domain only labels the logs). It
// returns one Result per recipient, in the order of m.Recipients.
// Cancelling ctx ends the attempt; recipients not yet answered for then
// fail temporarily.
func (c *Client) Deliver(ctx context.Context, domain string, m Message) []Result {
	d := newDelivery(m)
	log := c.log.With("domain", domain)
	if d.checkEnvelope() {
		if c.smart != nil {
			c.viaSmarthost(ctx, d, log)
		} else {
			c.viaMX(ctx, d, domain, log)
		}
	}
	for _, r := range d.res {
		log.Info("delivery result", "rcpt", r.Rcpt, "delivered", r.Delivered, "permanent", r.Permanent,
			"code", r.Code, "status", r.Enhanced, "text", r.Text, "mta", r.RemoteMTA, "tls", r.TLS)
	}
	return d.res
}
