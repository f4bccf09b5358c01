// Package mailtest runs the outside world of outbound mail on loopback for
// tests: an authoritative DNS server with the records a test gives it, and
// SMTP servers ("sinks") that record what they receive and answer as a test
// tells them to. It is imported by tests only.
package mailtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

// DNS is a DNS server on 127.0.0.1 (UDP and TCP, same port).
type DNS struct {
	Addr string // host:port, for [dns] servers

	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	fail    map[string]int      // rcode to answer for a name instead
	secure  map[string]bool     // names answered with AD (dnssec.go)
}

// NewDNS starts a DNS server; it stops when the test ends.
func NewDNS(t testing.TB) *DNS {
	t.Helper()
	d := &DNS{records: map[string][]dns.RR{}, fail: map[string]int{}}
	// UDP and TCP on one port: the kernel picks a free UDP port, whose
	// TCP twin may be taken by someone else; then try another.
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if attempt == 20 {
			t.Fatal(err)
		}
	}
	d.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return d
}

// Add adds records in zone-file syntax, e.g. "example.test. MX 10 mx.example.test.".
func (d *DNS) Add(t testing.TB, lines ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range lines {
		if !strings.Contains(l, " IN ") {
			f := strings.Fields(l)
			l = f[0] + " 60 IN " + strings.Join(f[1:], " ")
		}
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("mailtest: record %q: %v", l, err)
		}
		name := strings.ToLower(rr.Header().Name)
		d.records[name] = append(d.records[name], rr)
	}
}

// Fail makes queries for name answer rcode (dns.RcodeServerFailure…).
func (d *DNS) Fail(name string, rcode int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail[strings.ToLower(dns.Fqdn(name))] = rcode
}

// ServeDNS implements dns.Handler: NXDOMAIN for unknown names, the CNAME
// of an alias (as an authoritative server answers; the resolver follows
// it), NODATA for known names without records of the type asked.
func (d *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 {
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		d.mu.Lock()
		rcode, failing := d.fail[name]
		rrs, known := d.records[name]
		d.mu.Unlock()
		m.AuthenticatedData = d.authenticated(req, name)
		switch {
		case failing:
			m.Rcode = rcode
		case !known:
			m.Rcode = dns.RcodeNameError
		default:
			for _, rr := range rrs {
				if rr.Header().Rrtype == q.Qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
			if len(m.Answer) == 0 {
				for _, rr := range rrs {
					if rr.Header().Rrtype == dns.TypeCNAME {
						m.Answer = append(m.Answer, rr)
					}
				}
			}
		}
	}
	w.WriteMsg(m)
}

// Message is what a Sink received in one transaction.
type Message struct {
	From       string
	Recipients []string
	Data       []byte
	TLS        bool
}

// Reply is an SMTP error reply a Sink gives.
type Reply struct {
	Code     int
	Enhanced [3]int
	Text     string
}

func (r *Reply) err() error {
	if r == nil {
		return nil
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.EnhancedCode(r.Enhanced), Message: r.Text}
}

// Sink is an SMTP server that keeps what it accepts. Its hooks, set before
// mail arrives, decide the replies; nil hooks accept everything.
type Sink struct {
	Addr string

	// OnRcpt may refuse a recipient; OnData may refuse a message after
	// reading it (return nil to accept) or hold it (sleep) first.
	OnRcpt func(to string) *Reply
	OnData func(m Message) *Reply

	mu       sync.Mutex
	received []Message
	srv      *smtp.Server
}

// SinkOption changes what a Sink offers.
type SinkOption func(*smtp.Server)

// WithoutDSN makes a sink that does not offer DSN (RFC 3461), as many
// servers do not.
func WithoutDSN() SinkOption { return func(s *smtp.Server) { s.EnableDSN = false } }

// NewSink starts a sink on addr ("127.0.0.1:0", or a fixed address such as
// "127.0.0.2:2525" for an MX host); it stops when the test ends.
func NewSink(t testing.TB, addr string, opts ...SinkOption) *Sink {
	t.Helper()
	s := &Sink{}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.EnableDSN = true
	for _, o := range opts {
		o(srv)
	}
	srv.MaxMessageBytes = 100 << 20
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.srv = srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Received returns the messages accepted so far.
func (s *Sink) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.received...)
}

// WaitFor waits until n messages were accepted, or fails the test.
func (s *Sink) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.Received()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: sink %s received %d messages in %v, want %d", s.Addr, len(got), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NewSession implements smtp.Backend.
func (s *Sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &sinkSession{s: s, tls: isTLS}, nil
}

type sinkSession struct {
	s   *Sink
	tls bool
	m   Message
}

func (ss *sinkSession) Reset()        { ss.m = Message{} }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.m = Message{From: from, TLS: ss.tls}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.OnRcpt != nil {
		if r := ss.s.OnRcpt(to); r != nil {
			return r.err()
		}
	}
	ss.m.Recipients = append(ss.m.Recipients, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := ss.m
	m.Data = bytes.Clone(data)
	if ss.s.OnData != nil {
		if r := ss.s.OnData(m); r != nil {
			return r.err()
		}
	}
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, m)
	ss.s.mu.Unlock()
	return nil
}

// Count returns how many accepted messages went to rcpt.
func (s *Sink) Count(rcpt string) int {
	n := 0
	for _, m := range s.Received() {
		for _, r := range m.Recipients {
			if strings.EqualFold(r, rcpt) {
				n++
			}
		}
	}
	return n
}

// String describes what the sink holds, for failure messages.
func (s *Sink) String() string {
	var b strings.Builder
	for i, m := range s.Received() {
		fmt.Fprintf(&b, "#%d from <%s> to %v, %d bytes\n", i+1, m.From, m.Recipients, len(m.Data))
	}
	return b.String()
}

// NewRemoteMX starts a sink on 127.0.0.2, on a port the kernel picks, and
// publishes it in d as the MX of domain (mx.<domain>, A 127.0.0.2): a
// remote domain's mail server for the outbound queue. MX records carry no
// port: point [queue] remote_port at the sink's Port.
func (d *DNS) NewRemoteMX(t testing.TB, domain string, opts ...SinkOption) *Sink {
	t.Helper()
	s := NewSink(t, "127.0.0.2:0", opts...)
	d.Add(t, domain+". MX 10 mx."+domain+".", "mx."+domain+". A 127.0.0.2")
	return s
}

// Port is the port the sink listens on.
func (s *Sink) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}
