// Package chromium drives Mailroom's webmail in a real headless Chromium
// for tests: one Chromium per test, a tab whose page errors fail the
// test, and the steps every browser test takes (log in through the form,
// find a form field by its label, a message's row in a list). Shared by
// internal/web's own browser tests and internal/e2e's, which change mail
// over IMAP and POP3 while a page is open.
//
// Like testrig, only _test.go files import it. A test needs a chromium,
// chromium-browser or google-chrome binary (scripts/install-test-deps.sh
// installs Debian's chromium) and is skipped without one, and with -short.
package chromium

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds what a browser test does once Chromium runs, and
// startTimeout Chromium's start, so that a hung browser or a page that
// never shows what is awaited fails the test instead of blocking CI until
// the global test timeout. A test takes a few seconds; the rest is room
// for a loaded CI machine running other packages' tests beside it.
const (
	Timeout      = 30 * time.Second
	startTimeout = 30 * time.Second
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

// Tab is one tab of a Chromium of its own, on a Mailroom's webmail.
type Tab struct {
	T    *testing.T
	Ctx  context.Context // the tab's, with the test's timeout
	Base string          // the webmail's URL, "http://127.0.0.1:port"

	expected *expected
}

// expected holds the error statuses a test loads on purpose (see
// ExpectStatus), shared with the goroutine that reads the console.
type expected struct {
	mu       sync.Mutex
	statuses map[string]int // URL path → status
}

// ExpectStatus tells the tab that loading path answers status on purpose
// (an error page a test opens), so that Chromium's console error for it
// does not fail the test.
func (b *Tab) ExpectStatus(path string, status int) {
	b.expected.mu.Lock()
	defer b.expected.mu.Unlock()
	b.expected.statuses[path] = status
}

// expectedStatus reports whether m is the console error of a status a
// test expects.
func (e *expected) expectedStatus(m chromedp.ConsoleMessage) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for path, status := range e.statuses {
		if strings.HasSuffix(m.URL, path) && strings.Contains(m.String(), "status of "+strconv.Itoa(status)+" ") {
			return true
		}
	}
	return false
}

// NewTab starts a headless Chromium for one test, closed when the test
// ends. Its actions fail after timeout. Every page error the tab reports
// (an uncaught exception, a console error, a resource the
// Content-Security-Policy blocked) fails the test at its end: such errors
// are the bugs a test with only HTTP requests cannot see.
func NewTab(t *testing.T, base string, timeout time.Duration) *Tab {
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
		// A test's Chromium fetches nothing of its own: no component
		// updates (background networking and sync are off by default).
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	logs := &testLog{t: t}
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
	abort := time.AfterFunc(startTimeout, cancelTab)
	err := chromedp.Do(tabCtx)
	abort.Stop()
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	exp := &expected{statuses: map[string]int{}}
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
			if exp.expectedStatus(m) {
				logs.logf("expected error status at %s", m.URL)
				continue
			}
			if known := knownPageProblem(m); known != "" {
				logs.logf("known page problem (%s) at %s", known, m.URL)
				continue
			}
			mu.Lock()
			problems = append(problems, text)
			mu.Unlock()
		}
	})
	return &Tab{T: t, Ctx: ctx, Base: base, expected: exp}
}

// knownPageProblem names a console error the pages are known to cause, so
// that it does not fail every test; anything else does. Each entry must
// match one problem narrowly.
func knownPageProblem(m chromedp.ConsoleMessage) string {
	// The script editor answers a script that does not compile with 400
	// and the page showing the error at its line, which Chromium logs.
	if strings.HasSuffix(m.URL, "/settings/scripts") && strings.Contains(m.String(), "status of 400 (Bad Request)") {
		return "script editor: a script with an error, 400"
	}
	// The settings page answers a token form with an error (a name
	// taken, days out of range) with 400 and the error next to the field.
	if strings.HasSuffix(m.URL, "/settings/access-tokens") && strings.Contains(m.String(), "status of 400 (Bad Request)") {
		return "access token form: an error next to a field, 400"
	}
	// TestAppWithoutScript blocks the app's script to see the fallback.
	if strings.Contains(m.URL, "/app/assets/app.js") && strings.Contains(m.String(), "ERR_BLOCKED_BY_CLIENT") {
		return "the app's script blocked on purpose"
	}
	return ""
}

