package web

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// BenchmarkMailboxPage100k: time to first byte of the message list of a
// 100,000-message INBOX, the first time (the shared index loads) and then.
//
//	go test -run '^$' -bench MailboxPage100k -benchtime 10x ./internal/web/
func BenchmarkMailboxPage100k(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	inbox, err := r.Store.Mailbox(ctx, r.acct.ID, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	for done := 0; done < 100_000; done += 1000 {
		m, err := r.Store.Stage(ctx, strings.NewReader(sample))
		if err != nil {
			b.Fatal(err)
		}
		targets := make([]store.Target, 1000)
		for i := range targets {
			targets[i] = store.Target{MailboxID: inbox.ID}
		}
		if _, err := r.Store.Deliver(ctx, m, targets); err != nil {
			b.Fatal(err)
		}
	}
	br := r.browser()
	resp, err := br.postLogin(map[string][]string{"email": {"ann@example.test"}, "password": {password}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	ttfb := func() time.Duration {
		start := time.Now()
		resp, err := br.c.Get(r.base + "/mail/INBOX")
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return d
	}
	cold := ttfb()
	b.ResetTimer()
	var warm time.Duration
	for i := 0; i < b.N; i++ {
		warm += ttfb()
	}
	b.ReportMetric(float64(cold.Microseconds())/1000, "first-ms")
	b.ReportMetric(float64(warm.Microseconds())/1000/float64(b.N), "then-ms")
}

// BenchmarkLiveLatency: time from a delivery's commit (when SMTP answers
// 250) to the change event reaching an open page's stream.
//
//	go test -run '^$' -bench LiveLatency -benchtime 50x ./internal/web/
func BenchmarkLiveLatency(b *testing.B) {
	r := newRig(b)
	br := r.browser()
	resp, err := br.postLogin(map[string][]string{"email": {"ann@example.test"}, "password": {password}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", r.base+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := br.c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer stream.Body.Close()
	events := make(chan time.Time, 100)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				events <- time.Now()
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Deliver(r.acct, sample)
		committed := time.Now()
		select {
		case at := <-events:
			total += at.Sub(committed)
		case <-time.After(5 * time.Second):
			b.Fatal("no event")
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/event")
}
