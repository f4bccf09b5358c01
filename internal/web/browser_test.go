package web

// End-to-end tests in a real headless Chromium: the pages, forms, script
// and downloads as a person uses them, with IMAP and POP3 clients changing
// the same mail at the same time. They need a chromium, chromium-browser
// or google-chrome binary (scripts/install-test-deps.sh installs Debian's
// chromium) and are skipped without one, and with -short.
//
// MAILROOM_SCREENSHOTS=dir keeps the screenshots of TestBrowserScreenshots
// in dir for a person to look at.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"

	"mailroom/internal/config"
	"mailroom/internal/delivery"
	mrimap "mailroom/internal/imap"
	"mailroom/internal/listener"
	"mailroom/internal/pop3"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

// browserTimeout bounds what a browser test does once Chromium runs, and
// browserStartTimeout Chromium's start, so that a hung browser or a page
// that never shows what is awaited fails the test instead of blocking CI
// until the global test timeout. A test takes a few seconds; the rest is
// room for a loaded CI machine running other packages' tests beside it.
const (
	browserTimeout      = 30 * time.Second
	browserStartTimeout = 30 * time.Second
)

// chromiumPath finds a browser, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real Chromium: skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium, chromium-browser or google-chrome in PATH (scripts/install-test-deps.sh installs chromium)")
	return ""
}

// chromeTab is one tab of a Chromium of its own, on a rig's webmail.
type chromeTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newChromeTab starts a headless Chromium for one test, closed when the test
// ends. Its actions fail after timeout. Every page error the tab reports
// (an uncaught exception, a console error, a resource the
// Content-Security-Policy blocked) fails the test at its end: such errors
// are the bugs a test with only HTTP requests cannot see.
func newChromeTab(t *testing.T, base string, timeout time.Duration) *chromeTab {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Chromium will not run its sandbox as root, and containers often
		// lack the user namespaces it needs otherwise.
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.DisableGPU,
		// /dev/shm is 64 MB in a default container: too small for Chromium.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	logs := &browserLog{t: t}
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		logs.logf("chromedp: "+format, args...)
	}))
	// The first Run ties Chromium's life to its context, so it gets one
	// without a deadline; the actions get theirs from ctx.
	ctx, cancel := context.WithTimeout(tabCtx, timeout)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	t.Cleanup(func() {
		cancel()
		cancelTab()
		cancelAlloc() // waits for Chromium to exit
		wg.Wait()
		logs.close()
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("page error: %s", p)
		}
	})
	start := time.Now()
	abort := time.AfterFunc(browserStartTimeout, cancelTab)
	err := chromedp.Do(tabCtx)
	abort.Stop()
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	messages := chromedp.Console(ctx)
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return // the tab closed
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			text := m.String() + " (" + m.URL + ")"
			if known := knownPageProblem(m); known != "" {
				logs.logf("known page problem (%s) at %s", known, m.URL)
				continue
			}
			mu.Lock()
			problems = append(problems, text)
			mu.Unlock()
		}
	})
	return &chromeTab{t: t, ctx: ctx, base: base}
}

// knownPageProblem names a console error the pages are known to cause, so
// that it does not fail every test; anything else does. Each entry must
// match one problem narrowly; there are none now.
func knownPageProblem(m chromedp.ConsoleMessage) string {
	return ""
}

// browserLog passes what the browser's goroutines report to the test log
// until the test ends: chromedp's goroutines may still report while
// Chromium shuts down, and t.Logf after the end of a test panics.
type browserLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *browserLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf(format, args...)
	}
}

func (l *browserLog) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

func (b *chromeTab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// open runs steps that load a page (a navigation, a click on a link or on
// a submit button) and fails at once when the page comes with an error
// status, rather than when the wait for its content runs out of time.
func (b *chromeTab) open(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		b.t.Fatalf("%s: %d %s", resp.URL, resp.Status, resp.StatusText)
	}
}

