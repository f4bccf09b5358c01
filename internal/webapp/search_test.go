package webapp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// search types a query into the search box and submits it.
func search(t *testing.T, b *chromium.Tab, q string) {
	t.Helper()
	// What is there is selected, so that typing replaces it.
	chromium.Eval[bool](b, `(() => { const i = document.querySelector(".search input"); i.focus(); i.select(); return true; })()`)
	b.Do(chromedp.KeyEvent(q + "\r"))
}

// TestAppSearch: one search box over every folder but Junk and Trash, with
// the operators of the old search box, the true count (not capped at 200),
// the words highlighted, results as conversations.
func TestAppSearch(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Budget for 2027", "The budget is attached."))
	r.deliverIn("Archive", msg("Carol <carol@example.org>", "Old budget", "Last year's budget."))
	r.deliverIn("Trash", msg("Bob <bob@example.org>", "Deleted budget", "Not this budget."))
	r.deliverIn("Junk", msg("Spam <spam@example.net>", "Budget offer", "Cheap budget."))
	for i := range 230 {
		r.Deliver(r.acct, msg("Dan <dan@example.org>", fmt.Sprintf("Weekly report %d", i), "Numbers of the week."))
	}
	b := r.tab(t)
	waitRows(t, b, 50)

	// Suggestions as a query is typed: the folders for in:.
	chromium.Eval[bool](b, `(() => { document.querySelector(".search input").focus(); return true; })()`)
	b.Do(chromedp.KeyEvent("budget in:Arc"))
	eventually(t, "in:Archive suggested", func() bool {
		return chromium.Eval[string](b, `Array.from(document.querySelectorAll("#search-suggestions option")).map(o => o.value).join("|")`) == "budget in:Archive"
	})

	search(t, b, "budget")
	eventually(t, "two conversations found", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".toolbar .range").textContent`) == "2 conversations found"
	})
	waitRows(t, b, 2)
	subjects := chromium.Eval[string](b, `Array.from(document.querySelectorAll(".rows .subject")).map(s => s.textContent).sort().join("|")`)
	if subjects != "Budget for 2027|Old budget" {
		t.Fatalf("found %q, want the INBOX's and Archive's (not Trash's, not Junk's)", subjects)
	}
	eventually(t, "the word highlighted", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".rows mark").length`) >= 2
	})
	if loc := chromium.Run(b, chromedp.Location()); !strings.Contains(loc, "/app/search?q=budget") {
		t.Fatalf("search address %q", loc)
	}

	search(t, b, "budget from:carol")
	eventually(t, "one conversation from carol", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".toolbar .range").textContent`) == "1 conversation found"
	})
	search(t, b, "budget in:anywhere")
	eventually(t, "four with in:anywhere", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".toolbar .range").textContent`) == "4 conversations found"
	})

	// The true count of a large result.
	search(t, b, "subject:report")
	eventually(t, "230 found", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".toolbar .range").textContent`) == "230 conversations found"
	})
	// Opened from the results.
	b.Do(chromedp.Click(chromedp.CSS(`.rows li.row a.open`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message`)))
	if loc := chromium.Run(b, chromedp.Location()); !strings.Contains(loc, "/app/search/thread/") {
		t.Fatalf("a result's address %q", loc)
	}
}
