package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/store"
)

// echoProtocol is a minimal line protocol used to exercise the server's
// listener and shutdown wiring: it greets, echoes lines, and on shutdown
// lets a session in progress finish its current line.
type echoProtocol struct {
	mu       sync.Mutex
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
	closing  chan struct{}
	finished chan string
}

func newEcho() *echoProtocol {
	return &echoProtocol{conns: map[net.Conn]bool{}, closing: make(chan struct{}), finished: make(chan string, 10)}
}

func (p *echoProtocol) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			c.Write([]byte("hello\n"))
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				c.Write([]byte(sc.Text() + "\n"))
				select {
				case <-p.closing:
					p.finished <- sc.Text()
					return
				default:
				}
			}
		}()
	}
}

func (p *echoProtocol) Shutdown(ctx context.Context) error {
	close(p.closing)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		return ctx.Err()
	}
}

func testConfig(t *testing.T) config.Config {
	c := config.Default()
	c.Hostname = "localhost"
	c.DataDir = t.TempDir()
	c.Listen = config.Listen{IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0", POP3: "127.0.0.1:0", SMTP: "127.0.0.1:0"}
	c.TLS.SelfSigned = true
	return c
}

func TestStartServesConfiguredProtocolsOnly(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{
		"imap": func(d listener.Deps, implicitTLS bool) (listener.Protocol, error) {
			if d.Store == nil || d.Auth == nil || d.TLS == nil {
				t.Error("protocol got incomplete dependencies")
			}
			return newEcho(), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range s.Listening() {
		got[l.Key] = l.Addr
	}
	if len(got) != 2 || got["imap"] == "" || got["imaps"] == "" {
		t.Fatalf("listening on %v, want imap and imaps only (pop3 and smtp have no implementation)", got)
	}

	// Plain listener.
	c, err := net.Dial("tcp", got["imap"])
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if line, _ := r.ReadString('\n'); line != "hello\n" {
		t.Fatalf("greeting %q", line)
	}
	c.Close()

	// Implicit TLS listener, with the self-signed certificate.
	tc, err := tls.Dial("tcp", got["imaps"], &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS handshake on imaps: %v", err)
	}
	if line, _ := bufio.NewReader(tc).ReadString('\n'); line != "hello\n" {
		t.Fatalf("greeting over TLS %q", line)
	}
	tc.Close()

	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deps().Store.Domains(context.Background()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("store after shutdown: %v, want closed", err)
	}
}

// TestShutdownLetsSessionsFinish: an open session may finish its current
// exchange; new connections are refused.
func TestShutdownLetsSessionsFinish(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen.IMAPS = ""
	echo := newEcho()
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{
		"imap": func(listener.Deps, bool) (listener.Protocol, error) { return echo, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Listening()[0].Addr
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	// Wait until the listener is closed, then finish the session's exchange.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Write([]byte("last words\n"))
	if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != "last words" {
		t.Fatalf("session cut off during shutdown: %q", line)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w := <-echo.finished; w != "last words" {
		t.Fatalf("finished with %q", w)
	}
}

func TestShutdownTimeoutClosesStragglers(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen.IMAPS = ""
	echo := newEcho()
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{
		"imap": func(listener.Deps, bool) (listener.Protocol, error) { return echo, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Listening()[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bufio.NewReader(c).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("shutdown did not respect its timeout")
	}
}

func TestSecondServerOnSameDataRefused(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if _, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second server: %v", err)
	}
}

func TestBindFailureIsAnError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.Listen = config.Listen{IMAP: busy.Addr().String()}
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{
		"imap": func(listener.Deps, bool) (listener.Protocol, error) { return newEcho(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "listen.imap") {
		t.Fatalf("bind on a busy port: %v", err)
	}
}
