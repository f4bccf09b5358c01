package remote

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// lab is one test's network: a fake DNS server and SMTP servers on
// loopback addresses 127.0.0.2, 127.0.0.3… sharing one port, since the
// client's Port is the same for every MX host.
type lab struct {
	t    *testing.T
	port int
	held *heldPort
	dns  *fakeDNS
	ca   *testCA
}

func newLab(t *testing.T) *lab {
	t.Helper()
	held := holdPort(t)
	return &lab{
		t:    t,
		port: held.port,
		held: held,
		dns:  newFakeDNS(t),
		ca:   newTestCA(t),
	}
}

// labIPs are the loopback addresses a lab's MX hosts listen on.
var labIPs = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

// heldPort is a port held on every lab address until a server takes it:
// any other listener in the machine binding an ephemeral port on
// 127.0.0.2 (another package's test, running at the same time) could
// otherwise take the lab's port there first.
type heldPort struct {
	port int
	mu   sync.Mutex
	lns  map[string]net.Listener
}

func holdPort(t *testing.T) *heldPort {
	t.Helper()
	for range 20 {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h := &heldPort{port: first.Addr().(*net.TCPAddr).Port, lns: map[string]net.Listener{"127.0.0.1": first}}
		ok := true
		for _, ip := range labIPs[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(h.port)))
			if err != nil {
				ok = false
				break
			}
			h.lns[ip] = ln
		}
		if ok {
			t.Cleanup(func() {
				h.mu.Lock()
				defer h.mu.Unlock()
				for _, ln := range h.lns {
					ln.Close()
				}
			})
			return h
		}
		for _, ln := range h.lns {
			ln.Close()
		}
	}
	t.Fatal("no port free on every lab address")
	return nil
}

// take hands over the listener held on ip (nil if none is held there).
func (h *heldPort) take(ip string) net.Listener {
	h.mu.Lock()
	defer h.mu.Unlock()
	ln := h.lns[ip]
	delete(h.lns, ip)
	return ln
}

// release frees the port on ip for a server that binds it itself.
func (h *heldPort) release(ip string) {
	if ln := h.take(ip); ln != nil {
		ln.Close()
	}
}

// listen listens on ip at the lab's port.
func (l *lab) listen(ip string) net.Listener {
	l.t.Helper()
	if ln := l.held.take(ip); ln != nil {
		l.t.Cleanup(func() { ln.Close() })
		return ln
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(l.port)))
	if err != nil {
		l.t.Fatalf("listen on %s: %v", ip, err)
	}
	l.t.Cleanup(func() { ln.Close() })
	return ln
}

// smtp starts a go-smtp server on ip, configured by opts.
func (l *lab) smtp(ip string, be *backend, opts ...func(*gosmtp.Server)) *gosmtp.Server {
	l.t.Helper()
	s := gosmtp.NewServer(be)
	s.Domain = "mx.test"
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.AllowInsecureAuth = false
	for _, o := range opts {
		o(s)
	}
	ln := l.listen(ip)
	go s.Serve(ln)
	l.t.Cleanup(func() { s.Close() })
	return s
}

// client returns a Client using the lab's DNS and port, with short
// timeouts.
func (l *lab) client(mod ...func(*Config)) *Client {
	cfg := Config{
		Hostname:   "out.sender.test",
		DNSServers: []string{l.dns.addr},
		Port:       l.port,
		TLS:        &tls.Config{RootCAs: l.ca.pool},
		Timeouts: Timeouts{
			Connect: 2 * time.Second, Greeting: 2 * time.Second, Mail: 2 * time.Second,
			Rcpt: 2 * time.Second, Data: 2 * time.Second, DataBlock: 2 * time.Second,
			DataEnd: 2 * time.Second, DNS: 500 * time.Millisecond,
		},
		Logger: slog.New(slog.NewTextHandler(l.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	return New(cfg)
}

// message returns a message with body for the recipients.
func message(body string, rcpts ...string) Message {
	m := Message{From: "sender@sender.test", Size: int64(len(body))}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, Rcpt{Addr: r})
	}
	m.Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	return m
}

const testBody = "From: sender@sender.test\r\nTo: rcpt@dest.test\r\nSubject: test\r\n\r\nHello.\r\n"

// backend is a go-smtp backend that records what it receives and can be
// told to refuse.
type backend struct {
	mu   sync.Mutex
	msgs []*received
	mail int // MAIL commands seen

	// Hooks, all optional, return an error (*gosmtp.SMTPError) to refuse.
	onMail func(from string) error
	onRcpt func(to string) error
	onData func() error
	// user and pass, if set, enable AUTH PLAIN with these credentials
	// (LOGIN instead if login is set).
	user, pass string
	login      bool
}

type received struct {
	from     string
	mailOpts gosmtp.MailOptions
	rcpts    []string
	rcptOpts []gosmtp.RcptOptions
	data     []byte
	tls      bool
	authUser string
}

func (b *backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{b: b, c: c}, nil
}

func (b *backend) messages() []*received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*received(nil), b.msgs...)
}