// tabRun runs an action that returns a value (a method cannot have type
// parameters).
func tabRun[T any](b *chromeTab, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

func tabEval[T any](b *chromeTab, js string) T {
	b.t.Helper()
	return tabRun(b, chromedp.Evaluate[T](js))
}

// byLabel selects the form control that a label names, as a person or a
// screen reader finds it: a field whose label is missing or names another
// field is not found, and the test fails. Labels that wrap their control
// (the checkboxes) and labels with for= both work.
func byLabel(text string) chromedp.JSPath {
	q, _ := json.Marshal(text)
	return chromedp.JSPath(`Array.from(document.querySelectorAll("label")).find(l => l.textContent.replace(/\s+/g, " ").trim() === ` +
		string(q) + `)?.control`)
}

// login logs in through the login form and checks that it lands on the
// INBOX.
func (b *chromeTab) login(email string) {
	b.t.Helper()
	b.open(chromedp.Navigate(b.base + "/login"))
	b.do(
		chromedp.SendKeys(byLabel("Email address"), email),
		chromedp.SendKeys(byLabel("Password"), password),
	)
	b.open(chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(`.mail .list h1`)))
	if loc := tabRun(b, chromedp.Location()); loc != b.base+"/mail/INBOX" {
		b.t.Fatalf("after login at %s, want %s/mail/INBOX", loc, b.base)
	}
}

// rowSel selects a message's row in a list.
func rowSel(uid uint32, below string) chromedp.CSS {
	return chromedp.CSS(`tr[data-uid="` + strconv.FormatUint(uint64(uid), 10) + `"]` + below)
}

// rowJS is JavaScript for a message's row in a list.
func rowJS(uid uint32) string {
	return `document.querySelector('tr[data-uid="` + strconv.FormatUint(uint64(uid), 10) + `"]')`
}

// protoRig is the web rig with IMAP and POP3 listening too, without TLS on
// loopback (AllowInsecure), so that a test can change mail as a mail
// program does while a page is open.
type protoRig struct {
	*rig
	imap, pop3 string
}

