package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// TestBrowserJunkButtons: in Chromium, a message the filter put in Junk
// says why; pressing "Not junk" brings it back to the Junk list without
// it, the message is in INBOX and the filter learned it; there, "Junk"
// sends it back.
func TestBrowserJunkButtons(t *testing.T) {
	r := newRig(t)
	r.trainAnn()
	before := r.junkModel()
	r.deliverInbound(junkSample)
	uid := r.Messages(r.acct, "Junk")[0].UID
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)

	b.Open(chromedp.Navigate(r.base + "/mail/Junk"))
	b.Open(chromedp.Click(chromium.Row(uid, ` td.subject a`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.junkwhy`)))
	why := chromium.Run(b, chromedp.Text(chromedp.CSS(`.junkwhy`)))
	if !strings.Contains(why, "The junk filter scored this message") || !strings.Contains(why, "casino") || strings.Contains(why, "forged") {
		t.Fatalf("why it is junk: %q", why)
	}
	b.Open(chromedp.Click(chromedp.CSS(`button[value="notjunk"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`.flash`))); !strings.Contains(flash, "Moved to INBOX") {
		t.Fatalf("after Not junk: %q", flash)
	}
	in := r.Messages(r.acct, "INBOX")
	if len(in) != 1 || len(r.Messages(r.acct, "Junk")) != 0 {
		t.Fatalf("after Not junk: INBOX %d, Junk %d", len(in), len(r.Messages(r.acct, "Junk")))
	}
	if m := r.junkModel(); m.Ham != before.Ham+1 {
		t.Fatalf("Not junk taught %d ham, want %d", m.Ham, before.Ham+1)
	}

	b.Open(chromedp.Navigate(r.base + "/mail/INBOX"))
	b.Open(chromedp.Click(chromium.Row(in[0].UID, ` td.subject a`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`button[value="junk"]`)))
	if n := chromium.Eval[int](b, `document.querySelectorAll(".junkwhy").length`); n != 0 {
		t.Fatal("an INBOX message says why it is junk")
	}
	b.Open(chromedp.Click(chromedp.CSS(`button[value="junk"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if m := r.junkModel(); m.Spam != before.Spam+1 || m.Ham != before.Ham {
		t.Fatalf("Junk taught %d spam, %d ham; want %d, %d", m.Spam, m.Ham, before.Spam+1, before.Ham)
	}
}
