package mtasts

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
	"mailroom/internal/testrig/teststore"
)

// policyServer is an HTTPS server on loopback serving a policy for the
// host names its certificate names.
type policyServer struct {
	srv   *httptest.Server
	port  int
	mu    sync.Mutex
	body  string
	ctype string
	code  int
	hits  atomic.Int32
}

func newPolicyServer(t *testing.T, cert tls.Certificate, body string) *policyServer {
	t.Helper()
	ps := &policyServer{body: body, ctype: "text/plain; charset=utf-8", code: 200}
	ps.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.hits.Add(1)
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		if ps.code == http.StatusFound {
			http.Redirect(w, r, "https://elsewhere.test/policy", ps.code)
			return
		}
		w.Header().Set("Content-Type", ps.ctype)
		w.WriteHeader(ps.code)
		w.Write([]byte(ps.body))
	}))
	ps.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	ps.port = ps.srv.Listener.Addr().(*net.TCPAddr).Port
	return ps
}

func (ps *policyServer) set(code int, ctype, body string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.code, ps.ctype, ps.body = code, ctype, body
}

const enforcePolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n"

type world struct {
	dns *mailtest.DNS
	ca  *mailtest.CA
	ps  *policyServer
	now time.Time
	// files is the store the policies are cached in; a second node's
	// store, on the same database, when the world has two nodes.
	files, other Files
}

func newWorld(t *testing.T) *world {
	w := &world{dns: mailtest.NewDNS(t), ca: mailtest.NewCA(t), now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	w.files, w.other = teststore.OpenNodes(t)
	w.ps = newPolicyServer(t, w.ca.Issue(t, "mta-sts.example.test"), enforcePolicy)
	w.dns.Add(t, "mta-sts.example.test. A 127.0.0.1", `_mta-sts.example.test. TXT "v=STSv1; id=1"`)
	return w
}

func (w *world) client(t *testing.T) *Client { return w.clientOn(t, w.files) }

// clientOn is a client caching in files: another node's, say.
func (w *world) clientOn(t *testing.T, files Files) *Client {
	return New(Config{
		Resolver: resolver.New([]string{w.dns.Addr}, time.Second),
		Files:    files, RootCAs: w.ca.Pool, Port: w.ps.port, Timeout: 2 * time.Second,
		Now:    func() time.Time { return w.now },
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
}

func TestLookupFetchesAndCaches(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.client(t)
	r := c.Lookup(ctx, "Example.test.")
	if r.Err != nil || r.Policy == nil || r.Cached || r.Policy.Mode != Enforce || !r.Policy.Matches("mx.example.test") {
		t.Fatalf("first lookup = %+v", r)
	}
	// Same id: no fetch.
	r = c.Lookup(ctx, "example.test")
	if r.Policy == nil || !r.Cached || w.ps.hits.Load() != 1 {
		t.Errorf("second lookup = %+v after %d fetches, want the cached policy", r, w.ps.hits.Load())
	}

	// A new client (a restart, or another node) finds the policy in the
	// store, and keeps
	// using it while the server is down and the record gone.
	w.ps.srv.Close()
	w.dns.Fail("_mta-sts.example.test", 2)
	r = w.client(t).Lookup(ctx, "example.test")
	if r.Policy == nil || r.Policy.Mode != Enforce || !r.Cached {
		t.Errorf("after restart with the server down = %+v, want the cached policy", r)
	}
	r = w.clientOn(t, w.other).Lookup(ctx, "example.test")
	if r.Policy == nil || r.Policy.Mode != Enforce || !r.Cached {
		t.Errorf("on the other node with the server down = %+v, want the cached policy", r)
	}
	// Until it expires.
	w.now = w.now.Add(24*time.Hour + time.Second)
	if r := w.client(t).Lookup(ctx, "example.test"); r.Policy != nil {
		t.Errorf("expired policy still used: %+v", r)
	}
}

func TestLookupRefetchesOnNewID(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.client(t)
	if r := c.Lookup(ctx, "example.test"); r.Policy == nil || r.Policy.Mode != Enforce {
		t.Fatalf("first lookup = %+v", r)
	}
	w.ps.set(200, "text/plain", "version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 600\n")
	w.dns.Add(t, `_mta-sts.example.test. TXT "v=STSv1; id=2"`) // now two records: no policy announced
	r := c.Lookup(ctx, "example.test")
	if r.Policy == nil || r.Policy.Mode != Enforce || w.ps.hits.Load() != 1 {
		t.Errorf("with an ambiguous record = %+v (%d fetches), want the cached policy", r, w.ps.hits.Load())
	}
	w2 := mailtest.NewDNS(t) // a zone with only the new id
	w2.Add(t, "mta-sts.example.test. A 127.0.0.1", `_mta-sts.example.test. TXT "v=STSv1; id=2"`)
	w.dns = w2
	c2 := w.client(t) // same cache directory, new DNS
	r = c2.Lookup(ctx, "example.test")
	if r.Policy == nil || r.Policy.Mode != Testing || r.Cached || w.ps.hits.Load() != 2 {
		t.Errorf("after the id changed = %+v (%d fetches), want the new testing policy", r, w.ps.hits.Load())
	}
	// A new id whose fetch fails: the cached policy stands in, marked so.
	w.ps.set(500, "text/plain", "")
	w3 := mailtest.NewDNS(t)
	w3.Add(t, "mta-sts.example.test. A 127.0.0.1", `_mta-sts.example.test. TXT "v=STSv1; id=9"`)
	w.dns = w3
	if r := w.client(t).Lookup(ctx, "example.test"); r.Policy == nil || r.Policy.Mode != Testing || !r.Cached || !r.FetchFailed {
		t.Errorf("new id, failed fetch = %+v, want the cached testing policy", r)
	}
	w.dns = w2
	// A withdrawn policy (mode none) is no policy.
	w.ps.set(200, "text/plain", "version: STSv1\nmode: none\nmax_age: 600\n")
	w2 = mailtest.NewDNS(t)
	w2.Add(t, "mta-sts.example.test. A 127.0.0.1", `_mta-sts.example.test. TXT "v=STSv1; id=3"`)
	w.dns = w2
	if r := w.client(t).Lookup(ctx, "example.test"); r.Policy != nil || r.Err != nil {
		t.Errorf("mode none = %+v, want no policy", r)
	}
}

func TestLookupFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *world)
		want  error
	}{
		{"redirect", func(t *testing.T, w *world) { w.ps.set(http.StatusFound, "", "") }, ErrFetch},
		{"404", func(t *testing.T, w *world) { w.ps.set(404, "text/plain", "no") }, ErrFetch},
		{"html", func(t *testing.T, w *world) { w.ps.set(200, "text/html", enforcePolicy) }, ErrInvalid},
		{"invalid", func(t *testing.T, w *world) { w.ps.set(200, "text/plain", "version: STSv1\nmode: maybe\n") }, ErrInvalid},
		{"untrusted certificate", func(t *testing.T, w *world) {
			w.ps = newPolicyServer(t, mailtest.SelfSigned(t, "mta-sts.example.test"), enforcePolicy)
		}, ErrWebPKI},
		{"wrong name", func(t *testing.T, w *world) {
			w.ps = newPolicyServer(t, w.ca.Issue(t, "www.example.test"), enforcePolicy)
		}, ErrWebPKI},
		{"no server", func(t *testing.T, w *world) { w.ps.srv.Close() }, ErrFetch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.setup(t, w)
			r := w.client(t).Lookup(ctx, "example.test")
			if r.Policy != nil || !errors.Is(r.Err, tc.want) || ErrorType(r.Err) != tc.want.Error() {
				t.Errorf("Lookup = %+v, want error %v", r, tc.want)
			}
		})
	}
	// No record: no policy, no error.
	w := newWorld(t)
	if r := w.client(t).Lookup(ctx, "other.test"); r.Policy != nil || r.Err != nil {
		t.Errorf("domain without a record = %+v", r)
	}
	// A body larger than the limit is refused.
	w.ps.set(200, "text/plain", enforcePolicy+string(make([]byte, MaxPolicySize)))
	if r := w.client(t).Lookup(ctx, "example.test"); !errors.Is(r.Err, ErrInvalid) {
		t.Errorf("oversized policy: %+v", r)
	}
}

