package dmarcrpt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/xml"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/delivery"
	"mailroom/internal/dmarcrpt"
	"mailroom/internal/mailtest"
	"mailroom/internal/queue"
	"mailroom/internal/remote"
	"mailroom/internal/resolver"
	"mailroom/internal/store/sqlitestore"
)

// TestReporterSendsDaily drives the reporter past midnight and checks
// which report destinations get mail, through the real delivery agent,
// outbound queue and SMTP client: the domain's own address, and a third
// party's only when it agreed (RFC 7489 section 7.1) and the report fits
// its size limit.
func TestReporterSendsDaily(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	dns := mailtest.NewDNS(t)
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
		Store: st, Hostname: "mail.receiver.test", RetryIntervals: []time.Duration{50 * time.Millisecond},
		MaxAge: time.Hour, Concurrency: 2, Logger: logger,
		Transport: remote.New(remote.Config{Hostname: "mail.receiver.test", DNSServers: []string{dns.Addr}, Port: port,
			Timeouts: remote.Timeouts{Connect: 2 * time.Second, DNS: time.Second}, Logger: logger}),
	})
	agent := delivery.New(st, delivery.Config{Outbound: q})
	q.SetReturner(agent)
	qctx, stopQueue := context.WithCancel(ctx)
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(qctx) }()
	t.Cleanup(func() { stopQueue(); <-qdone })
	sink := mailtest.NewSink(t, net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	dns.Add(t,
		"own.test. MX 10 mx.test.", "collector.test. MX 10 mx.test.", "mx.test. A 127.0.0.2",
		`_dmarc.own.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@own.test"`,
		`_dmarc.third.test. TXT "v=DMARC1; p=none; rua=mailto:reports@collector.test"`,
		`third.test._report._dmarc.collector.test. TXT "v=DMARC1"`,
		`_dmarc.unauth.test. TXT "v=DMARC1; p=none; rua=mailto:reports@collector.test"`,
		`_dmarc.big.test. TXT "v=DMARC1; p=none; rua=mailto:dmarc@big.test!1k"`, "big.test. MX 10 mx.test.",
	)

	var (
		cmu sync.Mutex
		now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return now }
	rec := dmarcrpt.NewRecorder(t.TempDir(), clock, logger)
	for _, d := range []string{"own.test", "third.test", "unauth.test"} {
		rec.Record(dmarcrpt.Evaluation{PolicyDomain: d, Policy: dmarcrpt.Policy{ADKIM: "r", ASPF: "r", P: "none", SP: "none", Pct: 100},
			SourceIP: "192.0.2.1", HeaderFrom: d, Disposition: "none", DKIM: "pass", SPF: "pass",
			SPFResult: dmarcrpt.SPFResult{Domain: d, Scope: "mfrom", Result: "pass"}})
	}
	for i := range 300 { // distinct sources: a report over 1 KiB even gzipped
		rec.Record(dmarcrpt.Evaluation{PolicyDomain: "big.test", SourceIP: "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250),
			HeaderFrom: "big.test", Disposition: "none", DKIM: "fail", SPF: "fail",
			SPFResult: dmarcrpt.SPFResult{Domain: "spammer" + strconv.Itoa(i) + ".example", Result: "fail"}})
	}
	tick := make(chan time.Time)
	rep := dmarcrpt.NewReporter(dmarcrpt.ReporterConfig{
		Recorder: rec, Resolver: resolver.New([]string{dns.Addr}, time.Second), Mailer: agent,
		Submitter: "mail.receiver.test", From: "postmaster@receiver.test", Now: clock,
		After: func(time.Duration) <-chan time.Time { return tick }, Logger: logger,
	})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rep.Run(rctx) }()
	defer func() { stop(); <-done }()

	tick <- now
	if n := len(sink.Received()); n != 0 {
		t.Fatalf("%d reports before the day ended", n)
	}
	cmu.Lock()
	now = now.Add(13 * time.Hour)
	cmu.Unlock()
	tick <- now
	tick <- now // the round after midnight has run to its end
	sink.WaitFor(t, 2, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // anything else queued arrives by now
	got := sink.Received()
	var subjects []string
	for _, m := range got {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, m.Recipients[0]+" "+strings.Fields(msg.Header.Get("Subject"))[2])
		// The attachment is the gzipped XML report of that domain.
		_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		mr := multipart.NewReader(msg.Body, params["boundary"])
		mr.NextPart()
		att, err := mr.NextPart()
		if err != nil || att.Header.Get("Content-Type") != "application/gzip" {
			t.Fatalf("attachment: %v %v", err, att)
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, att))
		if err != nil {
			t.Fatal(err)
		}
		var fb dmarcrpt.Feedback
		if err := xml.NewDecoder(zr).Decode(&fb); err != nil || !strings.Contains(msg.Header.Get("Subject"), fb.PolicyPublished.Domain) ||
			len(fb.Records) != 1 || fb.Records[0].Row.SourceIP != "192.0.2.1" {
			t.Errorf("report %+v, %v", fb, err)
		}
	}
	slices.Sort(subjects)
	want := []string{"dmarc@own.test own.test", "reports@collector.test third.test"}
	if !slices.Equal(subjects, want) {
		t.Errorf("reports went to %q, want %q", subjects, want)
	}
	if days, _ := rec.Finished(); len(days) != 0 {
		t.Errorf("the finished day is still kept: %v", days)
	}
}
