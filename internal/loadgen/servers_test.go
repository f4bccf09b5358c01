package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/server"
	"mailroom/internal/store"
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

// startMailroom starts a real Mailroom with the given listeners and
// protocols, a self-signed certificate and the domain example.test with
// users user1..users (password "secret"). It returns the store and the
// bound address of each listener by key ("imaps", "smtp" …).
func startMailroom(t *testing.T, hostname string, listen config.Listen, factories map[string]listener.Factory, users int) (store.Store, []store.Account, map[string]string) {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = hostname
	cfg.DataDir = t.TempDir()
	cfg.Listen = listen
	cfg.TLS.SelfSigned = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), factories)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	addrs := map[string]string{}
	for _, l := range srv.Listening() {
		addrs[l.Key] = l.Addr
	}
	st := srv.Deps().Store
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword("secret", auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var accts []store.Account
	for u := 1; u <= users; u++ {
		acct, err := st.CreateAccount(ctx, fmt.Sprintf("user%d@example.test", u), cred)
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, acct)
	}
	return st, accts, addrs
}
