package web

// End-to-end tests in a real headless Chromium (internal/testrig/chromium):
// the pages, forms, script and downloads as a person uses them. Those
// where IMAP and POP3 clients change the same mail at the same time are
// internal/e2e's. They need a chromium, chromium-browser or google-chrome
// binary (scripts/install-test-deps.sh installs Debian's chromium) and are
// skipped without one, and with -short.
//
// MAILROOM_SCREENSHOTS=dir keeps the screenshots of TestBrowserScreenshots
// in dir for a person to look at.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"mailroom/internal/acl"
	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestBrowserLoginAndRead: log in with the form, open a message from the
// list, go back: the message is no longer shown as unread.
func TestBrowserLoginAndRead(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, sample)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)

	b.Do(chromedp.WaitVisible(chromium.Row(d.UID, ` td.subject a`)))
	if got := chromium.Run(b, chromedp.Text(chromium.Row(d.UID, ` td.subject a`))); got != "Lunch on Friday" {
		t.Fatalf("subject in the list: %q", got)
	}
	if class := chromium.Eval[string](b, chromium.RowJS(d.UID)+`.className`); !strings.Contains(class, "unread") {
		t.Fatalf("new message's row has class %q, want unread", class)
	}
	if w := chromium.Eval[string](b, `getComputedStyle(`+chromium.RowJS(d.UID)+`.querySelector("td.subject a")).fontWeight`); w != "700" {
		t.Errorf("an unread subject has font-weight %s, want bold (700)", w)
	}

	b.Open(chromedp.Click(chromium.Row(d.UID, ` td.subject a`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.textbody`)))
	text := chromium.Run(b, chromedp.Text(chromedp.CSS(`.textbody`)))
	if !strings.Contains(text, "Shall we meet at noon? <b>not bold</b>") {
		t.Fatalf("message text %q", text)
	}
	// The markup in a plain text message is text, never elements.
	if n := chromium.Eval[int](b, `document.querySelectorAll(".textbody b").length`); n != 0 {
		t.Fatalf("plain text became %d <b> elements", n)
	}
	if h1 := chromium.Run(b, chromedp.Text(chromedp.CSS(`.msghead h1`))); h1 != "Lunch on Friday" {
		t.Errorf("message heading %q", h1)
	}

	b.Do(
		chromedp.NavigateBack(),
		chromedp.WaitVisible(chromium.Row(d.UID, ` td.subject a`)),
	)
	if class := chromium.Eval[string](b, chromium.RowJS(d.UID)+`.className`); strings.Contains(class, "unread") {
		t.Fatalf("after reading, back in the list the row still has class %q", class)
	}
	if w := chromium.Eval[string](b, `getComputedStyle(`+chromium.RowJS(d.UID)+`.querySelector("td.subject a")).fontWeight`); w == "700" {
		t.Errorf("a read subject is still bold")
	}
	if n := chromium.Eval[int](b, `document.querySelectorAll(".folders .count").length`); n != 0 {
		t.Errorf("an unread count is still shown in the folder list")
	}
}

// threeFiles has three attachments with known bytes; b.pdf holds every
// byte value, so that a decoding or line-end mistake changes it.
func threeFiles() (files map[string][]byte, raw string) {
	files = map[string][]byte{
		"a.txt": []byte("alpha\n"),
		"c.bin": {0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x00},
	}
	pdf := []byte("%PDF-1.4\n")
	for i := range 256 {
		pdf = append(pdf, byte(i))
	}
	files["b.pdf"] = append(pdf, "\n%%EOF\n"...)
	b64 := func(data []byte) string {
		s := base64.StdEncoding.EncodeToString(data)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		return out.String() + s + "\r\n"
	}
	raw = "From: Bob <bob@example.org>\r\nTo: ann@example.test\r\nSubject: Three files\r\nDate: Sat, 21 Nov 2026 11:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n" +
		"--zz\r\nContent-Type: text/plain\r\n\r\nThree files for you.\r\n" +
		"--zz\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nalpha\n\r\n" +
		"--zz\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=b.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(files["b.pdf"]) +
		"--zz\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=c.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(files["c.bin"]) +
		"--zz--\r\n"
	return files, raw
}

// TestBrowserDownloadAttachment: of three attachments, clicking the second
// downloads exactly that file, byte for byte, and nothing else.
func TestBrowserDownloadAttachment(t *testing.T) {
	r := newRig(t)
	files, raw := threeFiles()
	d := r.Deliver(r.acct, raw)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	b.Open(chromedp.Navigate(r.base + "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.attachments`)))
	names := chromium.Eval[[]string](b, `Array.from(document.querySelectorAll(".attachments li a")).map(a => a.textContent)`)
	if strings.Join(names, " ") != "a.txt b.pdf c.bin" {
		t.Fatalf("attachment links %q", names)
	}

	dir := t.TempDir()
	begun := make(chan *cdpbrowser.EventDownloadWillBegin, 10)
	done := make(chan *cdpbrowser.EventDownloadProgress, 10)
	// Listen before the click, so that no event is missed; the func runs
	// in chromedp's read loop and must not block (the channels have room).
	if err := chromedp.Listen(b.Ctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdpbrowser.EventDownloadWillBegin:
			begun <- ev
		case *cdpbrowser.EventDownloadProgress:
			if ev.State != cdpbrowser.DownloadProgressStateInProgress {
				done <- ev
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.Do(
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			// allowAndName saves under the download's GUID, so a file in
			// the directory is known to come from this download.
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior:      cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName,
				DownloadPath:  dir,
				EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`.attachments li:nth-child(2) a`)),
	)
	var ev *cdpbrowser.EventDownloadProgress
	select {
	case ev = <-done:
	case <-b.Ctx.Done():
		t.Fatal("the download did not finish")
	}
	if ev.State != cdpbrowser.DownloadProgressStateCompleted {
		t.Fatalf("download ended %s", ev.State)
	}
	got, err := os.ReadFile(filepath.Join(dir, ev.GUID))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, files["b.pdf"]) {
		t.Fatalf("downloaded %d bytes %q, want b.pdf's %d bytes", len(got), got, len(files["b.pdf"]))
	}
	select {
	case first := <-begun:
		if first.SuggestedFilename != "b.pdf" || first.GUID != ev.GUID {
			t.Errorf("the download was named %q (guid %s, completed %s)", first.SuggestedFilename, first.GUID, ev.GUID)
		}
	case <-b.Ctx.Done():
		t.Fatal("no downloadWillBegin event")
	}
	// A stray download would start within moments of the click.
	time.Sleep(300 * time.Millisecond)
	select {
	case other := <-begun:
		t.Errorf("a second download started: %q", other.SuggestedFilename)
	default:
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var list []string
		for _, e := range entries {
			list = append(list, e.Name())
		}
		t.Fatalf("download directory holds %q, want only %s", list, ev.GUID)
	}
	// The page is still the message: a download never navigates.
	if loc := chromium.Run(b, chromedp.Location()); !strings.HasSuffix(loc, "/msg/"+itoa64(d.MailboxID)+"/"+itoa64(int64(d.UID))) {
		t.Errorf("after the download the tab shows %s", loc)
	}
}

