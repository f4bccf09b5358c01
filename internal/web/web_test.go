package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

const password = testrig.Password

// rig is a real Mailroom with the web on a loopback HTTP listener and the
// account ann@example.test.
type rig struct {
	*testrig.Rig
	base string // "http://127.0.0.1:port"
	acct store.Account
}

// newRig starts the rig; opts may change its configuration or store (see
// testrig).
func newRig(t testing.TB, opts ...testrig.Option) *rig {
	t.Helper()
	// Only the web is started (the other protocols have no factory here);
	// the others are configured so that client setup describes them.
	opts = append([]testrig.Option{testrig.Listen("http"), testrig.Config(func(c *config.Config) {
		c.Listen.IMAP, c.Listen.IMAPS, c.Listen.POP3, c.Listen.POP3S = ":143", ":993", ":110", ":995"
		c.Listen.Submission, c.Listen.Submissions = ":587", ":465"
	})}, opts...)
	tr := testrig.Start(t, testrig.Factories{"http": Factory()}, opts...)
	r := &rig{Rig: tr, base: "http://" + tr.Addr("http")}
	r.acct = r.Account("ann@example.test")
	return r
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T // nil in benchmarks, which use c directly
	base string
	c    *http.Client
	csrf string
}

func (r *rig) browser() *browser {
	jar, _ := cookiejar.New(nil)
	t, _ := r.T.(*testing.T)
	return &browser{t: t, base: r.base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, http.Header, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header, string(body)
}

func (b *browser) post(path string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	if path == "/login" && !form.Has("login_token") {
		// As a browser does: load the login page, post its form.
		form = cloneValues(form)
		form.Set("login_token", b.loginToken())
	}
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// loginToken loads the login page and returns the token of its form.
func (b *browser) loginToken() string {
	resp, err := b.c.Get(b.base + "/login")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// postLogin posts the login form as a browser does (see post).
func (b *browser) postLogin(form url.Values) (*http.Response, error) {
	form = cloneValues(form)
	form.Set("login_token", b.loginToken())
	return b.c.PostForm(b.base+"/login", form)
}

// login logs in as ann and loads a page to learn the CSRF token.
func (b *browser) login(email string) {
	b.t.Helper()
	code, h, body := b.post("/login", url.Values{"email": {email}, "password": {password}, "next": {"/mail/INBOX"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/mail/INBOX" {
		b.t.Fatalf("login: %d %s\n%s", code, h.Get("Location"), body)
	}
	b.get("/mail/INBOX")
	if b.csrf == "" {
		b.t.Fatal("no CSRF token on the page")
	}
}

const sample = "From: Bob <bob@example.org>\r\nTo: ann@example.test\r\nSubject: Lunch on Friday\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lunch@example.org>\r\n\r\nShall we meet at noon? <b>not bold</b>\r\n"

func TestLoginAndSecurityHeaders(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	code, h, _ := b.get("/mail/INBOX")
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login?next=") {
		t.Fatalf("logged-out mailbox: %d %q", code, h.Get("Location"))
	}
	code, _, body := b.post("/login", url.Values{"email": {"ann@example.test"}, "password": {"wrong"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "Wrong email address or password") {
		t.Fatalf("wrong password: %d", code)
	}
	// An open redirect through "next" is refused.
	code, h, _ = b.post("/login", url.Values{"email": {"ann@example.test"}, "password": {password}, "next": {"//evil.example/x"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("next=//evil.example: %d %q", code, h.Get("Location"))
	}
	code, h, body = b.get("/mail/INBOX")
	if code != 200 || !strings.Contains(body, "No messages in INBOX") {
		t.Fatalf("INBOX after login: %d\n%s", code, body)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	// The cookie is HttpOnly and SameSite.
	resp, err := r.browser().postLogin(url.Values{"email": {"ann@example.test"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie) {
			cookie = c
		}
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Errorf("session cookie %q", cookie)
	}
	// A POST without the CSRF token is refused; logout with it works.
	if code, _, _ := b.post("/logout", nil); code != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", code)
	}
	if code, _, _ := b.post("/logout", url.Values{"csrf": {b.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := b.get("/mail/INBOX"); code != http.StatusSeeOther {
		t.Fatalf("after logout: %d", code)
	}
}

func TestMailboxMessageAndActions(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, sample)
	b := r.browser()
	b.login("ann@example.test")
	_, _, body := b.get("/mail/INBOX")
	if !strings.Contains(body, "Lunch on Friday") || !strings.Contains(body, "Bob") || !strings.Contains(body, `class="unread"`) {
		t.Fatalf("list:\n%s", body)
	}
	msgURL := "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))
	code, _, body := b.get(msgURL)
	if code != 200 || !strings.Contains(body, "Shall we meet at noon?") || strings.Contains(body, "<b>not bold</b>") {
		t.Fatalf("message page %d:\n%s", code, body)
	}
	meta := r.meta("INBOX", d.UID)
	if meta.Flags&store.FlagSeen == 0 {
		t.Fatal("opening the message did not mark it read")
	}
	if code, _, _ := b.post(msgURL+"/flags", url.Values{"csrf": {b.csrf}, "action": {"flag"}, "back": {msgURL}}); code != http.StatusSeeOther {
		t.Fatalf("flag: %d", code)
	}
	if r.meta("INBOX", d.UID).Flags&store.FlagFlagged == 0 {
		t.Fatal("not flagged")
	}
	if code, _, _ := b.post(msgURL+"/delete", url.Values{"csrf": {b.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	trash, _ := r.Store.Mailbox(context.Background(), r.acct.ID, "Trash")
	if list, _ := r.Store.MessageList(context.Background(), trash.ID); len(list) != 1 {
		t.Fatalf("Trash holds %d messages after delete", len(list))
	}
	if code, _, _ := b.post("/folders/empty", url.Values{"csrf": {b.csrf}, "name": {"Trash"}}); code != http.StatusSeeOther {
		t.Fatalf("empty Trash: %d", code)
	}
	if list, _ := r.Store.MessageList(context.Background(), trash.ID); len(list) != 0 {
		t.Fatalf("Trash holds %d messages after emptying", len(list))
	}
	// Another account's message is not reachable by ID.
	other := r.Account("eve@example.test")
	inbox, _ := r.Store.Mailbox(context.Background(), other.ID, "INBOX")
	if code, _, _ := b.get("/msg/" + itoa64(inbox.ID) + "/1"); code != http.StatusNotFound {
		t.Fatalf("another account's mailbox: %d", code)
	}
}

func TestAttachmentDownload(t *testing.T) {
	r := newRig(t)
	msg := "From: bob@example.org\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n" +
		"--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=evil.html\r\n\r\n<script>alert(1)</script>\r\n" +
		"--b--\r\n"
	d := r.Deliver(r.acct, msg)
	b := r.browser()
	b.login("ann@example.test")
	base := "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))
	_, _, body := b.get(base)
	if !strings.Contains(body, "report.pdf") || !strings.Contains(body, "evil.html") {
		t.Fatalf("attachments not listed:\n%s", body)
	}
	code, h, data := b.get(base + "/part/2")
	if code != 200 || data != "%PDF-1.4\n%äüöß\n" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(h.Get("Content-Disposition"), "report.pdf") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %q %v", code, data, h)
	}
	_, h, _ = b.get(base + "/part/3")
	if h.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("an HTML attachment must download as octet-stream: %v", h)
	}
}

// TestLiveEvents: a change made outside the page (here through the store,
// as IMAP or POP3 would) reaches an open page's event stream.
func TestLiveEvents(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, sample)
	b := r.browser()
	b.login("ann@example.test")
	req, _ := http.NewRequest("GET", r.base+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s", resp.Header.Get("Content-Type"))
	}
	got := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := r.Store.UpdateFlags(context.Background(), d.MailboxID, store.FlagUpdate{UIDs: []uint32{d.UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-got:
			if !ok {
				t.Fatal("stream ended")
			}
			if l == "data: "+itoa64(d.MailboxID) {
				return
			}
		case <-deadline:
			t.Fatal("no change event within 5 s")
		}
	}
}

func (r *rig) meta(mailbox string, uid uint32) store.MessageMeta {
	r.T.Helper()
	for _, m := range r.Messages(r.acct, mailbox) {
		if m.UID == uid {
			return m
		}
	}
	r.T.Fatalf("no message %d in %s", uid, mailbox)
	return store.MessageMeta{}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestHTMLMessageIsSanitised(t *testing.T) {
	r := newRig(t)
	msg := "From: news@example.org\r\nSubject: Newsletter\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<p style="color:red">Hello <b>reader</b></p><img src="https://tracker.example/pixel.gif"><script>alert(1)</script>` +
		`<a href="javascript:alert(2)">x</a><img src=x onerror="alert(3)">` + "\r\n"
	d := r.Deliver(r.acct, msg)
	b := r.browser()
	b.login("ann@example.test")
	url := "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))
	_, h, body := b.get(url)
	m := regexp.MustCompile(`srcdoc="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no HTML frame:\n%s", body)
	}
	frame := m[1]
	for _, bad := range []string{"&lt;script", "onerror", "javascript:", "tracker.example"} {
		if strings.Contains(frame, bad) {
			t.Errorf("the shown HTML still contains %q: %s", bad, frame)
		}
	}
	if !strings.Contains(frame, "reader") || !strings.Contains(body, "remote image(s) blocked") {
		t.Fatalf("content or the blocked-images notice missing:\n%s", body)
	}
	if csp := h.Get("Content-Security-Policy"); strings.Contains(csp, "https:") || strings.Contains(csp, "script-src 'self' 'unsafe") {
		t.Fatalf("CSP before showing images: %q", csp)
	}
	_, h, body = b.get(url + "?images=1")
	if !strings.Contains(h.Get("Content-Security-Policy"), "img-src 'self' data: https:") || !strings.Contains(body, "tracker.example") {
		t.Fatalf("images not shown on request: %q", h.Get("Content-Security-Policy"))
	}
}

// TestMarkUnreadFromMessagePage: "Mark unread" on an open message leaves
// it unread (going back to the message would read it again).
func TestMarkUnreadFromMessagePage(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, sample)
	b := r.browser()
	b.login("ann@example.test")
	msgURL := "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))
	_, _, body := b.get(msgURL)
	m := regexp.MustCompile(`name="back" value="([^"]*)">\s*<button name="action" value="unread">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no Mark unread form:\n%s", body)
	}
	code, h, _ := b.post(msgURL+"/flags", url.Values{"csrf": {b.csrf}, "action": {"unread"}, "back": {m[1]}})
	if code != http.StatusSeeOther {
		t.Fatalf("mark unread: %d", code)
	}
	b.get(h.Get("Location"))
	if r.meta("INBOX", d.UID).Flags&store.FlagSeen != 0 {
		t.Fatalf("still read after Mark unread and following the redirect to %s", h.Get("Location"))
	}
}