func (b *backend) mailCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mail
}

type session struct {
	b    *backend
	c    *gosmtp.Conn
	cur  *received
	user string
}

func (s *session) AuthMechanisms() []string {
	switch {
	case s.b.user == "":
		return nil
	case s.b.login:
		return []string{sasl.Login}
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return gosmtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}

// loginServer is the server side of LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 {
			return nil, false, errors.New("LOGIN takes no initial response")
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(resp))
}

func (s *session) Mail(from string, opts *gosmtp.MailOptions) error {
	s.b.mu.Lock()
	s.b.mail++
	s.b.mu.Unlock()
	if s.b.user != "" && s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	if s.b.onMail != nil {
		if err := s.b.onMail(from); err != nil {
			return err
		}
	}
	s.cur = &received{from: from, authUser: s.user}
	if opts != nil {
		s.cur.mailOpts = *opts
	}
	return nil
}

func (s *session) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	if s.b.onRcpt != nil {
		if err := s.b.onRcpt(to); err != nil {
			return err
		}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	var o gosmtp.RcptOptions
	if opts != nil {
		o = *opts
	}
	s.cur.rcptOpts = append(s.cur.rcptOpts, o)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.onData != nil {
		if err := s.b.onData(); err != nil {
			return err
		}
	}
	s.cur.data = data
	_, s.cur.tls = s.c.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = nil }
func (s *session) Logout() error { return nil }

// smtpErr is a server reply for the hooks.
func smtpErr(code int, enh gosmtp.EnhancedCode, msg string) error {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// testCA issues certificates that the lab's clients trust.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "remote test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a server certificate for names, signed by the CA, or
// self-signed (trusted by nobody) if selfSigned.
func (ca *testCA) issue(t *testing.T, selfSigned bool, names ...string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := ca.cert, ca.key
	if selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// checkResult compares the fields of a Result that a test cares about.
func checkResult(t *testing.T, got Result, want Result) {
	t.Helper()
	if got.Rcpt != want.Rcpt || got.Delivered != want.Delivered || got.Permanent != want.Permanent ||
		got.Code != want.Code || got.Enhanced != want.Enhanced {
		t.Errorf("result for %s:\n got %+v\nwant %+v", want.Rcpt, got, want)
	}
	if want.RemoteMTA != "" && got.RemoteMTA != want.RemoteMTA {
		t.Errorf("result for %s: RemoteMTA %q, want %q", want.Rcpt, got.RemoteMTA, want.RemoteMTA)
	}
	if want.Text != "" && !strings.Contains(got.Text, want.Text) {
		t.Errorf("result for %s: text %q, want it to contain %q", want.Rcpt, got.Text, want.Text)
	}
}

// rawServer is a scripted SMTP server for what go-smtp's server cannot do
// or show: chosen extensions, replies withheld to prove pipelining, checks
// that a non-pipelining client waits, hangs.
type rawServer struct {
	greeting string   // default "220 raw.test ESMTP"; "" after hang
	hang     bool     // accept and never say anything
	ext      []string // EHLO keywords
	hello    string   // if set, the reply to both EHLO and HELO
	// withhold holds back replies from MAIL until DATA has arrived: only
	// a pipelining client gets past MAIL.
	withhold bool
	// lockstep reports commands sent before the previous reply.
	lockstep bool
	rcpt     func(addr string) string // reply to RCPT; default 250
	dataHang bool                     // never answer the final dot
	// lax answers DATA with 354 even without recipients, as RFC 2920
	// section 3.1 warns some servers do.
	lax bool

	mu         sync.Mutex
	cmds       []string
	msgs       [][]byte
	violations []string
	conns      int
}

func (s *rawServer) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		go s.handle(c)
	}
}

