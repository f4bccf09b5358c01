package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestBrowserSearch: in Chromium, a query typed into the search box of a
// folder finds the matches of every folder but Junk, counted in full;
// "Older" pages to the last one; in: narrows to Junk; a malformed query
// says what is wrong.
func TestBrowserSearch(t *testing.T) {
	r := newRig(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local)
	for i := 0; i < 56; i++ {
		folder := "INBOX"
		switch {
		case i == 55:
			folder = "Junk"
		case i < 5:
			folder = "Archive" // the oldest: on the last page
		}
		r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, folder).ID, InternalDate: start.Add(time.Duration(i) * time.Hour)},
			fmt.Sprintf("From: bob@example.org\r\nSubject: Weekly report %02d\r\n\r\nnumbers\r\n", i))
	}
	r.Deliver(r.acct, "From: carol@example.net\r\nSubject: Lunch\r\n\r\nnoon\r\n")

	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	search := func(q string) {
		t.Helper()
		chromium.Eval[string](b, `document.getElementById("q").value = ""`)
		b.Do(chromedp.SendKeys(chromium.ByLabel("Search"), q))
		b.Open(chromedp.Click(chromedp.CSS(`form.search button[type="submit"]`)))
		b.Do(chromedp.WaitVisible(chromedp.CSS(`.searchhelp`)))
	}
	rows := func() []string {
		return chromium.Eval[[]string](b, `Array.from(document.querySelectorAll("table.messages tbody tr")).map(tr => tr.querySelector("td.subject a").textContent + "@" + tr.querySelector("td.folder").textContent)`)
	}
	counts := func() string {
		return strings.TrimSpace(chromium.Run(b, chromedp.Text(chromedp.CSS(`.listhead .counts`))))
	}

	search("subject:report")
	if c := counts(); c != "55 results in all folders but Junk and Trash" {
		t.Fatalf("count %q", c)
	}
	first := rows()
	if len(first) != 50 || first[0] != "Weekly report 54@INBOX" || first[49] != "Weekly report 05@INBOX" {
		t.Fatalf("page 1: %d rows, %q ... %q", len(first), first[0], first[len(first)-1])
	}
	b.Open(chromedp.Click(chromedp.CSS(`.pages a[rel="next"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.pages a[rel="prev"]`)))
	last := rows()
	want := []string{"Weekly report 04@Archive", "Weekly report 03@Archive", "Weekly report 02@Archive", "Weekly report 01@Archive", "Weekly report 00@Archive"}
	if strings.Join(last, "|") != strings.Join(want, "|") {
		t.Fatalf("last page: %q", last)
	}
	if n := chromium.Eval[int](b, `document.querySelectorAll('.pages a[rel="next"]').length`); n != 0 {
		t.Fatal("the last page links to a next one")
	}
	if page := chromium.Run(b, chromedp.Text(chromedp.CSS(`.pages span`))); page != "Page 2 of 2" {
		t.Fatalf("pager says %q", page)
	}
	// The query stays in the box across pages.
	if v := chromium.Eval[string](b, `document.getElementById("q").value`); v != "subject:report" {
		t.Fatalf("search box holds %q", v)
	}

	search("subject:report in:junk")
	if got := rows(); len(got) != 1 || got[0] != "Weekly report 55@Junk" || counts() != "1 result in Junk" {
		t.Fatalf("in:junk: %q %q", got, counts())
	}
	// A result opens its message.
	b.Open(chromedp.Click(chromedp.CSS(`td.subject a`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.msghead h1`)))
	if h1 := chromium.Run(b, chromedp.Text(chromedp.CSS(`.msghead h1`))); h1 != "Weekly report 55" {
		t.Fatalf("opened %q", h1)
	}

	b.Open(chromedp.Navigate(r.base + "/mail/INBOX"))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`form.search`)))
	b.Do(chromedp.SendKeys(chromium.ByLabel("Search"), `subject:"weekly report`))
	b.Do(chromedp.Click(chromedp.CSS(`form.search button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if msg := chromium.Run(b, chromedp.Text(chromedp.CSS(`p.error`))); !strings.Contains(msg, "A quote is not closed") {
		t.Fatalf("error shown: %q", msg)
	}
	if open := chromium.Eval[bool](b, `document.querySelector(".searchhelp").open`); !open {
		t.Fatal("the help is closed after an error")
	}
}
