package connlimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is a Listener on loopback TCP with an accept loop that hands
// accepted connections to the test.
type server struct {
	l        *Listener
	accepted chan net.Conn
	rejected chan string // reasons
}

// newServer listens on 127.0.0.1. reject, if nil, writes "BUSY <reason>\n".
// configure, if given, adjusts the Listener before the accept loop starts.
func newServer(t *testing.T, limits Limits, reject func(net.Conn, string), configure ...func(*Listener)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{accepted: make(chan net.Conn, 100), rejected: make(chan string, 100)}
	if reject == nil {
		reject = func(c net.Conn, reason string) {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(c, "BUSY "+reason+"\n")
		}
	}
	s.l = NewListener(ln, limits, func(c net.Conn, reason string) {
		s.rejected <- reason
		reject(c, reason)
	})
	for _, f := range configure {
		f(s.l)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := s.l.Accept()
			if err != nil {
				return
			}
			s.accepted <- c
		}
	}()
	t.Cleanup(func() {
		s.l.Close()
		<-done
		close(s.accepted)
		for c := range s.accepted {
			c.Close()
		}
	})
	return s
}

// dial connects from local address from ("" for the default).
func (s *server) dial(t *testing.T, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", s.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *server) wantAccepted(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.accepted:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func (s *server) wantRejected(t *testing.T, client net.Conn, reason string) {
	t.Helper()
	select {
	case got := <-s.rejected:
		if got != reason {
			t.Fatalf("rejected for %q, want %q", got, reason)
		}
	case c := <-s.accepted:
		t.Fatalf("connection from %v accepted over the limit", c.RemoteAddr())
	case <-time.After(5 * time.Second):
		t.Fatal("no connection rejected")
	}
	// The client reads the refusal, then EOF: the connection was closed.
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || line != "BUSY "+reason+"\n" {
		t.Fatalf("client read %q, %v", line, err)
	}
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the refusal: read %d, %v; want EOF", n, err)
	}
}

func wantStats(t *testing.T, l *Listener, total int, perIP map[string]int) {
	t.Helper()
	// Release happens in Close, which the test calls synchronously, so no
	// waiting is needed.
	gotTotal, gotPerIP := l.Stats()
	if gotTotal != total || len(gotPerIP) != len(perIP) {
		t.Fatalf("Stats = %d %v, want %d %v", gotTotal, gotPerIP, total, perIP)
	}
	for k, n := range perIP {
		if gotPerIP[k] != n {
			t.Fatalf("Stats = %d %v, want %d %v", gotTotal, gotPerIP, total, perIP)
		}
	}
}

func TestTotalLimit(t *testing.T) {
	s := newServer(t, Limits{Total: 2}, nil)
	s.dial(t, "127.0.0.1")
	a := s.wantAccepted(t)
	s.dial(t, "127.0.0.2")
	s.wantAccepted(t)
	wantStats(t, s.l, 2, map[string]int{"127.0.0.1": 1, "127.0.0.2": 1})

	s.wantRejected(t, s.dial(t, "127.0.0.3"), ReasonTotal)

	// Closing one frees its slot for the next client.
	a.Close()
	wantStats(t, s.l, 1, map[string]int{"127.0.0.2": 1})
	s.dial(t, "127.0.0.3")
	s.wantAccepted(t)
	wantStats(t, s.l, 2, map[string]int{"127.0.0.2": 1, "127.0.0.3": 1})
}

func TestPerIPLimit(t *testing.T) {
	s := newServer(t, Limits{PerIP: 2}, nil)
	var first []net.Conn
	for range 2 {
		s.dial(t, "127.0.0.1")
		first = append(first, s.wantAccepted(t))
	}
	s.wantRejected(t, s.dial(t, "127.0.0.1"), ReasonPerIP)
	// Another address is unaffected.
	s.dial(t, "127.0.0.2")
	s.wantAccepted(t)
	wantStats(t, s.l, 3, map[string]int{"127.0.0.1": 2, "127.0.0.2": 1})

	first[0].Close()
	s.dial(t, "127.0.0.1")
	s.wantAccepted(t)
	wantStats(t, s.l, 3, map[string]int{"127.0.0.1": 2, "127.0.0.2": 1})
}

func TestDoubleCloseReleasesOnce(t *testing.T) {
	s := newServer(t, Limits{Total: 2, PerIP: 2}, nil)
	s.dial(t, "")
	a := s.wantAccepted(t)
	s.dial(t, "")
	b := s.wantAccepted(t)
	wantStats(t, s.l, 2, map[string]int{"127.0.0.1": 2})

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err == nil {
		t.Error("second Close reported no error")
	}
	wantStats(t, s.l, 1, map[string]int{"127.0.0.1": 1})

	// Concurrent closes of the other one.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { b.Close() })
	}
	wg.Wait()
	wantStats(t, s.l, 0, map[string]int{})

	// Both slots are free: exactly two more fit.
	for range 2 {
		s.dial(t, "")
		s.wantAccepted(t)
	}
	s.wantRejected(t, s.dial(t, ""), ReasonTotal)
}

