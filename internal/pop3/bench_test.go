package pop3

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// BenchmarkListUIDL100k: log in to a 100,000-message INBOX (the snapshot),
// then LIST and UIDL the whole maildrop, over a real TLS connection.
// Reports the time of each step.
func BenchmarkListUIDL100k(b *testing.B) {
	r := newRig(b, nil)
	acct := r.Account("ann@example.test")
	ctx := context.Background()
	m, err := r.Store.Stage(ctx, strings.NewReader(message("bench", strings.Repeat("body line\r\n", 100))))
	if err != nil {
		b.Fatal(err)
	}
	inbox := r.Mailbox(acct, "INBOX")
	for done := 0; done < 100_000; done += 1000 {
		targets := make([]store.Target, 1000)
		for i := range targets {
			targets[i] = store.Target{MailboxID: inbox.ID}
		}
		if _, err := r.Store.Deliver(ctx, m, targets); err != nil {
			b.Fatal(err)
		}
	}
	var login, list, uidl time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := r.dial(r.Addr("pop3s"), true)
		c.cmd("USER ann@example.test", "+OK")
		start := time.Now()
		c.cmd("PASS "+password, "+OK maildrop has 100000 messages")
		login += time.Since(start)
		start = time.Now()
		c.cmd("LIST", "+OK")
		if n := strings.Count(c.multi(), "\n"); n != 100_000 {
			b.Fatalf("LIST returned %d lines", n)
		}
		list += time.Since(start)
		start = time.Now()
		c.cmd("UIDL", "+OK")
		c.multi()
		uidl += time.Since(start)
		c.cmd("QUIT", "+OK")
	}
	n := float64(b.N)
	b.ReportMetric(float64(login.Milliseconds())/n, "login-ms")
	b.ReportMetric(float64(list.Milliseconds())/n, "LIST-ms")
	b.ReportMetric(float64(uidl.Milliseconds())/n, "UIDL-ms")
}
