package loadgen

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// tcpServer is what the scripted test servers (POP3, SMTP) share: a
// loopback listener whose connections each get a goroutine, all closed
// when the test ends.
type tcpServer struct {
	ln net.Listener

	connMu sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// run accepts on s.ln and serves each connection until the test ends.
func (s *tcpServer) run(t *testing.T, serve func(net.Conn)) {
	s.conns = map[net.Conn]bool{}
	s.wg.Go(func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.connMu.Lock()
			s.conns[c] = true
			s.connMu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.connMu.Lock()
					delete(s.conns, c)
					s.connMu.Unlock()
					c.Close()
				}()
				serve(c)
			})
		}
	})
	t.Cleanup(func() {
		s.ln.Close()
		s.connMu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.connMu.Unlock()
		s.wg.Wait()
	})
}

func (s *tcpServer) addr() string { return s.ln.Addr().String() }

// addUsers creates the accounts user1..n@example.test on a Mailroom,
// with testrig.Password.
func addUsers(r *testrig.Rig, n int) []store.Account {
	r.T.Helper()
	var accts []store.Account
	for u := 1; u <= n; u++ {
		accts = append(accts, r.Account(fmt.Sprintf("user%d@example.test", u)))
	}
	return accts
}
