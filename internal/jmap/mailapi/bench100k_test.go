package mailapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// fill100k fills ann's INBOX with 100,000 messages in about 50,000 threads:
// one of 9 (the one the benchmark opens), the rest of 1 to 3
// messages, arriving at shuffled times over a year so that a thread's
// messages are apart in the list, a fifth of them unread. A thread's
// messages are copies of one staged message (same Message-ID, so one
// thread): about 50,000 bodies staged instead of 100,000, in transactions of
// about 2,000 deliveries. It returns the number of threads.
func fill100k(b *testing.B, r *rig) int {
	b.Helper()
	ctx := context.Background()
	inbox := r.Mailbox(r.acct, "INBOX")
	const total = 100_000
	rnd := rand.New(rand.NewPCG(1, 2))
	// Arrival times: a shuffled second each over a year.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times := make([]int, total)
	for i := range times {
		times[i] = i * 300
	}
	rnd.Shuffle(len(times), func(i, j int) { times[i], times[j] = times[j], times[i] })
	next := 0
	var batch []store.Delivery
	flush := func() {
		if _, err := r.Store.DeliverAll(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	t := 0
	for ; next < total; t++ {
		copies := 1 + rnd.IntN(3)
		if t == 0 {
			copies = 9
		}
		copies = min(copies, total-next)
		raw := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: ann@example.test\r\nSubject: thread %d about things\r\n"+
			"Message-ID: <t%d@example.org>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\n"+
			"Body of thread %d, with a few words of text so that the preview has some.\r\n", t%997, t%997, t, t, t)
		m, err := r.Store.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		d := store.Delivery{Msg: m}
		for range copies {
			tg := store.Target{MailboxID: inbox.ID, InternalDate: base.Add(time.Duration(times[next]) * time.Second)}
			if rnd.IntN(5) != 0 {
				tg.Flags = store.FlagSeen
			}
			d.Targets = append(d.Targets, tg)
			next++
		}
		batch = append(batch, d)
		if len(batch) >= 1000 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return t
}

// BenchmarkFirstScreen100k is the new webmail's first screen after login
// on a 100,000-message INBOX, each request's round trip timed apart:
//
//   - list: Email/query (INBOX, newest first, collapseThreads, 50,
//     calculateTotal) + Email/get of the 50 with the list's properties +
//     Mailbox/get, in one request;
//   - thread: Thread/get + Email/get of a 9-message thread;
//   - page2, page20: the list's query + get at position 50 and 1,000;
//   - anchor: the page after the 50th Email by anchor.
//
// first-mbox-ms is the first request after a restart, Mailbox/get alone
// (the INBOX's shared index loads then); first-ms the list request after it
// (the 50 Emails' structures are read then).
//
//	go test -run '^$' -bench FirstScreen100k -benchtime 20x -timeout 30m ./internal/jmap/mailapi/
func BenchmarkFirstScreen100k(b *testing.B) {
	r := newRigB(b)
	start := time.Now()
	threads := fill100k(b, r)
	b.Logf("fixture: %v", time.Since(start))
	r.Restart() // a server that has not read the INBOX yet, as after a restart
	r.base = "http://" + r.Addr("http")
	cl := r.clientB(b, "ann@example.test")
	inbox := fmt.Sprintf("F%d", r.Mailbox(r.acct, "INBOX").ID)
	listProps := []string{"id", "threadId", "mailboxIds", "keywords", "from", "subject", "receivedAt", "sentAt", "size", "hasAttachment", "preview"}
	query := func(extra map[string]any) map[string]any {
		q := map[string]any{"accountId": cl.account, "filter": map[string]any{"inMailbox": inbox},
			"sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "collapseThreads": true,
			"position": 0, "limit": 50, "calculateTotal": true}
		for k, v := range extra {
			q[k] = v
		}
		return q
	}
	get := map[string]any{"accountId": cl.account, "#ids": map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"},
		"properties": listProps}
	list := func(extra map[string]any, withMailboxes bool) []invocation {
		calls := [][]any{{"Email/query", query(extra), "q"}, {"Email/get", get, "g"}}
		if withMailboxes {
			calls = append(calls, []any{"Mailbox/get", map[string]any{"accountId": cl.account, "ids": nil}, "m"})
		}
		resp := cl.call(nil, calls...)
		if len(resp) != len(calls) || resp[0].Name != "Email/query" || len(resp[1].Args["list"].([]any)) != 50 {
			b.Fatalf("list: %v", resp)
		}
		return resp
	}
	// The first request after the restart, alone: Mailbox/get, which
	// loads the INBOX's index into the mailbox service.
	t0 := time.Now()
	cl.one("Mailbox/get", map[string]any{"ids": nil})
	coldMailboxes := time.Since(t0)
	t0 = time.Now()
	first := list(nil, true)
	cold := time.Since(t0)
	if n := first[0].Args["total"].(float64); int(n) != threads {
		b.Fatalf("total %v, want %d threads", n, threads)
	}
	// The 9-message thread, the only one of 9, found in the store (a
	// search of the subject would read 100,000 bodies not yet indexed).
	perThread := map[int64]int{}
	for _, m := range r.Messages(r.acct, "INBOX") {
		perThread[m.ThreadID]++
	}
	thread := ""
	for id, n := range perThread {
		if n == 9 {
			thread = fmt.Sprintf("T%d", id)
		}
	}
	threadCalls := [][]any{
		{"Thread/get", map[string]any{"accountId": cl.account, "ids": []string{thread}}, "t"},
		{"Email/get", map[string]any{"accountId": cl.account, "#ids": map[string]any{"resultOf": "t", "name": "Thread/get", "path": "/list/*/emailIds"},
			"properties": append(listProps, "to", "cc", "bodyValues", "textBody", "htmlBody", "attachments"), "fetchHTMLBodyValues": true}, "e"},
	}
	anchor := first[0].Args["ids"].([]any)[49].(string)
	var tList, tThread, tPage2, tPage20, tAnchor time.Duration
	timed := func(d *time.Duration, fn func()) {
		s := time.Now()
		fn()
		*d += time.Since(s)
	}
	// b.Loop runs the function once, so the fixture is built once.
	for b.Loop() {
		timed(&tList, func() { list(nil, true) })
		timed(&tThread, func() {
			resp := cl.call(nil, threadCalls...)
			if len(resp) != 2 || len(resp[1].Args["list"].([]any)) != 9 {
				b.Fatalf("thread: %v", resp)
			}
		})
		timed(&tPage2, func() { list(map[string]any{"position": 50}, false) })
		timed(&tPage20, func() { list(map[string]any{"position": 1000}, false) })
		timed(&tAnchor, func() { list(map[string]any{"anchor": anchor, "anchorOffset": 1}, false) })
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(coldMailboxes), "first-mbox-ms")
	b.ReportMetric(ms(cold), "first-ms")
	b.ReportMetric(ms(tList)/n, "list-ms")
	b.ReportMetric(ms(tThread)/n, "thread-ms")
	b.ReportMetric(ms(tPage2)/n, "page2-ms")
	b.ReportMetric(ms(tPage20)/n, "page20-ms")
	b.ReportMetric(ms(tAnchor)/n, "anchor-ms")
}
