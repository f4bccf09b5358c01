package metrics

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Protocol is what one protocol reports: its sessions and the time of
// each command. Its methods may be called on a nil *Protocol (nothing is
// counted).
type Protocol struct {
	open  prometheus.Gauge
	total prometheus.Counter
	// cmds maps every command the protocol knows to its observer, filled
	// on first use: the map itself never changes after Protocol returns,
	// so reading it takes no lock, and commands never used expose no
	// series.
	cmds  map[string]*observerSlot
	other *observerSlot
	// byName, without a command list (the web, whose command names are
	// its route patterns: fixed by the code, not the client), resolves
	// each name through the vector.
	byName *prometheus.HistogramVec
	proto  string
}

type observerSlot struct {
	vec   *prometheus.HistogramVec
	proto string
	name  string
	obs   atomic.Pointer[prometheus.Observer]
}

func (s *observerSlot) observer() prometheus.Observer {
	if o := s.obs.Load(); o != nil {
		return *o
	}
	o := s.vec.WithLabelValues(s.proto, s.name)
	s.obs.Store(&o)
	return o
}

// Protocol returns the instruments of proto (one of Protocols; else
// Other), whose commands are named in commands: any other command name is
// counted as "other", so a client cannot make up new series. With no
// commands, every name is its own series: only for names the code fixes
// (the web's route patterns), never ones a client sends.
func (m *Metrics) Protocol(proto string, commands []string) *Protocol {
	if !slices.Contains(Protocols, proto) {
		proto = Other
	}
	p := &Protocol{
		open:  m.sessionsOpen.WithLabelValues(proto),
		total: m.sessionsTotal.WithLabelValues(proto),
		cmds:  make(map[string]*observerSlot, len(commands)),
		other: &observerSlot{vec: m.commands, proto: proto, name: Other},
	}
	for _, c := range commands {
		p.cmds[c] = &observerSlot{vec: m.commands, proto: proto, name: c}
	}
	if commands == nil {
		p.byName, p.proto = m.commands, proto
	}
	return p
}

// SessionOpened counts a new session.
func (p *Protocol) SessionOpened() {
	if p == nil {
		return
	}
	p.total.Inc()
	p.open.Inc()
}

// SessionClosed counts a session's end.
func (p *Protocol) SessionClosed() {
	if p == nil {
		return
	}
	p.open.Dec()
}

// Command records that command name took elapsed.
func (p *Protocol) Command(name string, elapsed time.Duration) {
	if p == nil {
		return
	}
	if p.byName != nil {
		if name == "" {
			name = Other
		}
		p.byName.WithLabelValues(p.proto, name).Observe(elapsed.Seconds())
		return
	}
	s := p.cmds[name]
	if s == nil {
		s = p.other
	}
	s.observer().Observe(elapsed.Seconds())
}

// Rejection reasons: the values of deliveries_rejected_total's reason.
const (
	ReasonUnknownUser = "unknown_user" // no such recipient (5.1.1), or an invalid address
	ReasonRelay       = "relay"        // a remote recipient without authentication (5.7.1 at RCPT)
	ReasonQuota       = "quota"        // the mailbox is full (x.2.2)
	ReasonSize        = "size"         // the message is too big (x.3.4)
	ReasonPolicy      = "policy"       // SPF, DKIM, DMARC, sender checks (5.7.x)
	ReasonSieve       = "sieve_reject" // every recipient's Sieve script refused it
	ReasonSyntax      = "syntax"       // bare line ends, over-long lines, bad sequence of commands
	ReasonTemporary   = "temporary"    // 4xx: the store is away, the disk is full, a timeout
)

// Reasons lists the reasons; anything else is Other.
var Reasons = []string{ReasonUnknownUser, ReasonRelay, ReasonQuota, ReasonSize, ReasonPolicy, ReasonSieve,
	ReasonSyntax, ReasonTemporary, Other}

// Deliveries is what an SMTP listener reports of the mail it takes.
// Methods may be called on a nil *Deliveries.
type Deliveries struct {
	accepted prometheus.Counter
	rejected map[string]prometheus.Counter // by reason; read-only after Deliveries returns
}

// Deliveries returns the delivery counters of proto ("smtp" or "submission").
func (m *Metrics) Deliveries(proto string) *Deliveries {
	if !slices.Contains(Protocols, proto) {
		proto = Other
	}
	d := &Deliveries{accepted: m.accepted.WithLabelValues(proto), rejected: map[string]prometheus.Counter{}}
	for _, r := range Reasons {
		d.rejected[r] = m.rejected.WithLabelValues(proto, r)
	}
	return d
}

// Accepted counts a message accepted.
func (d *Deliveries) Accepted() {
	if d != nil {
		d.accepted.Inc()
	}
}

// Rejected counts a refusal for reason (one of Reasons).
func (d *Deliveries) Rejected(reason string) {
	if d == nil {
		return
	}
	c := d.rejected[reason]
	if c == nil {
		c = d.rejected[Other]
	}
	c.Inc()
}

// Junk filing reasons, as delivery reports them.
const (
	JunkQuarantine = "quarantine" // a check before delivery (DMARC p=quarantine) asked for it
	JunkFilter     = "filter"     // the junk filter's verdict
)

// Junked counts a local copy filed into Junk for reason.
func (m *Metrics) Junked(reason string) {
	if m == nil {
		return
	}
	c := m.junked[reason]
	if c == nil {
		c = m.junked[Other]
	}
	c.Inc()
}

type loginCounters struct{ ok, failed, throttled, err prometheus.Counter }

// Login results, as auth reports them.
const (
	LoginOK        = "ok"
	LoginFailed    = "failed"
	LoginThrottled = "throttled"
	LoginError     = "error"
)

// Login counts one login attempt over proto with result (LoginOK …).
func (m *Metrics) Login(proto, result string) {
	if m == nil {
		return
	}
	lc := m.loginBy[proto]
	if lc == nil {
		lc = m.loginBy[Other]
	}
	switch result {
	case LoginOK:
		lc.ok.Inc()
	case LoginFailed:
		lc.failed.Inc()
	case LoginThrottled:
		lc.throttled.Inc()
	default:
		lc.err.Inc()
	}
}

// Commit records one store write transaction.
func (m *Metrics) Commit(elapsed time.Duration, batch int) {
	if m == nil {
		return
	}
	m.commitSeconds.Observe(elapsed.Seconds())
	m.commitBatch.Observe(float64(batch))
}

// FeedLag records how long a change waited in the feed.
func (m *Metrics) FeedLag(d time.Duration) {
	if m != nil {
		m.feedLag.Observe(d.Seconds())
	}
}

// BodyWritten counts message bytes written to the store.
func (m *Metrics) BodyWritten(n int64) {
	if m != nil && n > 0 {
		m.bodyWritten.Add(float64(n))
	}
}

// BodyRead counts message bytes read from the store.
func (m *Metrics) BodyRead(n int64) {
	if m != nil && n > 0 {
		m.bodyRead.Add(float64(n))
	}
}