func TestLookupSharesConcurrentFetches(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := c.Lookup(context.Background(), "example.test"); r.Policy == nil {
				t.Errorf("Lookup = %+v", r)
			}
		})
	}
	wg.Wait()
	if n := w.ps.hits.Load(); n != 1 {
		t.Errorf("%d fetches for 20 concurrent lookups, want 1", n)
	}
}

// A policy of a new id that one node fetched is used by another node,
// whose memory still holds the old one, without fetching it again.
func TestLookupNewIDFromOtherNode(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	b := w.clientOn(t, w.other)
	if r := b.Lookup(ctx, "example.test"); r.Policy == nil || r.Policy.Mode != Enforce {
		t.Fatalf("node b's first lookup = %+v", r)
	}
	w.ps.set(200, "text/plain", "version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 600\n")
	w2 := mailtest.NewDNS(t)
	w2.Add(t, "mta-sts.example.test. A 127.0.0.1", `_mta-sts.example.test. TXT "v=STSv1; id=2"`)
	w.dns = w2
	a := w.clientOn(t, w.files) // node a, with the new DNS
	b.cfg.Resolver = resolver.New([]string{w2.Addr}, time.Second)
	if r := a.Lookup(ctx, "example.test"); r.Policy == nil || r.Policy.Mode != Testing || w.ps.hits.Load() != 2 {
		t.Fatalf("node a after the id changed = %+v (%d fetches)", r, w.ps.hits.Load())
	}
	if r := b.Lookup(ctx, "example.test"); r.Policy == nil || r.Policy.Mode != Testing || !r.Cached || w.ps.hits.Load() != 2 {
		t.Fatalf("node b after node a fetched id 2 = %+v (%d fetches), want a's policy from the store", r, w.ps.hits.Load())
	}
}

// An upgrade imports the policies the data directory cached, once.
func TestImportDir(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := New(Config{Resolver: resolver.New([]string{w.dns.Addr}, time.Second), RootCAs: w.ca.Pool, Port: w.ps.port,
		Now: func() time.Time { return w.now }})
	if r := c.Lookup(ctx, "example.test"); r.Policy == nil {
		t.Fatalf("lookup = %+v", r)
	}
	data, err := json.Marshal(c.mem["example.test"])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "example.test.json"), data, 0o600)
	os.WriteFile(filepath.Join(dir, "example.test.123.tmp"), data, 0o600)
	os.WriteFile(filepath.Join(dir, "broken.test.json"), []byte("{"), 0o600)
	st := teststore.Open(t)
	if n, err := ImportDir(ctx, st, dir, nil); n != 1 || err != nil {
		t.Fatalf("ImportDir = %d, %v", n, err)
	}
	w.ps.srv.Close()
	if r := w.clientOn(t, st).Lookup(ctx, "example.test"); r.Policy == nil || !r.Cached {
		t.Fatalf("imported policy not used: %+v", r)
	}
	st.WriteFile(ctx, filePrefix+"example.test", []byte("{}"))
	if n, err := ImportDir(ctx, st, dir, nil); n != 0 || err != nil {
		t.Fatalf("second ImportDir = %d, %v", n, err)
	}
}
