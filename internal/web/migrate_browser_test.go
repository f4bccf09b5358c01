package web

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailroom/internal/imap"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/testrig/chromium"
)

// TestBrowserImportFromAccount: in Chromium, from Settings, the import
// page copies another server's account (a second Mailroom) into the
// logged-in account, shows the result with the folders, and a second run
// copies nothing. A wrong password shows the error. The password is in
// no log line.
func TestBrowserImportFromAccount(t *testing.T) {
	src := testrig.Start(t, testrig.Factories{"imap": imap.Factory()}, testrig.Listen("imaps"))
	old := src.Account("old@example.test")
	for i := range 25 {
		src.Deliver(old, "From: a@example.org\r\nSubject: message "+strconv.Itoa(i)+"\r\n\r\nbody\r\n")
	}
	for i := range 5 {
		src.DeliverInto(store.Target{MailboxID: src.Mailbox(old, "Archive").ID, Flags: store.FlagSeen}, "Subject: archived "+strconv.Itoa(i)+"\r\n\r\nold\r\n")
	}
	host, port, _ := net.SplitHostPort(src.Addr("imaps"))
	const secret = "the-source-password-" + testrig.Password

	r := newRig(t)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	b.Open(chromedp.Navigate(r.base + "/settings"))
	b.Open(chromedp.Click(chromedp.CSS(`a[href="/settings/import"]`)))
	fill := func(pw string) {
		b.Do(
			chromedp.SetValue(chromium.ByLabel("Server"), host),
			chromedp.SetValue(chromium.ByLabel("Port"), port),
			chromedp.SetValue(chromium.ByLabel("User name there"), "old@example.test"),
			chromedp.SendKeys(chromium.ByLabel("Password there"), pw),
			chromedp.Click(chromium.ByLabel("The server has a self-signed certificate (do not check it)")),
		)
		b.Open(chromedp.Click(chromedp.CSS(`form[action="/settings/import"] button[type="submit"]`)))
		// Running, the page follows the job and reloads when it ends.
		b.Do(chromedp.WaitVisible(chromedp.CSS(`[data-import=result]`)))
	}
	fill(testrig.Password)
	if got := chromium.Run(b, chromedp.Text(chromedp.CSS(`[data-import=result]`))); !strings.HasPrefix(got, "Copied 30 messages") {
		t.Fatalf("result: %q", got)
	}
	if rows := chromium.Eval[string](b, `Array.from(document.querySelectorAll("[data-import-status] tbody tr")).map(tr => Array.from(tr.cells).map(c => c.textContent.trim()).join(" ")).join("|")`); !strings.Contains(rows, "Archive 5 0") || !strings.Contains(rows, "INBOX 25 0") {
		t.Errorf("folders: %q", rows)
	}
	if n := len(r.Messages(r.acct, "INBOX")); n != 25 {
		t.Errorf("INBOX has %d messages", n)
	}
	if msgs := r.Messages(r.acct, "Archive"); len(msgs) != 5 || msgs[0].Flags != store.FlagSeen {
		t.Errorf("Archive: %+v", msgs)
	}
	// Again: the form keeps the server and user; nothing new to copy.
	fill(testrig.Password)
	if got := chromium.Run(b, chromedp.Text(chromedp.CSS(`[data-import=result]`))); !strings.HasPrefix(got, "Copied 0 messages") {
		t.Fatalf("second run: %q", got)
	}
	fill("wrong")
	if got := chromium.Run(b, chromedp.Text(chromedp.CSS(`[data-import=error]`))); !strings.Contains(got, "log in to") {
		t.Fatalf("wrong password: %q", got)
	}
	fill(secret)
	if strings.Contains(r.Log.String(), secret) || strings.Contains(src.Log.String(), secret) {
		t.Error("the password is in a log")
	}
}

// One import per account at a time: a second start while one runs (here
// against a server that never answers) is refused; the job ends with the
// server.
func TestImportOneAtATime(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	_, port, _ := net.SplitHostPort(silent.Addr().String())
	form := url.Values{"csrf": {b.csrf}, "host": {"127.0.0.1"}, "port": {port}, "user": {"x"}, "password": {"y"}, "security": {"imaps"}}
	if code, h, body := b.post("/settings/import", form); code != http.StatusSeeOther || h.Get("Location") != "/settings/import" {
		t.Fatalf("start: %d %s", code, body)
	}
	code, _, body := b.post("/settings/import", form)
	if code != http.StatusConflict || !strings.Contains(body, "already running") {
		t.Fatalf("second start: %d %s", code, body)
	}
	if code, _, body := b.get("/settings/import/status"); code != 200 || !strings.Contains(body, `"running":true`) {
		t.Fatalf("status: %d %s", code, body)
	}
	for _, bad := range []url.Values{
		{"csrf": {b.csrf}, "host": {""}, "user": {"x"}, "password": {"y"}},
		{"csrf": {b.csrf}, "host": {"h"}, "port": {"70000"}, "user": {"x"}, "password": {"y"}},
		{"csrf": {b.csrf}, "host": {"h"}, "user": {"x"}},
	} {
		if code, _, _ := b.post("/settings/import", bad); code != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, code)
		}
	}
	start := time.Now()
	r.Restart() // the server stops: so does the job, at once
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s with an import running", d)
	}
}
