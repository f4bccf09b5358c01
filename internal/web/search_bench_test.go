package web

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// BenchmarkSearchPage100k: one page of web search results over an account
// of 100,000 messages (90,000 in INBOX, 10,000 in Archive, one in ten
// unread), through HTTP: a query decided by the in-memory index alone, one
// that reads every message's header, and one that reads every body. This
// is the scan the mailbox service's index is to replace.
//
//	go test -run '^$' -bench SearchPage100k -benchtime 3x ./internal/web/
func BenchmarkSearchPage100k(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	for _, f := range []struct {
		name string
		n    int
	}{{"INBOX", 90_000}, {"Archive", 10_000}} {
		mb := r.Mailbox(r.acct, f.name)
		for done := 0; done < f.n; done += 1000 {
			m, err := r.Store.Stage(ctx, strings.NewReader(sample))
			if err != nil {
				b.Fatal(err)
			}
			targets := make([]store.Target, 1000)
			for i := range targets {
				targets[i] = store.Target{MailboxID: mb.ID, Flags: store.FlagSeen}
				if i%10 == 0 {
					targets[i].Flags = 0
				}
			}
			if _, err := r.Store.Deliver(ctx, m, targets); err != nil {
				b.Fatal(err)
			}
		}
	}
	br := r.browser()
	br.c.Timeout = 10 * time.Minute
	resp, err := br.postLogin(map[string][]string{"email": {"ann@example.test"}, "password": {password}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	get := func(q string) time.Duration {
		start := time.Now()
		resp, err := br.c.Get(r.base + "/search?q=" + url.QueryEscape(q))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	get("") // loads the shared indexes
	for _, q := range []struct{ name, q string }{
		{"is-unread", "is:unread"},
		{"from", "from:bob"},
		{"word", "noon"},
	} {
		b.Run(q.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				total += get(q.q)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}