func newProtoRig(t *testing.T) *protoRig {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{HTTP: "127.0.0.1:0", IMAP: "127.0.0.1:0", POP3: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	cfg.Auth.AllowInsecure = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{
		"http": Factory(), "imap": mrimap.Factory(), "pop3": pop3.Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	r := &protoRig{rig: &rig{t: t, srv: srv, st: srv.Deps().Store}}
	for _, l := range srv.Listening() {
		switch l.Key {
		case "http":
			r.base = "http://" + l.Addr
		case "imap":
			r.imap = l.Addr
		case "pop3":
			r.pop3 = l.Addr
		}
	}
	if r.base == "" || r.imap == "" || r.pop3 == "" {
		t.Fatalf("listeners: %+v", srv.Listening())
	}
	if _, err := r.st.CreateDomain(context.Background(), "example.test"); err != nil {
		t.Fatal(err)
	}
	r.acct = r.account("ann@example.test")
	return r
}

// imapLogin logs in with go-imap's client. The connection has a deadline:
// imapclient's commands have none of their own.
func (r *protoRig) imapLogin(email string) *imapclient.Client {
	r.t.Helper()
	conn, err := net.DialTimeout("tcp", r.imap, 5*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(browserTimeout))
	c := imapclient.New(conn, nil)
	r.t.Cleanup(func() { c.Close() })
	if err := c.Login(email, password).Wait(); err != nil {
		r.t.Fatalf("IMAP LOGIN %s: %v", email, err)
	}
	return c
}

// pop3Conn is a line-level POP3 client, as internal/pop3's tests use.
type pop3Conn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func (r *protoRig) pop3Dial() *pop3Conn {
	r.t.Helper()
	c, err := net.DialTimeout("tcp", r.pop3, 5*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(browserTimeout))
	p := &pop3Conn{t: r.t, c: c, r: bufio.NewReader(c)}
	if greeting := p.line(); !strings.HasPrefix(greeting, "+OK") {
		r.t.Fatalf("POP3 greeting %q", greeting)
	}
	return p
}

func (p *pop3Conn) line() string {
	p.t.Helper()
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("POP3 read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command and returns the first line of the answer.
func (p *pop3Conn) cmd(line string) string {
	p.t.Helper()
	if _, err := io.WriteString(p.c, line+"\r\n"); err != nil {
		p.t.Fatal(err)
	}
	return p.line()
}

// deliverTo delivers a message as SMTP does, through the delivery agent,
// to whatever the address leads to.
func (r *rig) deliverTo(rcpt, raw string) {
	r.t.Helper()
	ctx := context.Background()
	agent := r.srv.Deps().Delivery
	res, err := agent.Resolve(ctx, rcpt, false)
	if err != nil {
		r.t.Fatalf("resolve %s: %v", rcpt, err)
	}
	staged, err := r.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	defer staged.Discard()
	env := delivery.Envelope{From: "carol@example.org", Recipients: []delivery.Recipient{{Address: rcpt, Resolved: res}}}
	if err := agent.Deliver(ctx, staged, env); err != nil {
		r.t.Fatalf("deliver to %s: %v", rcpt, err)
	}
}

// TestBrowserLoginAndRead: log in with the form, open a message from the
// list, go back: the message is no longer shown as unread.
func TestBrowserLoginAndRead(t *testing.T) {
	r := newRig(t)
	d := r.deliver("INBOX", sample)
	b := newChromeTab(t, r.base, browserTimeout)
	b.login("ann@example.test")

	b.do(chromedp.WaitVisible(rowSel(d.UID, ` td.subject a`)))
	if got := tabRun(b, chromedp.Text(rowSel(d.UID, ` td.subject a`))); got != "Lunch on Friday" {
		t.Fatalf("subject in the list: %q", got)
	}
	if class := tabEval[string](b, rowJS(d.UID)+`.className`); !strings.Contains(class, "unread") {
		t.Fatalf("new message's row has class %q, want unread", class)
	}
	if w := tabEval[string](b, `getComputedStyle(`+rowJS(d.UID)+`.querySelector("td.subject a")).fontWeight`); w != "700" {
		t.Errorf("an unread subject has font-weight %s, want bold (700)", w)
	}

	b.open(chromedp.Click(rowSel(d.UID, ` td.subject a`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(`.textbody`)))
	text := tabRun(b, chromedp.Text(chromedp.CSS(`.textbody`)))
	if !strings.Contains(text, "Shall we meet at noon? <b>not bold</b>") {
		t.Fatalf("message text %q", text)
	}
	// The markup in a plain text message is text, never elements.
	if n := tabEval[int](b, `document.querySelectorAll(".textbody b").length`); n != 0 {
		t.Fatalf("plain text became %d <b> elements", n)
	}
	if h1 := tabRun(b, chromedp.Text(chromedp.CSS(`.msghead h1`))); h1 != "Lunch on Friday" {
		t.Errorf("message heading %q", h1)
	}

	b.do(
		chromedp.NavigateBack(),
		chromedp.WaitVisible(rowSel(d.UID, ` td.subject a`)),
	)
	if class := tabEval[string](b, rowJS(d.UID)+`.className`); strings.Contains(class, "unread") {
		t.Fatalf("after reading, back in the list the row still has class %q", class)
	}
	if w := tabEval[string](b, `getComputedStyle(`+rowJS(d.UID)+`.querySelector("td.subject a")).fontWeight`); w == "700" {
		t.Errorf("a read subject is still bold")
	}
	if n := tabEval[int](b, `document.querySelectorAll(".folders .count").length`); n != 0 {
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
	d := r.deliver("INBOX", raw)
	b := newChromeTab(t, r.base, browserTimeout)
	b.login("ann@example.test")
	b.open(chromedp.Navigate(r.base + "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))))
	b.do(chromedp.WaitVisible(chromedp.CSS(`.attachments`)))
	names := tabEval[[]string](b, `Array.from(document.querySelectorAll(".attachments li a")).map(a => a.textContent)`)
	if strings.Join(names, " ") != "a.txt b.pdf c.bin" {
		t.Fatalf("attachment links %q", names)
	}

	dir := t.TempDir()
	begun := make(chan *cdpbrowser.EventDownloadWillBegin, 10)
	done := make(chan *cdpbrowser.EventDownloadProgress, 10)
	// Listen before the click, so that no event is missed; the func runs
	// in chromedp's read loop and must not block (the channels have room).
	if err := chromedp.Listen(b.ctx, func(ev any) {
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
	b.do(
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
	case <-b.ctx.Done():
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
	case <-b.ctx.Done():
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
	if loc := tabRun(b, chromedp.Location()); !strings.HasSuffix(loc, "/msg/"+itoa64(d.MailboxID)+"/"+itoa64(int64(d.UID))) {
		t.Errorf("after the download the tab shows %s", loc)
	}
}

// TestBrowserComposeSend: a message written on /compose reaches another
// local account, whose IMAP client reads it.
func TestBrowserComposeSend(t *testing.T) {
	r := newProtoRig(t)
	r.account("bob@example.test")
	b := newChromeTab(t, r.base, browserTimeout)
	b.login("ann@example.test")

	const subject = "Plans für Samstag"
	const text = "Hallo Bob, bis Samstag! – Ann"
	b.open(chromedp.Click(chromedp.CSS(`header.top nav a[href="/compose"]`)))
	b.do(
		chromedp.WaitVisible(chromedp.CSS(`#compose-heading`)),
		chromedp.SendKeys(byLabel("To"), "Bob <bob@example.test>"),
		chromedp.SendKeys(byLabel("Subject"), subject),
		chromedp.SendKeys(byLabel("Message"), text),
	)
	b.open(chromedp.Click(chromedp.CSS(`button[name="action"][value="send"]`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if flash := tabRun(b, chromedp.Text(chromedp.CSS(`p.flash`))); flash != "Message sent." {
		t.Fatalf("after Send: %q", flash)
	}

	// In the store: one unread message in bob's INBOX, a read copy in
	// ann's Sent.
	ctx := context.Background()
	bob, err := r.st.Account(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := r.st.Mailbox(ctx, bob.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	list, err := r.st.MessageList(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Flags&store.FlagSeen != 0 {
		t.Fatalf("bob's INBOX: %+v", list)
	}
	sent, err := r.st.Mailbox(ctx, r.acct.ID, "Sent")
	if err != nil {
		t.Fatal(err)
	}
	if copies, _ := r.st.MessageList(ctx, sent.ID); len(copies) != 1 {
		t.Errorf("ann's Sent holds %d messages, want 1", len(copies))
	}

	// Over IMAP.
	c := r.imapLogin("bob@example.test")
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
	r := newProtoRig(t)
	d := r.deliver("INBOX", sample)
	b := newChromeTab(t, r.base, browserTimeout)
	// The change must come after the page's event stream is connected, or
	// the page never hears of it. The server subscribes to the changes
	// before it sends the stream's response header, so the response is the
	// signal; subscribe to it before the page loads.
	responses := chromedp.Events(b.ctx, network.ResponseReceived)
	b.login("ann@example.test")
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
	b.do(chromedp.Evaluate[chromedp.Void](`window.__marker = 42`))
	if n := tabEval[int](b, `document.querySelectorAll("tr.flagged").length`); n != 0 {
		t.Fatalf("%d rows flagged before the change", n)
	}

	c := r.imapLogin("ann@example.test")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(goimap.UIDSetNum(goimap.UID(d.UID)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true,
		Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatalf("IMAP STORE: %v", err)
	}
	b.do(chromedp.WaitVisible(rowSel(d.UID, `.flagged td.from .flag`)))
	if star := tabRun(b, chromedp.Text(rowSel(d.UID, ` td.from .flag`))); star != "★" {
		t.Errorf("flag shown as %q", star)
	}
	if m := tabEval[int](b, `window.__marker || 0`); m != 42 {
		t.Fatal("the page was reloaded to show the flag")
	}

	r.deliverTo("ann@example.test", "From: Carol <carol@example.org>\r\nTo: ann@example.test\r\nSubject: Fresh news\r\n"+
		"Date: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <fresh@example.org>\r\n\r\nJust arrived.\r\n")
	b.do(chromedp.WaitVisible(chromedp.JSPath(`Array.from(document.querySelectorAll("tr.unread td.subject a")).find(a => a.textContent === "Fresh news")`)))
	if m := tabEval[int](b, `window.__marker || 0`); m != 42 {
		t.Fatal("the page was reloaded to show the new message")
	}
	if title := tabRun(b, chromedp.Title()); !strings.HasPrefix(title, "(2) INBOX") {
		t.Errorf("title %q, want the 2 unread counted", title)
	}
	if rows := tabEval[int](b, `document.querySelectorAll("table.messages tbody tr").length`); rows != 2 {
		t.Errorf("%d rows, want 2", rows)
	}
}

// TestBrowserPOP3Off: unticking "Allow POP3" on the settings page stops
// POP3 logins, with a message saying why.
func TestBrowserPOP3Off(t *testing.T) {
	r := newProtoRig(t)
	// POP3 works before: the failure below is the setting's doing.
	p := r.pop3Dial()
	if got := p.cmd("USER ann@example.test"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("USER: %q", got)
	}
	if got := p.cmd("PASS " + password); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("PASS with POP3 on: %q", got)
	}
	p.cmd("QUIT")

	b := newChromeTab(t, r.base, browserTimeout)
	b.login("ann@example.test")
	pop3Box := byLabel("Allow POP3")
	b.open(chromedp.Click(chromedp.CSS(`header.top nav a[href="/settings"]`)))
	b.do(chromedp.WaitVisible(pop3Box))
	if !tabRun(b, chromedp.JavascriptAttribute[bool](pop3Box, "checked")) {
		t.Fatal("Allow POP3 is not ticked on a new account")
	}
	b.do(chromedp.Click(pop3Box))
	if tabRun(b, chromedp.JavascriptAttribute[bool](pop3Box, "checked")) {
		t.Fatal("clicking Allow POP3 did not untick it")
	}
	b.open(chromedp.Click(chromedp.CSS(`form[action="/settings/protocols"] button[type="submit"]`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if flash := tabRun(b, chromedp.Text(chromedp.CSS(`p.flash`))); flash != "Protocols saved." {
		t.Fatalf("after Save: %q", flash)
	}
	st, err := r.st.Settings(context.Background(), r.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bool("pop3.enabled") || !st.Bool("imap.enabled") {
		t.Fatalf("stored pop3.enabled=%v imap.enabled=%v, want false and true", st.Bool("pop3.enabled"), st.Bool("imap.enabled"))
	}
	// The page shows what is stored.
	b.do(chromedp.WaitVisible(pop3Box))
	if tabRun(b, chromedp.JavascriptAttribute[bool](pop3Box, "checked")) {
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
	if err := r.st.SetSettings(context.Background(), r.acct.ID, map[string]string{"admin": "true"}); err != nil {
		t.Fatal(err)
	}
	// A list that looks used: read and unread, flagged, attachments, a
	// long subject and sender, an HTML message.
	r.deliver("INBOX", sample)
	_, raw := threeFiles()
	files := r.deliver("INBOX", raw)
	r.deliver("INBOX", "From: \"Dr. Maximiliane Wolkenstein-Habsburg, Department of Extraordinarily Long Names\" <maximiliane.wolkenstein@university.example>\r\n"+
		"To: ann@example.test\r\nSubject: Re: Re: Fwd: The agenda for the annual general meeting of the association, with the amended budget, the minutes and the seating plan\r\n"+
		"Date: Fri, 20 Nov 2026 09:00:00 +0000\r\n\r\nPlease find the agenda below. "+strings.Repeat("This line is long enough to wrap several times on a phone. ", 8)+"\r\n")
	r.deliver("INBOX", "From: Newsletter <news@shop.example>\r\nTo: ann@example.test\r\nSubject: Our autumn offers\r\nDate: Thu, 19 Nov 2026 08:00:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"+
		`<html><body><h1 style="color: #b00">Autumn offers</h1><p style="font-size: 18px">Everything <b>half price</b> this week.</p>`+
		`<table style="border: 1px solid #888"><tr><td>Boots</td><td>49 €</td></tr><tr><td>Scarf</td><td>12 €</td></tr></table>`+
		`<p><a href="https://shop.example/offers">See all offers</a> <img src="https://shop.example/pixel.gif" alt=""></p></body></html>`+"\r\n")
	ctx := context.Background()
	if _, err := r.st.UpdateFlags(ctx, files.MailboxID, store.FlagUpdate{UIDs: []uint32{files.UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged | store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.CreateMailbox(ctx, r.acct.ID, "Projects", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.CreateMailbox(ctx, r.acct.ID, "Projects/Garden", ""); err != nil {
		t.Fatal(err)
	}

	// Thirteen pages to load and capture: three tests' worth of time.
	b := newChromeTab(t, r.base, 3*browserTimeout)
	shot := func(name string) {
		t.Helper()
		png := tabRun(b, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
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
		{"compose", r.base + "/compose", `#compose-heading`},
		{"settings", r.base + "/settings", `#h-protocols`},
		{"admin", r.base + "/admin", `#h-queue`},
	}

	b.open(chromedp.Navigate(r.base + "/login"))
	shot("login")
	b.login("ann@example.test")
	for _, p := range pages {
		b.open(chromedp.Navigate(p.url))
		b.do(chromedp.WaitVisible(chromedp.CSS(p.ready)))
		shot(p.name)
	}
	b.open(chromedp.Navigate(r.base + "/mail/INBOX"))
	b.open(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll("td.subject a")).find(a => a.textContent === "Our autumn offers")`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(`iframe.htmlbody`)))
	shot("message-html")

	// On a phone, from logging out (logged in, /login leads to the INBOX)
	// and in again.
	b.do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	b.open(chromedp.Click(chromedp.CSS(`form.logout button[type="submit"]`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(`.login form`)))
	shot("phone-login")
	b.login("ann@example.test")
	for _, p := range pages {
		b.open(chromedp.Navigate(p.url))
		b.do(chromedp.WaitVisible(chromedp.CSS(p.ready)))
		shot("phone-" + p.name)
		// What sticks out to the right makes the whole page scroll
		// sideways on a phone.
		wide := tabEval[[]string](b, `(() => {
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
