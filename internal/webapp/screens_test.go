package webapp_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestAppScreens takes the screenshots docs/webmail.md shows, of a mailbox
// as people have one, at desktop and phone size and in dark mode. Run with
// MAILROOM_SCREENSHOTS=docs/screenshots to refresh them; without it, it
// still walks the screens.
func TestAppScreens(t *testing.T) {
	r := start(t)
	r.thread("Weekend hike to the lakes", 5)
	mails := []struct{ from, subject, body string }{
		{"Priya Natarajan <priya@example.org>", "Quarterly report draft", "Here is the draft for Thursday; comments welcome."},
		{"School office <office@school.example>", "Parents' evening on the 14th", "Appointments can be booked from Monday."},
		{"Marco Rossi <marco@example.org>", "Invoice 2026-118", "Please find the invoice attached."},
		{"Lena Vogel <lena@example.org>", "Photos from the party", "The best ones are in the shared album."},
		{"Library <noreply@library.example>", "Your loan is due on Friday", "Renew online or at the desk."},
		{"Tom Becker <tom@example.org>", "Re: Bike repair", "The shop says Tuesday."},
		{"Aiko Tanaka <aiko@example.org>", "Recipe you asked for", "Miso, ginger, a little honey."},
		{"Bank <alerts@bank.example>", "Your statement is ready", "Log in to view it."},
	}
	for i, m := range mails {
		raw := msg(m.from, m.subject, m.body)
		if i%3 == 0 {
			r.Deliver(r.acct, raw)
		} else {
			r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, "INBOX").ID, Flags: store.FlagSeen}, raw)
		}
	}
	b := r.tab(t)
	waitRows(t, b, len(mails)+1)
	setWidth(b, 1366, 800)
	screenshot(b, "list-desktop")
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Re: Weekend hike to the lakes") + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message iframe`)))
	eventually(t, "the conversation's bodies shown", func() bool {
		return chromium.Eval[bool](b, `Array.from(document.querySelectorAll(".reader iframe.mailframe")).every(f => f.contentDocument?.body?.textContent.length > 0)`)
	})
	screenshot(b, "conversation-desktop")
	key(b, "r")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	screenshot(b, "compose-desktop")
	b.Do(chromedp.Click(chromedp.CSS(`.composebar button`)))
	darkMode(b, true)
	key(b, "u")
	screenshot(b, "list-dark")
	darkMode(b, false)
	setWidth(b, 390, 844)
	screenshot(b, "list-phone")
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Re: Weekend hike to the lakes") + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message iframe`)))
	screenshot(b, "conversation-phone")
}
