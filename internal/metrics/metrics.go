// Package metrics is Mailroom's Prometheus instrumentation: one registry
// per server (no global state, so tests run several servers in one
// process), the metric families the protocols, the authenticator and the
// store report to, and the HTTP listener that serves them with /healthz
// and /readyz (http.go).
//
// The instrumented packages do not import it: each declares the small
// interface it needs (listener.Metrics, auth.LoginObserver,
// store.Observer) and internal/server hands this package's types to them.
// Everything on a hot path is resolved once (a protocol's command
// observers when the listener starts), so that a command costs a map read
// without a lock and one histogram observation.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the server's own.
const Namespace = "mailroom"

// latencyBuckets are for commands and commits: from half a millisecond (a
// NOOP, a cached login) to half a minute (a SEARCH over a large mailbox,
// a DATA of a large message).
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics is one server's registry and metric families.
type Metrics struct {
	reg *prometheus.Registry

	sessionsOpen  *prometheus.GaugeVec
	sessionsTotal *prometheus.CounterVec
	commands      *prometheus.HistogramVec

	logins   *prometheus.CounterVec
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	junked   map[string]prometheus.Counter // by reason, read-only after New
	loginBy  map[string]*loginCounters     // by protocol, read-only after New

	commitSeconds prometheus.Histogram
	commitBatch   prometheus.Histogram
	feedLag       prometheus.Histogram
	bodyWritten   prometheus.Counter
	bodyRead      prometheus.Counter
}

// New returns a registry with the Go runtime and process collectors and
// every metric family of the server.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		sessionsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "sessions_open",
			Help: "Sessions (connections) open now, by protocol."}, []string{"proto"}),
		sessionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sessions_total",
			Help: "Sessions (connections) accepted, by protocol."}, []string{"proto"}),
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "command_duration_seconds",
			Help:    "Time to handle a command (web: a request), by protocol and command; unknown commands are \"other\".",
			Buckets: latencyBuckets}, []string{"proto", "command"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "logins_total",
			Help: "Login attempts by protocol and result (ok, failed, throttled, error)."}, []string{"proto", "result"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "deliveries_accepted_total",
			Help: "Messages accepted at the end of DATA (stored or queued for every recipient), by protocol."}, []string{"proto"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "deliveries_rejected_total",
			Help: "Recipients (at RCPT) and messages (at MAIL or DATA) refused, by protocol and reason."}, []string{"proto", "reason"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_commit_duration_seconds",
			Help: "Time of one store write transaction, from its start to its durable commit.", Buckets: latencyBuckets}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_commit_batch_size",
			Help:    "Write requests committed together in one transaction (always 1 on PostgreSQL).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}),
		feedLag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "feed_lag_seconds",
			Help:    "Time from a change's commit to a subscriber (an IMAP session, a web page) taking it from the change feed.",
			Buckets: []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30}}),
		bodyWritten: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "store_body_written_bytes_total",
			Help: "Message bytes written to the store (delivered, appended, queued)."}),
		bodyRead: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "store_body_read_bytes_total",
			Help: "Message bytes read from the store."}),
	}
	junked := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "deliveries_junk_total",
		Help: "Local copies filed into the recipient's Junk mailbox instead of INBOX, by reason (quarantine, filter)."}, []string{"reason"})
	m.junked = map[string]prometheus.Counter{}
	for _, r := range []string{JunkQuarantine, JunkFilter, Other} {
		m.junked[r] = junked.WithLabelValues(r)
	}
	reg.MustRegister(junked)
	reg.MustRegister(m.sessionsOpen, m.sessionsTotal, m.commands, m.logins, m.accepted, m.rejected,
		m.commitSeconds, m.commitBatch, m.feedLag, m.bodyWritten, m.bodyRead)
	m.loginBy = map[string]*loginCounters{}
	for _, p := range append(Protocols, Other) {
		m.loginBy[p] = &loginCounters{
			ok:        m.logins.WithLabelValues(p, "ok"),
			failed:    m.logins.WithLabelValues(p, "failed"),
			throttled: m.logins.WithLabelValues(p, "throttled"),
			err:       m.logins.WithLabelValues(p, "error"),
		}
	}
	return m
}

// Protocols are the values of the proto label; anything else is Other.
var Protocols = []string{"smtp", "submission", "imap", "pop3", "managesieve", "web"}

// Other stands for a command, protocol or reason outside the fixed sets.
const Other = "other"

// Registry is where more collectors go (the queue's, the panic count).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the exposition format. A collector that fails (the store
// is away while the queue is measured) leaves its metric out of the
// scrape rather than failing it: the rest is what an operator needs then.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
}

// Gauge adds a gauge whose value is asked for at each scrape.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, fn))
}

// Counter adds a counter whose value is asked for at each scrape (it
// must only grow).
func (m *Metrics) Counter(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, fn))
}
