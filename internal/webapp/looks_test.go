package webapp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mailroom/internal/testrig/chromium"
	"mailroom/internal/webapp"
)

// TestAppNoHorizontalScroll: at 320, 390, 1366 and 1920 px the page never
// scrolls sideways, with a subject and an address far longer than any
// screen, in the list and in the conversation; a 390 px phone shows at
// least 8 conversations.
func TestAppNoHorizontalScroll(t *testing.T) {
	r := start(t)
	long := strings.Repeat("Supercalifragilisticexpialidocious", 12)
	r.Deliver(r.acct, msg(`"`+long+`" <`+strings.Repeat("x", 120)+`@example.org>`, long, long))
	for i := range 12 {
		r.Deliver(r.acct, msg("Bob <bob@example.org>", fmt.Sprintf("Short %d", i), "x"))
	}
	b := r.tab(t)
	waitRows(t, b, 13)
	check := func(where string, w int64) {
		t.Helper()
		sw := chromium.Eval[int](b, `document.documentElement.scrollWidth`)
		iw := chromium.Eval[int](b, `window.innerWidth`)
		if sw > iw {
			t.Errorf("%s at %d px: the page is %d px wide, the window %d", where, w, sw, iw)
		}
	}
	for _, w := range []int64{320, 390, 1366, 1920} {
		setWidth(b, w, 844)
		check("list", w)
		if w == 390 {
			n := chromium.Eval[int](b, `Array.from(document.querySelectorAll(".rows li.row")).filter(li => li.getBoundingClientRect().bottom <= window.innerHeight).length`)
			if n < 8 {
				t.Errorf("a 390×844 phone shows %d whole conversations, want at least 8", n)
			}
			screenshot(b, "app-list-phone")
		}
	}
	b.Do(chromedp.Click(chromedp.JSPath(rowJS(long) + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message`)))
	for _, w := range []int64{1920, 1366, 390, 320} {
		setWidth(b, w, 844)
		check("conversation", w)
		if w == 390 {
			screenshot(b, "app-conversation-phone")
			// The bars above a message on a phone: the old message page's
			// toolbar took 40% of the screen.
			bars := chromium.Eval[float64](b, `document.querySelector(".bar").getBoundingClientRect().height + document.querySelector(".readbar").getBoundingClientRect().height`)
			if bars > 0.15*844 {
				t.Errorf("on a 390×844 phone the bars above a message take %.0f px (%.0f%%)", bars, 100*bars/844)
			}
		}
	}
}

// TestAppDarkMode: with the system in dark mode the app is dark, in light
// mode light.
func TestAppDarkMode(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Evening", "x"))
	b := r.tab(t)
	waitRows(t, b, 1)
	luminance := func() float64 {
		return chromium.Eval[float64](b, `(() => {
			const m = getComputedStyle(document.body).backgroundColor.match(/\d+(\.\d+)?/g).map(Number);
			return (0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]) / 255;
		})()`)
	}
	darkMode(b, true)
	if l := luminance(); l > 0.2 {
		t.Fatalf("dark mode: background luminance %.2f, want dark", l)
	}
	screenshot(b, "app-list-dark")
	darkMode(b, false)
	if l := luminance(); l < 0.8 {
		t.Fatalf("light mode: background luminance %.2f, want light", l)
	}
}

// TestAppAccessibility: axe-core (the npm package, pinned in
// package-lock.json) finds no serious or critical violation in the list,
// a conversation, and the shortcuts' help, in light and dark mode.
func TestAppAccessibility(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	axe, err := os.ReadFile(filepath.Join(filepath.Dir(here), "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed (scripts/install-test-deps.sh runs npm ci in internal/webapp): %v", err)
	}
	r := start(t)
	r.thread("Accessible mail", 3)
	r.Deliver(r.acct, msg("Dan <dan@example.org>", "Invoice", "Please pay."))
	b := r.tab(t)
	waitRows(t, b, 2)
	// Evaluated over the DevTools protocol: the page's CSP (no inline
	// script) does not apply to it.
	chromium.Eval[bool](b, string(axe)+";true")
	audit := func(where string) {
		t.Helper()
		out := chromium.Run(b, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
			r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
				.map(v => v.id + " (" + v.impact + "): " + v.help + " — " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")).join("\n"))`,
			chromedp.EvalAwaitPromise))
		if out != "" {
			t.Errorf("axe-core on %s:\n%s", where, out)
		}
	}
	audit("the list")
	darkMode(b, true)
	audit("the list in dark mode")
	darkMode(b, false)
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Re: Accessible mail") + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message`)))
	audit("a conversation")
	key(b, "?")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`dialog.help`)))
	audit("the shortcuts' help")
	key(b, kb.Escape)
	key(b, "c")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	audit("writing")

	// The server's own pages: settings, and the login page.
	b.Open(chromedp.Navigate(r.base + "/settings"))
	chromium.Eval[bool](b, string(axe)+";true")
	audit("the settings page")
	login := chromium.NewTab(t, r.base, chromium.Timeout)
	login.Open(chromedp.Navigate(r.base + "/login"))
	chromium.Eval[bool](login, string(axe)+";true")
	out := chromium.Run(login, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id + ": " + v.help).join("\n"))`, chromedp.EvalAwaitPromise))
	if out != "" {
		t.Errorf("axe-core on the login page:\n%s", out)
	}
}

// TestAppWithoutScript: when the app's script does not load, the page
// says so and leads to the basic HTML version, which reads mail.
func TestAppWithoutScript(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Plain and simple", "x"))
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
		if err != nil {
			return err
		}
		_, err = chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/app/assets/app.js*", Block: true}}})
		return err
	}))
	b.Open(chromedp.Navigate(r.base + "/login"))
	b.Do(
		chromedp.SendKeys(chromium.ByLabel("Email address"), "ann@example.test"),
		chromedp.SendKeys(chromium.ByLabel("Password"), password),
	)
	b.Open(chromedp.Click(chromedp.CSS(`.login button[type="submit"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.boot a[href="/mail/INBOX"]`)))
	b.Open(chromedp.Click(chromedp.CSS(`.boot a[href="/mail/INBOX"]`)))
	if got := chromium.Eval[string](b, `document.body.textContent`); !strings.Contains(got, "Plain and simple") {
		t.Fatal("the basic HTML version does not list the message")
	}
}

// TestAppScriptSize: the JavaScript of the mail view stays under 200 KB
// as browsers download it (gzip).
func TestAppScriptSize(t *testing.T) {
	app, err := webapp.New()
	if err != nil {
		t.Fatal(err)
	}
	const budget = 200 << 10
	n := app.CompressedSize("app.js")
	t.Logf("app.js: %d bytes compressed (budget %d)", n, budget)
	if n <= 0 || n > budget {
		t.Fatalf("app.js is %d bytes compressed, over the budget of %d", n, budget)
	}
}