func TestSlowRejectDoesNotStallAccept(t *testing.T) {
	unblock := make(chan struct{})
	s := newServer(t, Limits{Total: 1}, func(c net.Conn, reason string) { <-unblock })
	defer close(unblock)

	s.dial(t, "")
	a := s.wantAccepted(t)
	s.dial(t, "") // its refusal hangs
	if got := <-s.rejected; got != ReasonTotal {
		t.Fatalf("rejected for %q", got)
	}
	a.Close()
	s.dial(t, "")
	s.wantAccepted(t)
}

func TestRejectFloodClosesQuietly(t *testing.T) {
	unblock := make(chan struct{})
	s := newServer(t, Limits{Total: 1}, func(c net.Conn, reason string) { <-unblock },
		func(l *Listener) { l.rejecting = make(chan struct{}, 1) })
	defer close(unblock)

	s.dial(t, "")
	s.wantAccepted(t)
	s.dial(t, "") // takes the only refusal slot and hangs there
	<-s.rejected
	c := s.dial(t, "")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want EOF without a refusal", n, err)
	}
	select {
	case r := <-s.rejected:
		t.Fatalf("reject called (%q) past the concurrency bound", r)
	default:
	}
}

func TestNilRejectAndUnlimited(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, Limits{Total: 1}, nil)
	defer l.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	c1, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	defer (<-accepted).Close()
	c2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("over the limit with no reject func: read err %v, want EOF", err)
	}

	// Unlimited: a Listener with zero Limits accepts everything.
	s := newServer(t, Limits{}, nil)
	for range 20 {
		s.dial(t, "")
		s.wantAccepted(t)
	}
	wantStats(t, s.l, 20, map[string]int{"127.0.0.1": 20})
}

func TestAcceptErrorIsReturned(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, Limits{Total: 1}, nil)
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on closed listener: %v", err)
	}
}

func TestConcurrentClients(t *testing.T) {
	const limit, clients = 4, 60
	var serving, maxServing atomic.Int64
	s := newServer(t, Limits{Total: limit, PerIP: limit}, nil)

	// Serve every accepted connection briefly in its own goroutine, as a
	// real server does, counting how many are served at once.
	go func() {
		for c := range s.accepted {
			go func() {
				n := serving.Add(1)
				for {
					m := maxServing.Load()
					if n <= m || maxServing.CompareAndSwap(m, n) {
						break
					}
				}
				io.WriteString(c, "OK\n")
				time.Sleep(2 * time.Millisecond)
				serving.Add(-1)
				c.Close()
			}()
		}
	}()

	var ok, busy atomic.Int64
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			from := []string{"127.0.0.1", "127.0.0.2"}[i%2]
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", s.l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			switch {
			case line == "OK\n":
				ok.Add(1)
			case len(line) > 5 && line[:5] == "BUSY ":
				busy.Add(1)
			default:
				t.Errorf("client read %q, %v", line, err)
			}
		})
	}
	wg.Wait()
	// Every client has its answer; the handlers close their ends soon.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if total, _ := s.l.Stats(); total == 0 {
			break
		}
		if time.Now().After(deadline) {
			total, perIP := s.l.Stats()
			t.Fatalf("slots not freed: %d %v", total, perIP)
		}
		time.Sleep(time.Millisecond)
	}
	if m := maxServing.Load(); m > limit {
		t.Errorf("%d connections served at once, limit %d", m, limit)
	}
	if ok.Load() == 0 || ok.Load()+busy.Load() != clients {
		t.Errorf("%d served, %d refused, of %d", ok.Load(), busy.Load(), clients)
	}
	t.Logf("%d served, %d refused, at most %d at once", ok.Load(), busy.Load(), maxServing.Load())
}

func TestClientKey(t *testing.T) {
	key := func(s string) string {
		k, ok := clientKey(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)))
		if !ok {
			return "none"
		}
		return k.String()
	}
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:25", "192.0.2.1/32"},
		{"[::ffff:192.0.2.1]:25", "192.0.2.1/32"},
		{"[2001:db8:1:2:3:4:5:6]:25", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:25", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:25", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:25", "fe80::/64"},
	} {
		if got := key(tc.addr); got != tc.want {
			t.Errorf("clientKey(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
	if _, ok := clientKey(&net.UnixAddr{Name: "/run/mailroom.sock", Net: "unix"}); ok {
		t.Error("a Unix socket address got a per-IP key")
	}
	if _, ok := clientKey(nil); ok {
		t.Error("nil address got a per-IP key")
	}
}
