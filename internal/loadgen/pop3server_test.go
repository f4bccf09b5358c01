package loadgen

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testMaildrop is every test user's mail. Message 2 has lines that need
// byte-stuffing (including a lone "."), message 3 a line longer than the
// client's read buffer that starts with a dot.
var testMaildrop = []string{
	"From: a@example.test\r\nSubject: one\r\n\r\nHello.\r\n",
	"From: b@example.test\r\nSubject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n",
	"From: c@example.test\r\nSubject: long\r\n\r\n." + strings.Repeat("x", 3*readBufSize) + "\r\nbye\r\n",
}

// Faults a test server can be told to commit.
type fault int

const (
	faultNone      fault = iota
	faultOctets          // LIST/STAT announce message 2 one octet bigger than it is
	faultRetrErr         // -ERR on every RETR
	faultHangup          // close the connection on RETR 2
	faultDupUIDL         // message 3 has message 1's UIDL
	faultNoGreet         // never send the greeting
	faultBareLFEnd       // end RETR with ".\n"
)

// pop3Server is a minimal RFC 1939 server for the tests: users "user<N>"
// with password "secret", each with testMaildrop minus what it deleted.
type pop3Server struct {
	tcpServer
	t       *testing.T
	fault   fault
	tlsConf *tls.Config // offers STLS when set (and the listener is plain)

	mu      sync.Mutex
	deleted map[string]map[int]bool // committed deletions per user
	logins  int
}

type serverOpt func(*pop3Server)

func withFault(f fault) serverOpt { return func(s *pop3Server) { s.fault = f } }

// withTLS serves implicit TLS if implicit, otherwise offers STLS.
func withTLS(t *testing.T, implicit bool) serverOpt {
	return func(s *pop3Server) {
		s.tlsConf = testTLSConfig(t)
		if implicit {
			s.ln = tls.NewListener(s.ln, s.tlsConf)
			s.tlsConf = nil
		}
	}
}

func startPOP3Server(t *testing.T, opts ...serverOpt) *pop3Server {
	t.Helper()
	s := &pop3Server{tcpServer: tcpServer{ln: listenLoopback(t)}, t: t, deleted: make(map[string]map[int]bool)}
	for _, o := range opts {
		o(s)
	}
	s.run(t, s.serve)
	return s
}

// session is one connection's state.
type session struct {
	user    string
	authed  bool
	deleted map[int]bool // marked this session, committed by QUIT
	msgs    []int        // message numbers (1-based into testMaildrop) visible to this session
}

func (s *pop3Server) size(n int) int {
	size := len(testMaildrop[n-1])
	if s.fault == faultOctets && n == 2 {
		size++
	}
	return size
}

func (s *pop3Server) serve(c net.Conn) {
	if s.fault == faultNoGreet {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 1))
		return
	}
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(s string) { w.WriteString(s + "\r\n") }
	reply("+OK test POP3 ready")
	var ss session
	for {
		if w.Flush() != nil {
			return
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			reply("-ERR empty command")
			continue
		}
		arg := func(i int) int {
			if i >= len(f) {
				return -1
			}
			n, err := strconv.Atoi(f[i])
			if err != nil {
				return -1
			}
			return n
		}
		// msg reports whether message n exists and is not deleted.
		msg := func(n int) bool { return n >= 1 && n <= len(ss.msgs) && !ss.deleted[n] }
		cmd := strings.ToUpper(f[0])
		if !ss.authed && cmd != "USER" && cmd != "PASS" && cmd != "QUIT" && cmd != "STLS" {
			reply("-ERR log in first")
			continue
		}
		switch cmd {
		case "STLS":
			if s.tlsConf == nil {
				reply("-ERR no TLS")
				continue
			}
			reply("+OK begin TLS")
			w.Flush()
			tc := tls.Server(c, s.tlsConf)
			if tc.Handshake() != nil {
				return
			}
			r.Reset(tc)
			w.Reset(tc)
		case "USER":
			if len(f) != 2 {
				reply("-ERR usage: USER name")
				continue
			}
			ss.user = f[1]
			reply("+OK")
		case "PASS":
			if ss.user == "" || len(f) != 2 || f[1] != "secret" || !strings.HasPrefix(ss.user, "user") {
				reply("-ERR authentication failed")
				continue
			}
			ss.authed = true
			ss.deleted = make(map[int]bool)
			s.mu.Lock()
			s.logins++
			gone := s.deleted[ss.user]
			s.mu.Unlock()
			for n := range testMaildrop {
				if !gone[n+1] {
					ss.msgs = append(ss.msgs, n+1)
				}
			}
			reply("+OK logged in")
		case "STAT":
			count, total := 0, 0
			for i, m := range ss.msgs {
				if !ss.deleted[i+1] {
					count++
					total += s.size(m)
				}
			}
			reply("+OK " + strconv.Itoa(count) + " " + strconv.Itoa(total))
		case "LIST", "UIDL":
			reply("+OK")
			for i, m := range ss.msgs {
				if ss.deleted[i+1] {
					continue
				}
				if cmd == "LIST" {
					reply(strconv.Itoa(i+1) + " " + strconv.Itoa(s.size(m)))
					continue
				}
				uid := m
				if s.fault == faultDupUIDL && m == 3 {
					uid = 1
				}
				reply(strconv.Itoa(i+1) + " uid-" + strconv.Itoa(uid))
			}
			reply(".")
		case "RETR", "TOP":
			n := arg(1)
			if !msg(n) || (cmd == "TOP" && arg(2) < 0) {
				reply("-ERR no such message")
				continue
			}
			if cmd == "RETR" && s.fault == faultRetrErr {
				reply("-ERR cannot read message")
				continue
			}
			if cmd == "RETR" && s.fault == faultHangup && n == 2 {
				return
			}
			text := testMaildrop[ss.msgs[n-1]-1]
			if cmd == "TOP" {
				text = text[:strings.Index(text, "\r\n\r\n")+4]
			}
			reply("+OK " + strconv.Itoa(s.size(ss.msgs[n-1])) + " octets")
			for l := range strings.SplitAfterSeq(text, "\r\n") {
				if strings.HasPrefix(l, ".") {
					w.WriteString(".")
				}
				w.WriteString(l)
			}
			if cmd == "RETR" && s.fault == faultBareLFEnd {
				w.WriteString(".\n")
			} else {
				reply(".")
			}
		case "DELE":
			n := arg(1)
			if !msg(n) {
				reply("-ERR no such message")
				continue
			}
			ss.deleted[n] = true
			reply("+OK deleted")
		case "NOOP":
			reply("+OK")
		case "RSET":
			clear(ss.deleted)
			reply("+OK")
		case "QUIT":
			if ss.authed {
				s.mu.Lock()
				if s.deleted[ss.user] == nil {
					s.deleted[ss.user] = make(map[int]bool)
				}
				for n := range ss.deleted {
					s.deleted[ss.user][ss.msgs[n-1]] = true
				}
				s.mu.Unlock()
			}
			reply("+OK bye")
			w.Flush()
			return
		default:
			reply("-ERR unknown command")
		}
	}
}

// testTLSConfig returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1.
func testTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
