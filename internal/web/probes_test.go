package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// TestAutoconfigForeignDomain: a domain this server does not host is "not
// found" to both Thunderbird's autoconfig (HTTP 404) and Outlook's
// Autodiscover (ErrorCode 500, "The e-mail address cannot be found",
// [MS-OXDSCLI]), so clients go on to their other methods; it used to be a
// server error (HTTP 500 and ErrorCode 603).
func TestAutoconfigForeignDomain(t *testing.T) {
	r := newRig(t)
	c := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{
		"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob@elsewhere.example",
		"/mail/config-v1.1.xml?emailaddress=bob@elsewhere.example",
	} {
		resp, err := c.Get(r.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	req := `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>bob@elsewhere.example</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
	resp, err := c.Post(r.base+"/autodiscover/autodiscover.xml", "text/xml", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<ErrorCode>500</ErrorCode>") {
		t.Errorf("Autodiscover for a foreign domain: %s\n%s", resp.Status, body)
	}
}

// TestFlashNotFromURL: the status banner shows only messages this server
// put there for this session, never text from the URL: a link such as
// /mail/INBOX?flash=Your+account+is+suspended... must not make the
// webmail say it. A real flash (after creating a folder) still shows once.
func TestFlashNotFromURL(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	lie := "Your password expired: enter it at evil.example"
	code, _, body := b.get("/mail/INBOX?flash=" + url.QueryEscape(lie))
	if code != http.StatusOK {
		t.Fatalf("INBOX: %d", code)
	}
	if strings.Contains(body, "evil.example") || strings.Contains(body, `class="flash"`) {
		t.Fatalf("the page shows the URL's text:\n%s", body)
	}

	code, h, _ := b.post("/folders/create", url.Values{"csrf": {b.csrf}, "name": {"Receipts"}})
	if code != http.StatusSeeOther {
		t.Fatalf("create folder: %d", code)
	}
	loc := h.Get("Location")
	if strings.Contains(loc, "Folder") {
		t.Errorf("the banner text travels in the URL: %s", loc)
	}
	if _, _, body = b.get(loc); !strings.Contains(body, "Folder created.") {
		t.Fatalf("no banner after creating a folder (%s):\n%s", loc, body)
	}
	if _, _, body = b.get(loc); strings.Contains(body, "Folder created.") {
		t.Errorf("the banner shows again on reload")
	}
	// Another session cannot show this session's messages.
	other := r.browser()
	other.login("ann@example.test")
	_, h, _ = b.post("/folders/create", url.Values{"csrf": {b.csrf}, "name": {"Bills"}})
	if _, _, body = other.get(h.Get("Location")); strings.Contains(body, "Folder created.") {
		t.Errorf("another session shows the banner")
	}
}

// TestLoginCSRF: a login form posted from another site, or without the
// token of a login page this browser loaded, does not log the browser in
// (login CSRF: an attacker's page would log the victim into the
// attacker's account and read what the victim then writes there).
func TestLoginCSRF(t *testing.T) {
	r := newRig(t)
	r.Account("mallory@example.test")
	creds := url.Values{"email": {"mallory@example.test"}, "password": {password}, "next": {"/mail/INBOX"}}

	loggedIn := func(b *browser) bool {
		code, _, _ := b.get("/mail/INBOX")
		return code == http.StatusOK
	}
	post := func(b *browser, form url.Values, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("POST", b.base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	// What an attacker's page makes a browser send: a cross-site POST
	// without our token.
	victim := r.browser()
	resp := post(victim, creds, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode == http.StatusSeeOther || loggedIn(victim) {
		t.Fatalf("cross-site login: %s, logged in %v", resp.Status, loggedIn(victim))
	}
	// Without Origin (an old browser, or one that leaves it out): the
	// token is still required.
	victim = r.browser()
	if resp := post(victim, creds, nil); resp.StatusCode == http.StatusSeeOther || loggedIn(victim) {
		t.Fatalf("login without a token: %s", resp.Status)
	}
	// The attacker's own token, from the attacker's own visit, is no
	// good in the victim's browser: it must match the victim's cookie.
	attacker := r.browser()
	tok := attacker.loginToken()
	victim = r.browser()
	victim.loginToken() // the victim has a login cookie of its own
	f := url.Values{"login_token": {tok}}
	for k, v := range creds {
		f[k] = v
	}
	if resp := post(victim, f, nil); resp.StatusCode == http.StatusSeeOther || loggedIn(victim) {
		t.Fatalf("login with another browser's token: %s", resp.Status)
	}
	// A token with the right cookie, but from another site: refused.
	victim = r.browser()
	f.Set("login_token", victim.loginToken())
	if resp := post(victim, f, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); resp.StatusCode == http.StatusSeeOther || loggedIn(victim) {
		t.Fatalf("cross-site login with a token: %s", resp.Status)
	}
	// The real form, same origin: logged in.
	if resp := post(victim, f, map[string]string{"Origin": victim.base, "Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusSeeOther || !loggedIn(victim) {
		t.Fatalf("same-origin login with the token: %s", resp.Status)
	}
}

// TestLoginSprayBlocked: logging in to one's own account between guesses
// at others no longer resets the address's failure count: the guesses
// stop being checked after the free few (it was 60 accounts in 4.5 s).
func TestLoginSprayBlocked(t *testing.T) {
	r := newRig(t)
	r.Account("mallory@example.test")
	b := r.browser()
	refused := 0
	for i := range 30 {
		code, _, _ := b.post("/login", url.Values{"email": {fmt.Sprintf("victim%d@example.test", i)}, "password": {"Summer2026!"}})
		if code == http.StatusTooManyRequests {
			refused++
		}
		if i%3 == 2 { // from the same address, another cookie jar
			r.browser().post("/login", url.Values{"email": {"mallory@example.test"}, "password": {password}})
		}
	}
	logs := r.Log.String()
	checks := strings.Count(logs, "result=unknown_account")
	t.Logf("30 guesses with own logins in between: %d checked, %d refused (429)", checks, refused)
	if checks > 6 {
		t.Errorf("%d guesses at other accounts checked, want at most 6", checks)
	}
}

// TestConnectionsPerAddressCapped: the web caps the connections from one
// address like the mail listeners (web.max_connections_per_ip); the one
// over the cap gets 503 and the others keep working.
func TestConnectionsPerAddressCapped(t *testing.T) {
	r := newRig(t, testrig.Config(func(c *config.Config) { c.Web.MaxConnectionsPerIP = 3 }))
	var open []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", r.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
	}
	time.Sleep(100 * time.Millisecond) // accepted and counted
	extra, err := net.Dial("tcp", r.Addr("http"))
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("connection over the cap: %v %v", resp, err)
	}
	// The ones within the cap are served.
	c := open[0]
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("connection within the cap: %v %v", resp, err)
	}
}

// TestParallelWebGuessesBounded: 20 browsers guessing one account's
// password at once from one address get the free few checks and then one
// per delay; the rest are told 429 at once (it was 345 logins a minute).
func TestParallelWebGuessesBounded(t *testing.T) {
	r := newRig(t)
	const browsers, duration = 20, 3 * time.Second
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i := range browsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := r.browser()
			for n := 0; time.Now().Before(deadline); n++ {
				resp, err := b.postLogin(url.Values{"email": {"ann@example.test"}, "password": {fmt.Sprintf("guess-%d-%d", i, n)}})
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					refused.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	checks := strings.Count(r.Log.String(), "result=invalid_password")
	t.Logf("%d browsers for %v: %d password checks, %d refused (429)", browsers, duration, checks, refused.Load())
	if checks > 10 {
		t.Errorf("%d password checks in %v from one address, want at most 10", checks, duration)
	}
}

// TestHealthz: a load balancer's health check answers 200 while the store
// answers and 503 once it does not, without a login.
func TestHealthz(t *testing.T) {
	r := newRig(t)
	c := &http.Client{Timeout: 10 * time.Second}
	get := func() (int, string) {
		t.Helper()
		resp, err := c.Get(r.base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("GET /healthz: %d %q, want 200 ok", code, body)
	}
	// The store going away under the running server (as a database that
	// stops does): the node reports itself unhealthy.
	r.Store.Close()
	if code, body := get(); code != http.StatusServiceUnavailable || body != "store unavailable\n" {
		t.Fatalf("GET /healthz with the store closed: %d %q, want 503", code, body)
	}
}
