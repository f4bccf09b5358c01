package listener

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"mailroom/internal/testrig/logbuf"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mailroom/internal/panics"
)

// A panicking session is closed and counted; the accept loop and another
// session go on.
func TestSessionsContainAPanic(t *testing.T) {
	var logs logbuf.Buffer
	var pc panics.Counter
	ss := NewSessions("test", slog.New(slog.NewTextHandler(&logs, nil)), &pc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- ss.Serve(ln, func(c net.Conn, _ *Session) {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				if sc.Text() == "panic" {
					panic("test panic in a session")
				}
				io.WriteString(c, sc.Text()+"\n")
			}
		})
	}()
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	echo := func(c net.Conn, r *bufio.Reader, s string) {
		t.Helper()
		io.WriteString(c, s+"\n")
		if got, err := r.ReadString('\n'); err != nil || got != s+"\n" {
			t.Fatalf("echo %q: %q, %v", s, got, err)
		}
	}
	other, otherR := dial()
	echo(other, otherR, "before")
	victim, victimR := dial()
	io.WriteString(victim, "panic\n")
	if got, err := io.ReadAll(victimR); err != nil || len(got) != 0 {
		t.Fatalf("panicked session: read %q, %v; want its connection closed", got, err)
	}
	echo(other, otherR, "after")
	fresh, freshR := dial()
	echo(fresh, freshR, "new")
	for pc.Count() != 1 {
		time.Sleep(5 * time.Millisecond) // the report follows the close
	}
	if s := logs.String(); !strings.Contains(s, "level=ERROR") || !strings.Contains(s, "test panic in a session") || !strings.Contains(s, "listener_test.go") {
		t.Fatalf("log lacks the ERROR record with the stack:\n%s", s)
	}
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	other.Close()
	fresh.Close()
	if err := ss.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// RecoverHTTP reports a handler's panic and aborts its response; a
// deliberate http.ErrAbortHandler is not a panic to report.
func TestRecoverHTTP(t *testing.T) {
	var logs logbuf.Buffer
	var pc panics.Counter
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("test panic in a handler") })
	mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "fine") })
	srv := httptest.NewServer(RecoverHTTP("http", slog.New(slog.NewTextHandler(&logs, nil)), &pc, mux))
	defer srv.Close()
	for _, path := range []string{"/panic", "/abort"} {
		if resp, err := http.Get(srv.URL + path); err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s: %s, want the response aborted", path, resp.Status)
		}
	}
	resp, err := http.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fine" {
		t.Fatalf("GET /ok after the panic: %q", body)
	}
	if pc.Count() != 1 {
		t.Fatalf("count %d, want 1 (the abort is not a panic)", pc.Count())
	}
	if s := logs.String(); strings.Count(s, "level=ERROR") != 1 || !strings.Contains(s, "path=/panic") || !strings.Contains(s, "listener_test.go") {
		t.Fatalf("log:\n%s", s)
	}
}
