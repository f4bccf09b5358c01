package debugserver

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"mailroom/internal/panics"
)

func TestServesProfilerAndVars(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p panics.Counter
	p.Report(nil, "test", "one")
	s := New(nil, &p)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	for path, want := range map[string]string{
		"/debug/pprof/goroutine?debug=1": "goroutine profile: total",
		"/debug/vars":                    `"memstats"`,
	} {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	// The server's panic count, in a document that is still one JSON
	// object.
	resp, err := http.Get("http://" + ln.Addr().String() + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	var vars struct {
		Mailroom struct{ Panics int64 }
		Memstats map[string]any
	}
	err = json.NewDecoder(resp.Body).Decode(&vars)
	resp.Body.Close()
	if err != nil || vars.Mailroom.Panics != 1 || vars.Memstats == nil {
		t.Fatalf("/debug/vars: %+v, %v", vars, err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}
