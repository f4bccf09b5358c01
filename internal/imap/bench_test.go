package imap

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// BenchmarkMailbox100k measures, over a real TLS connection, on a
// 100,000-message INBOX: SELECT, UID FETCH 1:* (UID FLAGS), and ENVELOPE +
// BODYSTRUCTURE of the newest 100 messages. Each step's time is reported
// separately (client-side, so it includes reading the responses).
func BenchmarkMailbox100k(b *testing.B) {
	r := newRig(b)
	acct := r.Account("ann@example.test")
	ctx := context.Background()
	m, err := r.Store.Stage(ctx, strings.NewReader(multipart))
	if err != nil {
		b.Fatal(err)
	}
	inbox := r.Mailbox(acct, "INBOX")
	for done := 0; done < 100_000; done += 1000 {
		targets := make([]store.Target, 1000)
		for i := range targets {
			targets[i] = store.Target{MailboxID: inbox.ID}
			if i%3 == 0 {
				targets[i].Flags = store.FlagSeen
			}
		}
		if _, err := r.Store.Deliver(ctx, m, targets); err != nil {
			b.Fatal(err)
		}
	}
	x := r.raw(true)
	x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	var sel, fetchFlags, fetchEnv time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		x.cmd("s", "SELECT INBOX", "OK")
		sel += time.Since(start)
		start = time.Now()
		if n := len(x.cmd("f", "UID FETCH 1:* (UID FLAGS)", "OK")); n != 100_001 {
			b.Fatalf("%d lines", n)
		}
		fetchFlags += time.Since(start)
		start = time.Now()
		x.cmd("e", "FETCH 99901:* (ENVELOPE BODYSTRUCTURE)", "OK")
		fetchEnv += time.Since(start)
		x.cmd("u", "UNSELECT", "OK")
	}
	n := float64(b.N)
	b.ReportMetric(float64(sel.Microseconds())/n/1000, "SELECT-ms")
	b.ReportMetric(float64(fetchFlags.Microseconds())/n/1000, "FETCH-FLAGS-ms")
	b.ReportMetric(float64(fetchEnv.Microseconds())/n/1000, "ENV+BS-100-ms")
}

// BenchmarkSelect100kAfterRestart is the first SELECT of a 100,000-message
// INBOX after a restart (the store closed cleanly, its WAL checkpointed):
// the index is loaded from the database by this SELECT.
func BenchmarkSelect100kAfterRestart(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	acct := r.Account("ann@example.test")
	m, err := r.Store.Stage(ctx, strings.NewReader(multipart))
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
	r.Shutdown(ctx)
	var sel time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.Restart()
		x := r.raw(true)
		x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
		b.StartTimer()
		start := time.Now()
		x.cmd("s", "SELECT INBOX", "OK")
		sel += time.Since(start)
		b.StopTimer()
		x.cmd("o", "LOGOUT", "OK")
		r.Shutdown(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(sel.Microseconds())/float64(b.N)/1000, "SELECT-ms")
}

// BenchmarkSharedMailbox100k is BenchmarkMailbox100k's INBOX shared with
// kim, who has read every third message (her own \Seen): her SELECT (which
// loads her \Seen), UID FETCH 1:* (UID FLAGS), SEARCH UNSEEN and STATUS
// (UNSEEN), then the owner's SEARCH UNSEEN and STATUS for comparison.
func BenchmarkSharedMailbox100k(b *testing.B) {
	r := newRig(b)
	acct := r.Account("ann@example.test")
	kim := r.Account("kim@example.test")
	ctx := context.Background()
	m, err := r.Store.Stage(ctx, strings.NewReader(multipart))
	if err != nil {
		b.Fatal(err)
	}
	inbox := r.Mailbox(acct, "INBOX")
	var seen []uint32
	for done := 0; done < 100_000; done += 1000 {
		targets := make([]store.Target, 1000)
		for i := range targets {
			targets[i] = store.Target{MailboxID: inbox.ID}
		}
		d, err := r.Store.Deliver(ctx, m, targets)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(d); i += 3 {
			seen = append(seen, d[i].UID)
		}
	}
	if _, err := r.Store.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: seen, Op: store.FlagsAdd, Flags: store.FlagSeen, Account: kim.ID}); err != nil {
		b.Fatal(err)
	}
	o := r.raw(true)
	o.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	o.cmd("a", "SETACL INBOX kim@example.test lrs", "OK")
	x := r.raw(true)
	x.cmd("l", "LOGIN kim@example.test \""+password+"\"", "OK")
	const box = `"Other Users/ann@example.test/INBOX"`
	var sel, fetchFlags, search, status, ownSearch, ownStatus time.Duration
	o.cmd("s", "SELECT INBOX", "OK")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		x.cmd("s", "SELECT "+box, "OK")
		sel += time.Since(start)
		start = time.Now()
		if n := len(x.cmd("f", "UID FETCH 1:* (UID FLAGS)", "OK")); n != 100_001 {
			b.Fatalf("%d lines", n)
		}
		fetchFlags += time.Since(start)
		start = time.Now()
		x.cmd("q", "SEARCH RETURN (COUNT) UNSEEN", "OK")
		search += time.Since(start)
		x.cmd("u", "UNSELECT", "OK")
		start = time.Now()
		x.cmd("t", "STATUS "+box+" (UNSEEN)", "OK")
		status += time.Since(start)
		start = time.Now()
		o.cmd("q", "SEARCH RETURN (COUNT) UNSEEN", "OK")
		ownSearch += time.Since(start)
		start = time.Now()
		o.cmd("t", "STATUS INBOX (UNSEEN)", "OK")
		ownStatus += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(sel.Microseconds())/n/1000, "SELECT-ms")
	b.ReportMetric(float64(fetchFlags.Microseconds())/n/1000, "FETCH-FLAGS-ms")
	b.ReportMetric(float64(search.Microseconds())/n/1000, "SEARCH-UNSEEN-ms")
	b.ReportMetric(float64(status.Microseconds())/n/1000, "STATUS-ms")
	b.ReportMetric(float64(ownSearch.Microseconds())/n/1000, "owner-SEARCH-ms")
	b.ReportMetric(float64(ownStatus.Microseconds())/n/1000, "owner-STATUS-ms")
}