// testLog passes what the browser's goroutines report to the test log
// until the test ends: chromedp's goroutines may still report while
// Chromium shuts down, and t.Logf after the end of a test panics.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf(format, args...)
	}
}

func (l *testLog) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

// Do runs steps; the test fails if one does.
func (b *Tab) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	if err := chromedp.Do(b.Ctx, steps...); err != nil {
		b.T.Fatal(err)
	}
}

// Open runs steps that load a page (a navigation, a click on a link or on
// a submit button) and fails at once when the page comes with an error
// status, rather than when the wait for its content runs out of time.
func (b *Tab) Open(steps ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	resp, err := chromedp.RunResponse(b.Ctx, steps...)
	if err != nil {
		b.T.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		b.T.Fatalf("%s: %d %s", resp.URL, resp.Status, resp.StatusText)
	}
}

// Run runs an action that returns a value (a method cannot have type
// parameters).
func Run[T any](b *Tab, a chromedp.Action[T]) T {
	b.T.Helper()
	v, err := chromedp.Run(b.Ctx, a)
	if err != nil {
		b.T.Fatal(err)
	}
	return v
}

// Eval evaluates JavaScript in the page.
func Eval[T any](b *Tab, js string) T {
	b.T.Helper()
	return Run(b, chromedp.Evaluate[T](js))
}

// ByLabel selects the form control that a label names, as a person or a
// screen reader finds it: a field whose label is missing or names another
// field is not found, and the test fails. Labels that wrap their control
// (the checkboxes) and labels with for= both work.
func ByLabel(text string) chromedp.JSPath {
	q, _ := json.Marshal(text)
	return chromedp.JSPath(`Array.from(document.querySelectorAll("label")).find(l => l.textContent.replace(/\s+/g, " ").trim() === ` +
		string(q) + `)?.control`)
}

// LoginApp logs in through the login form, as a person does, and waits
// for the webmail's app (internal/webapp) to show the Inbox's list.
func (b *Tab) LoginApp(email, password string) {
	b.T.Helper()
	b.Open(chromedp.Navigate(b.Base + "/login"))
	b.Do(
		chromedp.SendKeys(ByLabel("Email address"), email),
		chromedp.SendKeys(ByLabel("Password"), password),
	)
	b.Open(chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)))
	// The app names the Inbox's address once it has read the folders.
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.shell .folders li.current`)))
	if loc := Run(b, chromedp.Location()); !strings.HasPrefix(loc, b.Base+"/app/mailbox/") {
		b.T.Fatalf("after login at %s, want the app's Inbox", loc)
	}
}

// Login logs in through the login form into the basic HTML version and
// checks that it lands on the INBOX.
func (b *Tab) Login(email, password string) {
	b.T.Helper()
	b.Open(chromedp.Navigate(b.Base + "/login?next=/mail/INBOX"))
	b.Do(
		chromedp.SendKeys(ByLabel("Email address"), email),
		chromedp.SendKeys(ByLabel("Password"), password),
	)
	b.Open(chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.mail .list h1`)))
	if loc := Run(b, chromedp.Location()); loc != b.Base+"/mail/INBOX" {
		b.T.Fatalf("after login at %s, want %s/mail/INBOX", loc, b.Base)
	}
}

// Row selects a message's row in a list, or with below an element in it.
func Row(uid uint32, below string) chromedp.CSS {
	return chromedp.CSS(`tr[data-uid="` + strconv.FormatUint(uint64(uid), 10) + `"]` + below)
}

// RowJS is JavaScript for a message's row in a list.
func RowJS(uid uint32) string {
	return `document.querySelector('tr[data-uid="` + strconv.FormatUint(uint64(uid), 10) + `"]')`
}
