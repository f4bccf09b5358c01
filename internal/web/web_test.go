package web

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

const password = "correct horse"

// rig is a real Mailroom with the web on a loopback HTTP listener.
type rig struct {
	t    testing.TB
	srv  *server.Server
	st   store.Store
	base string
	acct store.Account
}

func newRig(t testing.TB) *rig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	// Only the web is started (the other protocols have no factory here);
	// the others are configured so that client setup describes them.
	cfg.Listen = config.Listen{HTTP: "127.0.0.1:0", IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995",
		Submission: ":587", Submissions: ":465"}
	cfg.TLS.SelfSigned = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{"http": Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	r := &rig{t: t, srv: srv, st: srv.Deps().Store}
	for _, l := range srv.Listening() {
		if l.Key == "http" {
			r.base = "http://" + l.Addr
		}
	}
	ctx := context.Background()
	if _, err := r.st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	r.acct = r.account("ann@example.test")
	return r
}

func (r *rig) account(email string) store.Account {
	r.t.Helper()
	cred, err := auth.HashPassword(password, auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		r.t.Fatal(err)
	}
	a, err := r.st.CreateAccount(context.Background(), email, cred)
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

// deliver puts a message into a mailbox of ann's.
func (r *rig) deliver(mailbox, msg string) store.Delivered {
	r.t.Helper()
	ctx := context.Background()
	mb, err := r.st.Mailbox(ctx, r.acct.ID, mailbox)
	if err != nil {
		r.t.Fatal(err)
	}
	m, err := r.st.Stage(ctx, strings.NewReader(msg))
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.st.Deliver(ctx, m, []store.Target{{MailboxID: mb.ID}})
	if err != nil {
		r.t.Fatal(err)
	}
	return d[0]
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
	t, _ := r.t.(*testing.T)
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
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
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
	resp, err := r.browser().c.PostForm(r.base+"/login", url.Values{"email": {"ann@example.test"}, "password": {password}})
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
	d := r.deliver("INBOX", sample)
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
	trash, _ := r.st.Mailbox(context.Background(), r.acct.ID, "Trash")
	if list, _ := r.st.MessageList(context.Background(), trash.ID); len(list) != 1 {
		t.Fatalf("Trash holds %d messages after delete", len(list))
	}
	if code, _, _ := b.post("/folders/empty", url.Values{"csrf": {b.csrf}, "name": {"Trash"}}); code != http.StatusSeeOther {
		t.Fatalf("empty Trash: %d", code)
	}
	if list, _ := r.st.MessageList(context.Background(), trash.ID); len(list) != 0 {
		t.Fatalf("Trash holds %d messages after emptying", len(list))
	}
	// Another account's message is not reachable by ID.
	other := r.account("eve@example.test")
	inbox, _ := r.st.Mailbox(context.Background(), other.ID, "INBOX")
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
	d := r.deliver("INBOX", msg)
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
	d := r.deliver("INBOX", sample)
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
	if _, err := r.st.UpdateFlags(context.Background(), d.MailboxID, store.FlagUpdate{UIDs: []uint32{d.UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged}); err != nil {
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
	r.t.Helper()
	mb, _ := r.st.Mailbox(context.Background(), r.acct.ID, mailbox)
	list, _ := r.st.MessageList(context.Background(), mb.ID)
	for _, m := range list {
		if m.UID == uid {
			return m
		}
	}
	r.t.Fatalf("no message %d in %s", uid, mailbox)
	return store.MessageMeta{}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestHTMLMessageIsSanitised(t *testing.T) {
	r := newRig(t)
	msg := "From: news@example.org\r\nSubject: Newsletter\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<p style="color:red">Hello <b>reader</b></p><img src="https://tracker.example/pixel.gif"><script>alert(1)</script>` +
		`<a href="javascript:alert(2)">x</a><img src=x onerror="alert(3)">` + "\r\n"
	d := r.deliver("INBOX", msg)
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
	d := r.deliver("INBOX", sample)
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
