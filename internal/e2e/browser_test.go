package e2e

// Tests in a real headless Chromium (internal/testrig/chromium) on the
// webmail, with IMAP and POP3 clients changing the same mail at the same
// time. Skipped without a chromium binary, and with -short.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"

	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// sample is a message as it arrives from outside.
const sample = "From: Bob <bob@example.org>\r\nTo: ann@example.test\r\nSubject: Lunch on Friday\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lunch@example.org>\r\n\r\nShall we meet at noon? <b>not bold</b>\r\n"

// pop3Dial connects to POP3 over implicit TLS and reads the greeting.
func (r *rig) pop3Dial() *line {
	r.T.Helper()
	p := dial(r.T, r.Addr("pop3s"))
	if greeting := p.Line(); !strings.HasPrefix(greeting, "+OK") {
		r.T.Fatalf("POP3 greeting %q", greeting)
	}
	return p
}

// TestBrowserComposeSend: a message written on /compose reaches another
// local account, whose IMAP client reads it.
func TestBrowserComposeSend(t *testing.T) {
	r := start(t)
	r.Account("bob@example.test")
	b := chromium.NewTab(t, "http://"+r.Addr("http"), chromium.Timeout)
	b.Login("ann@example.test", password)

	const subject = "Plans für Samstag"
	const text = "Hallo Bob, bis Samstag! – Ann"
	b.Open(chromedp.Click(chromedp.CSS(`header.top nav a[href="/compose"]`)))
	b.Do(
		chromedp.WaitVisible(chromedp.CSS(`#compose-heading`)),
		chromedp.SendKeys(chromium.ByLabel("To"), "Bob <bob@example.test>"),
		chromedp.SendKeys(chromium.ByLabel("Subject"), subject),
		chromedp.SendKeys(chromium.ByLabel("Message"), text),
	)
	b.Open(chromedp.Click(chromedp.CSS(`button[name="action"][value="send"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`p.flash`))); flash != "Message sent." {
		t.Fatalf("after Send: %q", flash)
	}

	// In the store: one unread message in bob's INBOX, a read copy in
	// ann's Sent.
	ctx := context.Background()
	bob, err := r.Store.Account(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := r.Store.Mailbox(ctx, bob.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	list, err := r.Store.MessageList(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Flags&store.FlagSeen != 0 {
		t.Fatalf("bob's INBOX: %+v", list)
	}
	sent, err := r.Store.Mailbox(ctx, r.acct.ID, "Sent")
	if err != nil {
		t.Fatal(err)
	}
	if copies, _ := r.Store.MessageList(ctx, sent.ID); len(copies) != 1 {
		t.Errorf("ann's Sent holds %d messages, want 1", len(copies))
	}

	// Over IMAP.
	c := r.imapClient("bob@example.test", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	section := &goimap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{Envelope: true, BodySection: []*goimap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Envelope == nil {
		t.Fatalf("FETCH: %+v", msgs)
	}
	env := msgs[0].Envelope
	if env.Subject != subject {
		t.Errorf("IMAP subject %q, want %q", env.Subject, subject)
	}
	if len(env.From) != 1 || env.From[0].Addr() != "ann@example.test" {
		t.Errorf("IMAP From %+v", env.From)
	}
	if len(env.To) != 1 || env.To[0].Addr() != "bob@example.test" || env.To[0].Name != "Bob" {
		t.Errorf("IMAP To %+v", env.To)
	}
	e, err := message.Read(bytes.NewReader(msgs[0].FindBodySection(section)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(e.Body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimRight(string(body), "\r\n") != text {
		t.Errorf("IMAP body %q, want %q", body, text)
	}
}

// TestBrowserLiveUpdate: an open INBOX page shows a flag set over IMAP and
// a message delivered meanwhile, without a reload.
func TestBrowserLiveUpdate(t *testing.T) {
	r := start(t)
	d := r.Deliver(r.acct, sample)
	b := chromium.NewTab(t, "http://"+r.Addr("http"), chromium.Timeout)
	// The change must come after the page's event stream is connected, or
	// the page never hears of it. The server subscribes to the changes
	// before it sends the stream's response header, so the response is the
	// signal; subscribe to it before the page loads.
	responses := chromedp.Events(b.Ctx, network.ResponseReceived)
	b.Login("ann@example.test", password)
	for ev, err := range responses {
		if err != nil {
			t.Fatalf("the page opened no event stream: %v", err)
		}
		if ev.Type == network.ResourceTypeEventSource && strings.HasSuffix(ev.Response.URL, "/events") {
			if ev.Response.Status != http.StatusOK {
				t.Fatalf("event stream: %d", ev.Response.Status)
			}
			break
		}
	}
	// A value on window survives only as long as the document does.
	b.Do(chromedp.Evaluate[chromedp.Void](`window.__marker = 42`))
	if n := chromium.Eval[int](b, `document.querySelectorAll("tr.flagged").length`); n != 0 {
		t.Fatalf("%d rows flagged before the change", n)
	}

	c := r.imapClient("ann@example.test", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(goimap.UIDSetNum(goimap.UID(d.UID)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true,
		Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatalf("IMAP STORE: %v", err)
	}
	b.Do(chromedp.WaitVisible(chromium.Row(d.UID, `.flagged td.from .flag`)))
	if star := chromium.Run(b, chromedp.Text(chromium.Row(d.UID, ` td.from .flag`))); star != "★" {
		t.Errorf("flag shown as %q", star)
	}
	if m := chromium.Eval[int](b, `window.__marker || 0`); m != 42 {
		t.Fatal("the page was reloaded to show the flag")
	}

	r.DeliverTo("ann@example.test", "From: Carol <carol@example.org>\r\nTo: ann@example.test\r\nSubject: Fresh news\r\n"+
		"Date: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <fresh@example.org>\r\n\r\nJust arrived.\r\n")
	b.Do(chromedp.WaitVisible(chromedp.JSPath(`Array.from(document.querySelectorAll("tr.unread td.subject a")).find(a => a.textContent === "Fresh news")`)))
	if m := chromium.Eval[int](b, `window.__marker || 0`); m != 42 {
		t.Fatal("the page was reloaded to show the new message")
	}
	if title := chromium.Run(b, chromedp.Title()); !strings.HasPrefix(title, "(2) INBOX") {
		t.Errorf("title %q, want the 2 unread counted", title)
	}
	if rows := chromium.Eval[int](b, `document.querySelectorAll("table.messages tbody tr").length`); rows != 2 {
		t.Errorf("%d rows, want 2", rows)
	}
}

// TestBrowserPOP3Off: unticking "Allow POP3" on the settings page stops
// POP3 logins, with a message saying why.
func TestBrowserPOP3Off(t *testing.T) {
	r := start(t)
	// POP3 works before: the failure below is the setting's doing.
	p := r.pop3Dial()
	if got := p.cmd("USER ann@example.test"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("USER: %q", got)
	}
	if got := p.cmd("PASS " + password); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("PASS with POP3 on: %q", got)
	}
	p.cmd("QUIT")

	b := chromium.NewTab(t, "http://"+r.Addr("http"), chromium.Timeout)
	b.Login("ann@example.test", password)
	pop3Box := chromium.ByLabel("Allow POP3")
	b.Open(chromedp.Click(chromedp.CSS(`header.top nav a[href="/settings"]`)))
	b.Do(chromedp.WaitVisible(pop3Box))
	if !chromium.Run(b, chromedp.JavascriptAttribute[bool](pop3Box, "checked")) {
		t.Fatal("Allow POP3 is not ticked on a new account")
	}
	b.Do(chromedp.Click(pop3Box))
	if chromium.Run(b, chromedp.JavascriptAttribute[bool](pop3Box, "checked")) {
		t.Fatal("clicking Allow POP3 did not untick it")
	}
	b.Open(chromedp.Click(chromedp.CSS(`form[action="/settings/protocols"] button[type="submit"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`p.flash`))); flash != "Protocols saved." {
		t.Fatalf("after Save: %q", flash)
	}
	st, err := r.Store.Settings(context.Background(), r.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bool("pop3.enabled") || !st.Bool("imap.enabled") {
		t.Fatalf("stored pop3.enabled=%v imap.enabled=%v, want false and true", st.Bool("pop3.enabled"), st.Bool("imap.enabled"))
	}
	// The page shows what is stored.
	b.Do(chromedp.WaitVisible(pop3Box))
	if chromium.Run(b, chromedp.JavascriptAttribute[bool](pop3Box, "checked")) {
		t.Error("the settings page shows POP3 allowed after switching it off")
	}

	p = r.pop3Dial()
	if got := p.cmd("USER ann@example.test"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("USER: %q", got)
	}
	if got := p.cmd("PASS " + password); !strings.HasPrefix(got, "-ERR") || !strings.Contains(got, "POP3 is switched off") {
		t.Fatalf("PASS with POP3 off: %q", got)
	}
}