// TestBrowserAutoconfig: the rig answers Thunderbird's autoconfig request
// (internal/autoconfig tests the document itself). No browser needed.
func TestBrowserAutoconfig(t *testing.T) {
	r := newRig(t)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(r.base + "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("autoconfig: %s", resp.Status)
	}
	var doc struct {
		XMLName  xml.Name `xml:"clientConfig"`
		Provider struct {
			Domain   []string `xml:"domain"`
			Incoming []struct {
				Type     string `xml:"type,attr"`
				Hostname string `xml:"hostname"`
				Port     int    `xml:"port"`
			} `xml:"incomingServer"`
			Outgoing []struct {
				Hostname string `xml:"hostname"`
			} `xml:"outgoingServer"`
		} `xml:"emailProvider"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Provider
	if len(p.Domain) == 0 || p.Domain[0] != "example.test" || len(p.Incoming) == 0 || len(p.Outgoing) == 0 {
		t.Fatalf("autoconfig document: %+v", p)
	}
	for _, s := range p.Incoming {
		if s.Hostname != "mail.example.test" {
			t.Errorf("incoming %s server %q, want mail.example.test", s.Type, s.Hostname)
		}
	}
	for _, s := range p.Outgoing {
		if s.Hostname != "mail.example.test" {
			t.Errorf("outgoing server %q, want mail.example.test", s.Hostname)
		}
	}
}

// TestBrowserScreenshots saves full-page screenshots of every page, at a
// desktop and at a phone width, for a person to look at, and logs the
// elements that stick out of the phone's screen.
func TestBrowserScreenshots(t *testing.T) {
	r := newRig(t)
	dir := os.Getenv("MAILROOM_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Store.SetSettings(context.Background(), r.acct.ID, map[string]string{"admin": "true"}); err != nil {
		t.Fatal(err)
	}
	// A list that looks used: read and unread, flagged, attachments, a
	// long subject and sender, an HTML message.
	r.Deliver(r.acct, sample)
	_, raw := threeFiles()
	files := r.Deliver(r.acct, raw)
	r.Deliver(r.acct, "From: \"Dr. Maximiliane Wolkenstein-Habsburg, Department of Extraordinarily Long Names\" <maximiliane.wolkenstein@university.example>\r\n"+
		"To: ann@example.test\r\nSubject: Re: Re: Fwd: The agenda for the annual general meeting of the association, with the amended budget, the minutes and the seating plan\r\n"+
		"Date: Fri, 20 Nov 2026 09:00:00 +0000\r\n\r\nPlease find the agenda below. "+strings.Repeat("This line is long enough to wrap several times on a phone. ", 8)+"\r\n")
	r.Deliver(r.acct, "From: Newsletter <news@shop.example>\r\nTo: ann@example.test\r\nSubject: Our autumn offers\r\nDate: Thu, 19 Nov 2026 08:00:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"+
		`<html><body><h1 style="color: #b00">Autumn offers</h1><p style="font-size: 18px">Everything <b>half price</b> this week.</p>`+
		`<table style="border: 1px solid #888"><tr><td>Boots</td><td>49 €</td></tr><tr><td>Scarf</td><td>12 €</td></tr></table>`+
		`<p><a href="https://shop.example/offers">See all offers</a> <img src="https://shop.example/pixel.gif" alt=""></p></body></html>`+"\r\n")
	ctx := context.Background()
	if _, err := r.Store.UpdateFlags(ctx, files.MailboxID, store.FlagUpdate{UIDs: []uint32{files.UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged | store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	projects, err := r.Store.CreateMailbox(ctx, r.acct.ID, "Projects", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.CreateMailbox(ctx, r.acct.ID, "Projects/Garden", ""); err != nil {
		t.Fatal(err)
	}
	// Sharing both ways: ann's Projects with kim, kim's Team and a
	// shared mailbox with ann (shown in her folder list), with a quota.
	kim := r.Account("kim@example.test")
	team, err := r.Store.CreateMailbox(ctx, kim.ID, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	support, err := r.Store.CreateSharedAccount(ctx, "support@example.test")
	if err != nil {
		t.Fatal(err)
	}
	supportInbox := r.Mailbox(support, "INBOX")
	for _, share := range []struct {
		mailbox int64
		who     string
		rights  acl.Rights
		name    string
	}{
		{projects.ID, "kim@example.test", acl.ReadWrite, ""},
		{projects.ID, "@example.test", acl.ReadOnly, ""},
		{team.ID, "ann@example.test", acl.ReadOnly, "Other Users/kim@example.test/Team"},
		{supportInbox.ID, "ann@example.test", acl.ReadWrite, "Shared/support@example.test/INBOX"},
	} {
		if _, err := r.Store.ModifyACL(ctx, share.mailbox, share.who, acl.Replace, share.rights); err != nil {
			t.Fatal(err)
		}
		if share.name != "" {
			if err := r.Store.SetSubscribed(ctx, r.acct.ID, share.name, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.DeliverInto(store.Target{MailboxID: supportInbox.ID}, sample)
	if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: 50 << 20, Messages: store.Inherit}); err != nil {
		t.Fatal(err)
	}

	// Twenty-five pages to load and capture: five tests' worth of time.
	b := chromium.NewTab(t, r.base, 5*chromium.Timeout)
	shot := func(name string) {
		t.Helper()
		png := chromium.Run(b, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
	}
	msgURL := r.base + "/msg/" + itoa64(files.MailboxID) + "/" + itoa64(int64(files.UID))
	pages := []struct {
		name, url, ready string
	}{
		{"inbox", r.base + "/mail/INBOX", `table.messages`},
		{"message", msgURL, `.attachments`},
		{"search", r.base + "/search?q=" + url.QueryEscape("lunch OR from:wolkenstein"), `.searchhelp`},
		{"compose", r.base + "/compose", `#compose-heading`},
		{"settings", r.base + "/settings", `#h-protocols`},
		{"admin", r.base + "/admin", `#h-queue`},
		{"shared-folder", r.base + "/mail/Shared/support@example.test/INBOX", `.access`},
		{"sharing", r.base + "/sharing?folder=Projects", `#h-addshare`},
		{"shared-with-me", r.base + "/shared", `section.card`},
		{"admin-shared", r.base + "/admin/shared", `#h-newshared`},
		{"admin-quotas", r.base + "/admin/quotas", `#h-qaccounts`},
	}

	b.Open(chromedp.Navigate(r.base + "/login"))
	shot("login")
	b.Login("ann@example.test", password)
	for _, p := range pages {
		b.Open(chromedp.Navigate(p.url))
		b.Do(chromedp.WaitVisible(chromedp.CSS(p.ready)))
		shot(p.name)
	}
	b.Open(chromedp.Navigate(r.base + "/mail/INBOX"))
	b.Open(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll("td.subject a")).find(a => a.textContent === "Our autumn offers")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`iframe.htmlbody`)))
	shot("message-html")

	// On a phone, from logging out (logged in, /login leads to the INBOX)
	// and in again.
	b.Do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	b.Open(chromedp.Click(chromedp.CSS(`form.logout button[type="submit"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.login form`)))
	shot("phone-login")
	b.Login("ann@example.test", password)
	for _, p := range pages {
		b.Open(chromedp.Navigate(p.url))
		b.Do(chromedp.WaitVisible(chromedp.CSS(p.ready)))
		shot("phone-" + p.name)
		// What sticks out to the right makes the whole page scroll
		// sideways on a phone.
		wide := chromium.Eval[[]string](b, `(() => {
			const w = document.documentElement.clientWidth, out = [];
			for (const el of document.querySelectorAll("body *")) {
				const r = el.getBoundingClientRect();
				if (r.width > 0 && r.right > w + 1 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > w + 1)) {
					out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : "") + " right=" + Math.round(r.right));
				}
			}
			return out;
		})()`)
		if len(wide) > 0 {
			t.Logf("phone %s: wider than the 375 px screen: %s", p.name, strings.Join(wide, ", "))
		}
	}
}
