package web

import (
	"context"
	"net"
	"testing"
	"time"
)

// slowListener is a listener whose Accept, once closed, returns only when
// released: the moment between the server closing a listener and Serve
// noticing it, held open.
type slowListener struct {
	net.Listener
	release chan struct{}
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.release
	}
	return c, err
}

// TestShutdownAfterListenerClosed: internal/server closes a listener, then
// shuts its protocol down. Web's Shutdown must not report the listener's
// second close (http.Server closes the listeners it still tracks) as a
// failure: it was flaky in the rigs' shutdown ("listen.http: close tcp …:
// use of closed network connection").
func TestShutdownAfterListenerClosed(t *testing.T) {
	r := newRig(t)
	proto, err := Factory()(r.Server.Deps(), false)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &slowListener{Listener: inner, release: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- proto.Serve(ln) }()
	time.Sleep(50 * time.Millisecond) // Serve is in Accept
	ln.Close()
	// Serve notices only after Shutdown has begun (which waits for it).
	time.AfterFunc(100*time.Millisecond, func() { close(ln.release) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proto.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after the listener was closed: %v", err)
	}
	<-served
}
