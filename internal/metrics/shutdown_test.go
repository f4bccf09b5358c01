package metrics

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// slowAcceptListener is a listener whose Accept, once closed, returns only
// when it is closed a second time (by http.Server's Shutdown): the moment
// between internal/server closing the listener and Serve noticing, held
// open.
type slowAcceptListener struct {
	net.Listener
	closes  *atomic.Int32
	release chan struct{}
}

func (l slowAcceptListener) Close() error {
	err := l.Listener.Close()
	if l.closes.Add(1) == 2 {
		close(l.release)
	}
	return err
}

func (l slowAcceptListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.release
	}
	return c, err
}

// TestShutdownAfterListenerClosed: the server closes each listener before
// calling Shutdown; http.Server closes the listeners Serve still tracks,
// so a Serve that has not returned yet made Shutdown fail with "use of
// closed network connection" (CI, stop 30). Closed twice is still closed.
func TestShutdownAfterListenerClosed(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := slowAcceptListener{Listener: inner, closes: new(atomic.Int32), release: make(chan struct{})}
	s := NewServer(New(), nil, nil, nil)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	// Serve tracks the listener before its first Accept; a connection
	// that is answered proves it has got that far.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after the listener was closed: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
