package webapp_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestAppPerformance measures, with the browser's Performance API, what a
// person waits for on an Inbox of many messages: the list's first paint
// after login, opening a conversation, and a keyboard action (archive)
// reflected on screen. It asserts nothing about time (a shared machine
// would make that flaky); it logs the figures, which docs/benchmarks.md
// records for 100,000 messages:
//
//	MAILROOM_APP_PERF_MESSAGES=100000 go test -count=1 -v -run TestAppPerformance ./internal/webapp/
//
// Without the variable it runs on 2,000 messages, so that the
// measurement itself stays tested.
func TestAppPerformance(t *testing.T) {
	n := 2000
	if v := os.Getenv("MAILROOM_APP_PERF_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			t.Fatalf("MAILROOM_APP_PERF_MESSAGES=%q", v)
		}
	}
	r := start(t)
	inbox := r.Mailbox(r.acct, "INBOX")
	ctx := context.Background()
	began := time.Now()
	const batch = 1
	for i := 0; i < n; i += batch {
		var targets []store.Target
		for range min(batch, n-i) {
			targets = append(targets, store.Target{MailboxID: inbox.ID})
		}
		// One body, many copies: the fixture is about list size, and one
		// staged body delivered to many targets is the store's fast path.
		raw := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: ann@example.test\r\nSubject: Message number %d with a subject of usual length\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <perf-%d@example.org>\r\n\r\n%s\r\n",
			i, i, i, i, strings.Repeat("A line of text in the message body. ", 40))
		staged, err := r.Store.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Store.Deliver(ctx, staged, targets); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("fixture: %d messages in the INBOX in %v", n, time.Since(began).Round(time.Millisecond))

	b := r.tab(t)
	eventually(t, "the first page of the list", func() bool { return rows(b) >= 50 })
	listShown := chromium.Eval[float64](b, `performance.getEntriesByName("mailroom-list-shown")[0]?.startTime ?? -1`)
	if listShown < 0 {
		t.Fatal("the app did not mark the list's first paint")
	}
	// The login form's POST and its redirect come before this page's
	// navigation start; the figure is from the app's page request on.
	t.Logf("inbox of %d: list shown %.0f ms after the app's page was requested", n, listShown)
	// Where the time went: the page, its assets and each request, from
	// the page's request on.
	t.Logf("inbox of %d: %s", n, chromium.Eval[string](b, `[
		...performance.getEntriesByType("navigation").map(e => "page " + e.responseEnd.toFixed(0) + " ms"),
		...performance.getEntriesByType("resource").filter(e => e.startTime < performance.getEntriesByName("mailroom-list-shown")[0].startTime)
			.map(e => new URL(e.name).pathname.replace(/^\/app\/assets\//, "") + " " + e.startTime.toFixed(0) + "+" + e.duration.toFixed(0)),
	].join(", ")`))

	// Open a conversation: click to messages on screen.
	var opens []float64
	for i := range 5 {
		b.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`.rows li.row:nth-child(%d) a.open`, i+1))))
		b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message`)))
		eventually(t, "the open measured", func() bool {
			return chromium.Eval[int](b, `performance.getEntriesByName("mailroom-open").length`) > i
		})
		opens = append(opens, chromium.Eval[float64](b, fmt.Sprintf(`performance.getEntriesByName("mailroom-open")[%d].duration`, i)))
		key(b, "u")
	}
	t.Logf("inbox of %d: opening a conversation took %v ms (five opens)", n, fmtMS(opens))

	// A keyboard action: keydown to the row gone from the DOM, painted.
	var keys []float64
	for range 5 {
		ms := chromium.Run(b, chromedp.Evaluate[float64](`new Promise(resolve => {
			const before = document.querySelectorAll(".rows li.row").length;
			const first = document.querySelector(".rows li.row.focus");
			const t0 = performance.now();
			document.dispatchEvent(new KeyboardEvent("keydown", {key: "e", bubbles: true}));
			const check = () => {
				if (!first.isConnected || document.querySelectorAll(".rows li.row").length < before) {
					requestAnimationFrame(() => resolve(performance.now() - t0));
				} else {
					requestAnimationFrame(check);
				}
			};
			check();
		})`, chromedp.EvalAwaitPromise))
		keys = append(keys, ms)
		b.Do(chromedp.WaitVisible(chromedp.CSS(`.toast`)))
	}
	t.Logf("inbox of %d: archive by keyboard reflected in %v ms (five presses)", n, fmtMS(keys))
	eventually(t, "five archived in the store", func() bool { return len(r.Messages(r.acct, "Archive")) == 5 })
}

func fmtMS(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'f', 1, 64))
	}
	return strings.Join(s, ", ")
}
