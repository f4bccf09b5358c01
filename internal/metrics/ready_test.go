package metrics_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/listener"
	"mailroom/internal/testrig"
)

func probe(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestReadyzWhileDraining: /healthz and /readyz answer 200 while the
// server runs; once a shutdown has begun and a session is still finishing
// its command, /readyz says 503 "draining" (the metrics listener stops
// last), and /healthz still says the process is alive.
func TestReadyzWhileDraining(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	hooks := &listener.TestHooks{Command: func(proto, remote, name string) {
		if proto == "imap" && name == "NOOP" {
			close(entered)
			<-release
		}
	}}
	r := start(t, testrig.Hooks(hooks))
	r.Account("ann@example.test")
	addr := r.Addr("metrics")
	if code, body := probe(t, addr, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := probe(t, addr, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}

	c, err := imapclient.DialTLS(r.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("ann@example.test", testrig.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	noop := c.Noop()
	<-entered // the session is busy: a shutdown waits for it
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- r.Shutdown(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := probe(t, addr, "/readyz")
		if code == http.StatusServiceUnavailable {
			if body != "draining for shutdown\n" {
				t.Errorf("/readyz while draining: %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %q during the shutdown", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := probe(t, addr, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200 (the process is alive)", code)
	}
	close(release)
	if err := noop.Wait(); err != nil {
		t.Errorf("the NOOP in progress during the drain: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestReadyzStoreClosed: with its store gone (a database that stops),
// the server is alive but not ready.
func TestReadyzStoreClosed(t *testing.T) {
	r := start(t)
	addr := r.Addr("metrics")
	if code, _ := probe(t, addr, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}
	r.Store.Close()
	code, body := probe(t, addr, "/readyz")
	if code != http.StatusServiceUnavailable || body != "store unavailable\n" {
		t.Fatalf("/readyz with the store closed: %d %q, want 503 store unavailable", code, body)
	}
	if code, _ := probe(t, addr, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the store closed: %d, want 200", code)
	}
	// A scrape still answers: the queue's figures are left out, the rest is there.
	s := fetch(t, r)
	if s["go_goroutines"] == nil || s["mailroom_store_commit_duration_seconds"] == nil {
		t.Errorf("scrape with the store closed lost more than the queue: %s", s.names())
	}
	if s["mailroom_queue_messages"] != nil {
		t.Errorf("queue figures with the store closed: %v", s["mailroom_queue_messages"])
	}
}
