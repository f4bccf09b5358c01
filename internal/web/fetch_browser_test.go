package web

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/pop3"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/testrig/chromium"
)

// fetchRigs starts a remote Mailroom (POP3, IMAP) with old@example.test
// holding n messages, and the webmail's rig collecting with the remote's
// certificate trusted ([fetch] ca_file).
func fetchRigs(t *testing.T, n int) (remote *testrig.Rig, local *rig, remoteAcct store.Account) {
	t.Helper()
	remote = testrig.Start(t, testrig.Factories{"pop3": pop3.Factory(), "imap": imap.Factory()},
		testrig.Config(func(c *config.Config) { c.Fetch.Enabled = false }))
	remoteAcct = remote.Account("old@example.test")
	for i := range n {
		remote.Deliver(remoteAcct, "From: friend@remote.example\r\nSubject: old mail "+strconv.Itoa(i+1)+"\r\n\r\nhello\r\n")
	}
	ca := remote.CertFile("imaps")
	local = newRig(t, testrig.Config(func(c *config.Config) { c.Fetch.CAFile = ca }))
	return remote, local, remoteAcct
}

func portOf(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrowserFetch: in Chromium, test a connection with a wrong password
// (the server's refusal is shown) and the right one, add the account, see
// the mail arrive and the status say so, then collect new mail with
// "Collect now".
func TestBrowserFetch(t *testing.T) {
	remote, r, remoteAcct := fetchRigs(t, 2)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	b.Open(chromedp.Navigate(r.base + "/settings"))
	b.Open(chromedp.Click(chromedp.CSS(`a[href="/settings/fetch"]`)))
	b.Do(
		chromedp.SetValue(chromium.ByLabel("Protocol"), "imap"),
		chromedp.SetValue(chromium.ByLabel("Security"), "tls"),
		chromedp.SendKeys(chromium.ByLabel("Server"), "localhost"),
		chromedp.SendKeys(chromium.ByLabel("Port (empty: the usual one)"), portOf(t, remote.Addr("imaps"))),
		chromedp.SendKeys(chromium.ByLabel("Login"), "old@example.test"),
		chromedp.SendKeys(chromium.ByLabel("Password"), "not the password"),
	)
	b.Open(chromedp.Click(chromedp.CSS(`.fetchform button[value="test"]`)))
	if msg := chromium.Run(b, chromedp.Text(chromedp.CSS(`.error`))); !strings.Contains(msg, "The test failed: login failed: the server said") {
		t.Fatalf("test with a wrong password: %q", msg)
	}
	// The form kept what was typed, except the password.
	if v := chromium.Eval[string](b, `document.getElementById("host").value + "|" + document.getElementById("password").value`); v != "localhost|" {
		t.Fatalf("form after the test: %q", v)
	}
	b.Do(chromedp.SendKeys(chromium.ByLabel("Password"), password))
	b.Open(chromedp.Click(chromedp.CSS(`.fetchform button[value="test"]`)))
	if msg := chromium.Run(b, chromedp.Text(chromedp.CSS(`.fetchtest`))); msg != "Logged in. The folder INBOX holds 2 messages." {
		t.Fatalf("test with the right password: %q", msg)
	}
	b.Do(chromedp.SendKeys(chromium.ByLabel("Password"), password))
	b.Open(chromedp.Click(chromedp.CSS(`.fetchform button[value="save"]`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`.flash`))); flash != "Saved." {
		t.Fatalf("after adding: %q", flash)
	}
	// The server collects a new source at once.
	deadline := time.Now().Add(30 * time.Second)
	for len(r.Messages(r.acct, "INBOX")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the mail did not arrive; log:\n%s", r.Log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	status := func() string {
		b.Open(chromedp.Navigate(r.base + "/settings/fetch"))
		return chromium.Run(b, chromedp.Text(chromedp.CSS(`.fetchstatus`)))
	}
	for !strings.Contains(status(), "2 messages collected so far") {
		if time.Now().After(deadline) {
			t.Fatalf("status: %q", status())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := status(); !strings.HasPrefix(s, "Collected at ") {
		t.Errorf("status %q", s)
	}
	remote.Deliver(remoteAcct, "From: friend@remote.example\r\nSubject: new mail\r\n\r\nhello again\r\n")
	b.Open(chromedp.Click(chromedp.CSS(`.fetchsource button[value="run"]`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`.flash`))); flash != "Collected 1 new messages." {
		t.Fatalf("collect now: %q", flash)
	}
	if n := len(r.Messages(r.acct, "INBOX")); n != 3 {
		t.Errorf("INBOX holds %d messages, want 3", n)
	}
	if n := len(remote.Messages(remoteAcct, "INBOX")); n != 3 {
		t.Errorf("the remote holds %d messages, want the 3 left there", n)
	}
}

// TestFetchPageEdit: without a browser, edit a source (the password kept
// when left empty), refuse bad settings, and delete it; another account
// cannot touch it.
func TestFetchPageEdit(t *testing.T) {
	remote, r, _ := fetchRigs(t, 0)
	ctx := context.Background()
	src, err := r.Store.AddFetchSource(ctx, store.FetchSource{AccountID: r.acct.ID, Protocol: store.FetchPOP3, Host: "localhost",
		Port: 1, Security: store.FetchTLS, Username: "old@example.test", Password: "kept secret", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	b := r.browser()
	b.login("ann@example.test")
	code, _, body := b.get("/settings/fetch?edit=" + strconv.FormatInt(src.ID, 10))
	if code != http.StatusOK || strings.Contains(body, "kept secret") || !strings.Contains(body, `value="old@example.test"`) {
		t.Fatalf("edit page: %d, shows the password or not the login\n%s", code, body)
	}
	form := url.Values{"csrf": {b.csrf}, "id": {strconv.FormatInt(src.ID, 10)}, "action": {"save"}, "protocol": {"pop3"},
		"security": {"starttls"}, "host": {"localhost"}, "port": {portOf(t, remote.Addr("pop3"))}, "username": {"old@example.test"},
		"password": {""}, "delete": {"1"}}
	if code, _, body := b.post("/settings/fetch", form); code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", code, body)
	}
	got, err := r.Store.FetchSource(ctx, src.ID)
	if err != nil || got.Password != "kept secret" || got.Security != store.FetchSTARTTLS || !got.Delete {
		t.Fatalf("after the edit: %+v, %v", got, err)
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("host", "no such/host")
	if code, _, body := b.post("/settings/fetch", bad); code != http.StatusBadRequest || !strings.Contains(body, "Enter the name of the server") {
		t.Errorf("a bad host: %d\n%s", code, body)
	}

	r.Account("bob@example.test")
	other := r.browser()
	other.login("bob@example.test")
	if code, _, _ := other.get("/settings/fetch?edit=" + strconv.FormatInt(src.ID, 10)); code != http.StatusNotFound {
		t.Errorf("bob opened ann's source: %d", code)
	}
	other.post("/settings/fetch", url.Values{"csrf": {other.csrf}, "id": {strconv.FormatInt(src.ID, 10)}, "action": {"delete"}})
	if _, err := r.Store.FetchSource(ctx, src.ID); err != nil {
		t.Errorf("bob deleted ann's source: %v", err)
	}
	if code, _, _ := b.post("/settings/fetch", url.Values{"csrf": {b.csrf}, "id": {strconv.FormatInt(src.ID, 10)}, "action": {"delete"}}); code != http.StatusSeeOther {
		t.Errorf("delete: %d", code)
	}
	if _, err := r.Store.FetchSource(ctx, src.ID); err == nil {
		t.Error("the source is still there")
	}
}
