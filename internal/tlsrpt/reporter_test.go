package tlsrpt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"sync"
	"testing"
	"time"

	"mailroom/internal/delivery"
	"mailroom/internal/mailtest"
	"mailroom/internal/queue"
	"mailroom/internal/remote"
	"mailroom/internal/resolver"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/testrig/teststore"
	"mailroom/internal/tlsrpt"
)

// TestReporterSendsDaily records outcomes for two domains, drives the
// reporter's clock past midnight, and checks that each domain's report
// arrives where its _smtp._tls record says: by mail through the real
// delivery agent, outbound queue and SMTP client to the domain's MX (a
// sink on loopback), and by HTTPS POST.
func TestReporterSendsDaily(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	dns := mailtest.NewDNS(t)
	ca := mailtest.NewCA(t)

	// The outbound path: store, queue, SMTP client, delivery agent.
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := hold.Addr().(*net.TCPAddr).Port
	hold.Close()
	q := queue.New(queue.Options{
		Store: st, Hostname: "mail.sender.test", RetryIntervals: []time.Duration{50 * time.Millisecond},
		MaxAge: time.Hour, Concurrency: 2, Logger: logger,
		Transport: remote.New(remote.Config{Hostname: "mail.sender.test", DNSServers: []string{dns.Addr}, Port: port,
			Timeouts: remote.Timeouts{Connect: 2 * time.Second, DNS: time.Second}, Logger: logger}),
	})
	agent := delivery.New(st, delivery.Config{Outbound: q})
	q.SetReturner(agent)
	qctx, stopQueue := context.WithCancel(ctx)
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(qctx) }()
	t.Cleanup(func() { stopQueue(); <-qdone })

	sink := mailtest.NewSink(t, net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	var (
		mu    sync.Mutex
		posts [][]byte
		ctype string
	)
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, body)
		ctype = r.Header.Get("Content-Type")
		mu.Unlock()
	}))
	web.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "reports.posted.test")}}
	web.StartTLS()
	t.Cleanup(web.Close)

	dns.Add(t,
		"mailed.test. MX 10 mx.mailed.test.", "mx.mailed.test. A 127.0.0.2",
		`_smtp._tls.mailed.test. TXT "v=TLSRPTv1; rua=mailto:tls-reports@mailed.test"`,
		`_smtp._tls.posted.test. TXT "v=TLSRPTv1; rua=https://reports.posted.test/report"`,
		"quiet.test. MX 10 mx.mailed.test.", // no _smtp._tls record: no report
	)

	var (
		cmu sync.Mutex
		now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return now }
	rec := tlsrpt.NewRecorder(st, clock, logger)
	tick := make(chan time.Time)
	rep := tlsrpt.NewReporter(tlsrpt.ReporterConfig{
		Recorder: rec, Resolver: resolver.New([]string{dns.Addr}, time.Second), Mailer: agent,
		Submitter: "mail.sender.test", From: "postmaster@sender.test",
		// reports.posted.test is the HTTPS server on loopback.
		HTTP: &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, web.Listener.Addr().String())
			},
		}},
		After:  func(time.Duration) <-chan time.Time { return tick },
		Leases: st,
		Logger: logger,
	})
	for _, d := range []string{"mailed.test", "posted.test", "quiet.test"} {
		rec.RecordTLS(tlsrpt.Outcome{PolicyDomain: d, PolicyType: tlsrpt.PolicyNone, Success: true, ReceivingMX: "mx." + d})
		rec.RecordTLS(tlsrpt.Outcome{PolicyDomain: d, PolicyType: tlsrpt.PolicyNone, ResultType: tlsrpt.ResultSTARTTLSNotSupported, ReceivingMX: "mx." + d})
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rep.Run(rctx) }()
	defer func() { stop(); <-done }()

	// Before midnight nothing goes out.
	tick <- now
	tick <- now
	if n := len(sink.Received()); n != 0 {
		t.Fatalf("%d reports mailed before the day ended", n)
	}
	// Nor just after midnight: other nodes may not have saved their
	// counts of the day yet (Grace, twice Every by default).
	cmu.Lock()
	now = now.Add(12*time.Hour + time.Minute)
	cmu.Unlock()
	tick <- now
	tick <- now
	if n := len(sink.Received()); n != 0 {
		t.Fatalf("%d reports mailed within the grace after midnight", n)
	}
	cmu.Lock()
	now = now.Add(20 * time.Minute)
	cmu.Unlock()
	tick <- now

	m := sink.WaitFor(t, 1, 10*time.Second)[0]
	if m.Recipients[0] != "tls-reports@mailed.test" || m.From != "" {
		t.Errorf("report mailed from <%s> to %v", m.From, m.Recipients)
	}
	js := attachment(t, m.Data)
	var report tlsrpt.Report
	if err := json.Unmarshal(js, &report); err != nil {
		t.Fatal(err)
	}
	if p := report.Policies[0]; p.Policy.Domain != "mailed.test" || p.Summary.Success != 1 || p.Summary.Failure != 1 ||
		p.FailureDetails[0].ResultType != "starttls-not-supported" || report.DateRange.Start.Format(time.DateOnly) != "2026-12-06" {
		t.Errorf("report: %s", js)
	}

	// Two more rounds: once the second tick is taken, the round after
	// the first has run to its end. Nothing is sent twice.
	tick <- now
	tick <- now
	mu.Lock()
	gotPosts, gotType := len(posts), ctype
	var post []byte
	if gotPosts > 0 {
		post = posts[0]
	}
	mu.Unlock()
	if gotPosts != 1 || gotType != "application/tlsrpt+gzip" {
		t.Fatalf("%d posts of type %q, want one application/tlsrpt+gzip", gotPosts, gotType)
	}
	zr, err := gzip.NewReader(bytes.NewReader(post))
	if err != nil {
		t.Fatal(err)
	}
	var posted tlsrpt.Report
	if err := json.NewDecoder(zr).Decode(&posted); err != nil || posted.Policies[0].Policy.Domain != "posted.test" {
		t.Errorf("posted report %+v, %v", posted, err)
	}
	time.Sleep(200 * time.Millisecond) // a second mail, if one were queued, would arrive by now
	if n := len(sink.Received()); n != 1 {
		t.Errorf("%d reports mailed, want 1 (quiet.test asks for none)", n)
	}
	if days, _ := rec.Finished(ctx); len(days) != 0 {
		t.Errorf("the finished day is still kept: %v", days)
	}
}

