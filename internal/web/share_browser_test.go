package web

import (
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/acl"
	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestBrowserShareFolder: in Chromium, ann shares a folder from its page
// with the sharing form (a preset), is told plainly when the exact
// rights are wrong, and kim, logged in next, finds it under "Shared with
// me", opens it, and sees a message ann's folder gets while it is open.
func TestBrowserShareFolder(t *testing.T) {
	r := newShareRig(t)
	projects := r.createMailbox(r.acct, "Projects")
	r.DeliverInto(store.Target{MailboxID: projects.ID}, sample)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)

	b.Open(chromedp.Navigate(r.base + "/mail/Projects"))
	b.Do(chromedp.Click(chromedp.CSS(`.folder-tools summary`)))
	b.Open(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".folder-tools a")).find(a => a.textContent.startsWith("Sharing"))`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`#h-addshare`)))
	const whoLabel = "Address of an account here, @domain for all of a domain's accounts, or authenticated for everyone with an account here"
	b.Do(
		chromedp.SendKeys(chromium.ByLabel(whoLabel), "kim@example.test"),
		chromedp.SetValue(chromium.ByLabel("Access"), "write"),
	)
	b.Open(chromedp.Click(chromedp.CSS(`#h-addshare ~ form button[value="set"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`p.flash`))); flash != "kim@example.test now has read and write access to Projects." {
		t.Fatalf("flash %q", flash)
	}
	if level := chromium.Run(b, chromedp.Text(chromedp.CSS(`tr[data-who="kim@example.test"] .access-level`))); level != "Read and write" {
		t.Fatalf("kim's row says %q", level)
	}

	// Exact rights with a letter that is no right: the browser holds the
	// form back and says what the field takes (the server refuses it
	// too: TestShareFolder); nothing is stored.
	before := chromium.Run(b, chromedp.Location())
	b.Do(
		chromedp.SendKeys(chromium.ByLabel(whoLabel), "lee@example.test"),
		chromedp.Click(chromedp.CSS(`details.rights-help summary`)),
		chromedp.SendKeys(chromedp.CSS(`#sharerights`), "lrQ"),
		chromedp.Click(chromedp.CSS(`#h-addshare ~ form button[value="set"]`)),
	)
	if msg := chromium.Eval[string](b, `document.getElementById("sharerights").validationMessage`); msg == "" {
		t.Fatal("the browser took rights with a letter that is no right")
	}
	if loc := chromium.Run(b, chromedp.Location()); loc != before || chromium.Eval[string](b, `document.getElementById("sharewho").value`) != "lee@example.test" {
		t.Fatalf("the form was sent: now at %s, was at %s", loc, before)
	}
	if got := r.acl(projects); len(got) != 1 || got[0] != (acl.Entry{Identifier: "kim@example.test", Rights: acl.ReadWrite}) {
		t.Fatalf("list %v", got)
	}

	// Kim's side.
	b.Open(chromedp.Click(chromedp.CSS(`form.logout button[type="submit"]`)))
	b.Login("kim@example.test", password)
	link := `.shared-folders a[href="/mail/Other%20Users/ann@example.test/Projects"]`
	b.Do(chromedp.WaitVisible(chromedp.CSS(link)))
	if owner := chromium.Run(b, chromedp.Text(chromedp.CSS(`.shared-folders h3.owner`))); owner != "ann@example.test" {
		t.Fatalf("the group is headed %q", owner)
	}
	b.Open(chromedp.Click(chromedp.CSS(link)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.access`)))
	if access := chromium.Run(b, chromedp.Text(chromedp.CSS(`.access`))); access != "Shared with you by ann@example.test: Read and write" {
		t.Fatalf("access line %q", access)
	}
	if n := chromium.Eval[int](b, `document.querySelectorAll("table.messages tbody tr").length`); n != 1 {
		t.Fatalf("%d messages listed", n)
	}
	// New mail in ann's folder shows on kim's open page.
	d := r.DeliverInto(store.Target{MailboxID: projects.ID}, "From: carol@example.net\r\nSubject: Budget draft\r\n\r\nx\r\n")
	b.Do(chromedp.WaitVisible(chromium.Row(d.UID, ` td.subject a`)))
	if subject := chromium.Run(b, chromedp.Text(chromium.Row(d.UID, ` td.subject a`))); subject != "Budget draft" {
		t.Fatalf("the new message's row says %q", subject)
	}
}