func (s *rawServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

func (s *rawServer) messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.msgs...)
}

func (s *rawServer) handle(c net.Conn) {
	defer c.Close()
	if s.hang {
		io.Copy(io.Discard, c)
		return
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := newLineReader(c)
	var out bytes.Buffer
	flush := func() { c.Write(out.Bytes()); out.Reset() }
	reply := func(line string) {
		out.WriteString(line + "\r\n")
	}
	greeting := s.greeting
	if greeting == "" {
		greeting = "220 raw.test ESMTP"
	}
	reply(greeting)
	flush()
	if !strings.HasPrefix(greeting, "220") {
		return
	}
	holding := false
	accepted := 0
	for {
		line, err := br.line()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, line)
		s.mu.Unlock()
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if s.lockstep && (verb == "MAIL" || verb == "RCPT") {
			// A client that waits for the reply sends nothing more.
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if br.waiting() {
				s.mu.Lock()
				s.violations = append(s.violations, "data after "+line)
				s.mu.Unlock()
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
		}
		if s.hello != "" && (verb == "EHLO" || verb == "HELO") {
			verb = "HELLO"
		}
		switch verb {
		case "HELLO":
			reply(s.hello)
		case "EHLO":
			lines := append([]string{"raw.test"}, s.ext...)
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				reply("250" + sep + l)
			}
		case "HELO", "RSET", "NOOP":
			reply("250 2.0.0 ok")
			accepted = 0
		case "MAIL":
			reply("250 2.1.0 ok")
			holding = s.withhold
		case "RCPT":
			r := "250 2.1.5 ok"
			if s.rcpt != nil {
				addr := line[strings.Index(line, "<")+1 : strings.Index(line, ">")]
				r = s.rcpt(addr)
			}
			if strings.HasPrefix(r, "2") {
				accepted++
			}
			reply(r)
		case "DATA":
			holding = false
			if accepted == 0 && !s.lax {
				reply("554 5.5.1 no valid recipients")
				break
			}
			reply("354 go ahead")
			flush()
			var msg []byte
			for {
				l, err := br.line()
				if err != nil {
					return
				}
				if l == "." {
					break
				}
				l = strings.TrimPrefix(l, ".")
				msg = append(msg, l+"\r\n"...)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, msg)
			s.mu.Unlock()
			if s.dataHang {
				io.Copy(io.Discard, c)
				return
			}
			if accepted == 0 {
				reply("554 5.5.1 no valid recipients")
				break
			}
			reply("250 2.0.0 queued")
		case "QUIT":
			reply("221 2.0.0 bye")
			flush()
			return
		default:
			reply("500 5.5.2 unknown command")
		}
		if !holding {
			flush()
		}
	}
}

// lineReader reads CRLF lines and can tell whether more input is waiting.
type lineReader struct {
	c   net.Conn
	buf []byte
}

func newLineReader(c net.Conn) *lineReader { return &lineReader{c: c} }

func (r *lineReader) fill() error {
	var b [4096]byte
	n, err := r.c.Read(b[:])
	r.buf = append(r.buf, b[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

func (r *lineReader) line() (string, error) {
	for {
		if i := bytes.Index(r.buf, []byte("\r\n")); i >= 0 {
			l := string(r.buf[:i])
			r.buf = r.buf[i+2:]
			return l, nil
		}
		if err := r.fill(); err != nil {
			return "", err
		}
	}
}

// waiting reports whether input is waiting, reading it in if it comes
// before the connection's read deadline.
func (r *lineReader) waiting() bool {
	return len(r.buf) > 0 || r.fill() == nil
}