// TestReportersOnNodesSendOnce: the TLS-RPT counts two nodes recorded for
// one policy domain and day add up in one report, which one of the nodes
// sends, once, however the nodes' rounds fall.
func TestReportersOnNodesSendOnce(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	dns := mailtest.NewDNS(t)
	ca := mailtest.NewCA(t)
	var (
		mu    sync.Mutex
		posts []tlsrpt.Report
	)
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		var rep tlsrpt.Report
		if err := json.NewDecoder(zr).Decode(&rep); err != nil {
			t.Error(err)
		}
		mu.Lock()
		posts = append(posts, rep)
		mu.Unlock()
	}))
	web.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "reports.posted.test")}}
	web.StartTLS()
	t.Cleanup(web.Close)
	dns.Add(t, `_smtp._tls.posted.test. TXT "v=TLSRPTv1; rua=https://reports.posted.test/report"`)

	var (
		cmu sync.Mutex
		now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return now }
	var reps []*tlsrpt.Reporter
	for i, st := range []tlsrpt.Files{a, b, a, b} {
		rec := tlsrpt.NewRecorder(st, clock, nil)
		for range i + 1 {
			rec.RecordTLS(tlsrpt.Outcome{PolicyDomain: "posted.test", PolicyType: tlsrpt.PolicyNone, Success: true})
		}
		rec.RecordTLS(tlsrpt.Outcome{PolicyDomain: "posted.test", PolicyType: tlsrpt.PolicyNone, ResultType: tlsrpt.ResultSTARTTLSNotSupported, ReceivingMX: "mx.posted.test"})
		if err := rec.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, tlsrpt.NewReporter(tlsrpt.ReporterConfig{
			Recorder: rec, Resolver: resolver.New([]string{dns.Addr}, time.Second), Leases: st.(tlsrpt.Leases),
			Submitter: "mail.sender.test", From: "postmaster@sender.test",
			HTTP: &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, web.Listener.Addr().String())
				},
			}},
		}))
	}
	cmu.Lock()
	now = now.Add(13 * time.Hour)
	cmu.Unlock()
	for range 3 {
		var wg sync.WaitGroup
		for _, rep := range reps {
			wg.Go(func() { rep.SendFinished(ctx) })
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 {
		t.Fatalf("%d reports posted, want 1", len(posts))
	}
	if s := posts[0].Policies[0].Summary; s.Success != 1+2+3+4 || s.Failure != 4 {
		t.Errorf("report summary %+v, want the four nodes' 10 successes and 4 failures", s)
	}
}

// attachment returns the decoded, gunzipped application/tlsrpt+gzip part.
func attachment(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no tlsrpt attachment: %v", err)
		}
		if p.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		js, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
}
