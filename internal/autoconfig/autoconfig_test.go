package autoconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// testServer is the full Mailroom set of ports, each protocol in its usual
// order of preference.
func testServer() Server {
	return Server{
		Hostname:    "mail.example.org",
		IMAP:        []Endpoint{{993, SecurityTLS}, {143, SecurityStartTLS}},
		POP3:        []Endpoint{{995, SecurityTLS}, {110, SecurityStartTLS}},
		Submission:  []Endpoint{{465, SecurityTLS}, {587, SecurityStartTLS}},
		DisplayName: "Example mail",
	}
}

// domains returns a Lookup that knows the given domains.
func domains(names ...string) Lookup {
	return func(ctx context.Context, domain string) (bool, error) {
		for _, n := range names {
			if n == domain {
				return true, nil
			}
		}
		return false, nil
	}
}

func failingLookup(ctx context.Context, domain string) (bool, error) {
	return false, errors.New("store unavailable")
}

// serve starts an HTTP server with a Handler for srv that hosts example.org
// and example.net.
func serve(t *testing.T, srv Server) *httptest.Server {
	t.Helper()
	return serveHandler(t, New(srv, domains("example.org", "example.net")))
}

func serveHandler(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func TestClientSettings(t *testing.T) {
	h := New(testServer(), domains("example.org"))
	got := h.ClientSettings("bob@example.org")
	want := []Setting{
		{"IMAP", "mail.example.org", 993, "SSL/TLS", "bob@example.org"},
		{"IMAP", "mail.example.org", 143, "STARTTLS", "bob@example.org"},
		{"POP3", "mail.example.org", 995, "SSL/TLS", "bob@example.org"},
		{"POP3", "mail.example.org", 110, "STARTTLS", "bob@example.org"},
		{"SMTP", "mail.example.org", 465, "SSL/TLS", "bob@example.org"},
		{"SMTP", "mail.example.org", 587, "STARTTLS", "bob@example.org"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ClientSettings:\n got %v\nwant %v", got, want)
	}

	srv := testServer()
	srv.POP3 = nil
	for _, s := range New(srv, domains("example.org")).ClientSettings("bob@example.org") {
		if s.Protocol == "POP3" {
			t.Fatalf("POP3 is off but listed: %v", s)
		}
	}
}

// TestNewCopies checks that a Handler keeps its own copy of the endpoints,
// so the caller's slices can be reused.
func TestNewCopies(t *testing.T) {
	srv := testServer()
	h := New(srv, domains("example.org"))
	srv.IMAP[0].Port = 1
	if got := h.ClientSettings("bob@example.org")[0].Port; got != 993 {
		t.Fatalf("first IMAP port %d after the caller changed its slice, want 993", got)
	}
}

func TestNewPanics(t *testing.T) {
	for name, mutate := range map[string]func(*Server, *Lookup){
		"nil lookup":   func(s *Server, l *Lookup) { *l = nil },
		"no hostname":  func(s *Server, l *Lookup) { s.Hostname = "" },
		"bad hostname": func(s *Server, l *Lookup) { s.Hostname = "mail example.org" },
		"port 0":       func(s *Server, l *Lookup) { s.IMAP[0].Port = 0 },
		"port 70000":   func(s *Server, l *Lookup) { s.Submission[1].Port = 70000 },
		"security":     func(s *Server, l *Lookup) { s.POP3[0].Security = "ssl" },
	} {
		t.Run(name, func(t *testing.T) {
			srv, lookup := testServer(), domains("example.org")
			mutate(&srv, &lookup)
			defer func() {
				if recover() == nil {
					t.Fatal("New did not panic")
				}
			}()
			New(srv, lookup)
		})
	}
}

func TestOtherPathsNotFound(t *testing.T) {
	ts := serve(t, testServer())
	for _, path := range []string{"/", "/mail/config-v1.1.XML", "/.well-known/autoconfig/mail/", "/autodiscover/autodiscover.json"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", path, got)
		}
	}
}

// TestConcurrent sends every kind of request from several goroutines at
// once. It is for the race detector.
func TestConcurrent(t *testing.T) {
	h := New(testServer(), domains("example.org"))
	ts := serveHandler(t, h)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("user%d@example.org", i)
			for range 10 {
				for _, req := range []*http.Request{
					httptest.NewRequest(http.MethodGet, ts.URL+"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+email, nil),
					httptest.NewRequest(http.MethodPost, ts.URL+"/autodiscover/autodiscover.xml", strings.NewReader(outlookRequest(email))),
				} {
					req.RequestURI = ""
					resp, err := ts.Client().Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
					}
				}
				if _, err := h.MobileConfig(email, "", "imap"); err != nil {
					t.Error(err)
				}
				h.ClientSettings(email)
			}
		}()
	}
	wg.Wait()
}

func TestPreferred(t *testing.T) {
	for _, tc := range []struct {
		eps  []Endpoint
		want Endpoint
		ok   bool
	}{
		{nil, Endpoint{}, false},
		{[]Endpoint{{143, SecurityStartTLS}}, Endpoint{143, SecurityStartTLS}, true},
		{[]Endpoint{{143, SecurityStartTLS}, {993, SecurityTLS}}, Endpoint{993, SecurityTLS}, true},
		{[]Endpoint{{587, SecurityStartTLS}, {2587, SecurityStartTLS}}, Endpoint{587, SecurityStartTLS}, true},
	} {
		got, ok := preferred(tc.eps)
		if got != tc.want || ok != tc.ok {
			t.Errorf("preferred(%v) = %v, %v; want %v, %v", tc.eps, got, ok, tc.want, tc.ok)
		}
	}
}

// get performs a GET with a Host header of its own.
func get(t *testing.T, ts *httptest.Server, host, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantHeader(t *testing.T, resp *http.Response, key, want string) {
	t.Helper()
	if got := resp.Header.Get(key); !strings.EqualFold(got, want) {
		t.Errorf("%s: %q, want %q", key, got, want)
	}
}
