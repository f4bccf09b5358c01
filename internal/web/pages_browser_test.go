package web

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig"
	"mailroom/internal/testrig/chromium"
)

// openStatus loads a page that is meant to answer with an error status
// (Tab.Open fails on those) and returns the status.
func openStatus(b *chromium.Tab, path string, want int) int64 {
	b.T.Helper()
	b.ExpectStatus(path, want)
	resp, err := chromedp.RunResponse(b.Ctx, chromedp.Navigate(b.Base+path))
	if err != nil {
		b.T.Fatal(err)
	}
	return resp.Status
}

// TestBrowserErrorPages: an unknown address, a wrong method and a panic
// show a page of the site, in its layout, with a heading, a sentence and
// a link home that works.
func TestBrowserErrorPages(t *testing.T) {
	r := newPanicRig(t)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	for _, c := range []struct {
		path    string
		status  int64
		heading string
	}{
		{"/no/such/page", 404, "Page not found"},
		{"/logout", 405, "That did not work"}, // a form's address, opened as a link
		{panicPath, 500, "Something went wrong"},
	} {
		if got := openStatus(b, c.path, int(c.status)); got != c.status {
			t.Fatalf("%s: status %d, want %d", c.path, got, c.status)
		}
		if h1 := chromium.Run(b, chromedp.Text(chromedp.CSS(`.errorpage h1`))); h1 != c.heading {
			t.Errorf("%s: heading %q, want %q", c.path, h1, c.heading)
		}
		if p := chromium.Run(b, chromedp.Text(chromedp.CSS(`.errorpage p`))); len(p) < 30 || !strings.HasSuffix(p, ".") {
			t.Errorf("%s: %q is not a sentence", c.path, p)
		}
		if title := chromium.Run(b, chromedp.Title()); title != c.heading+" · Mailroom" {
			t.Errorf("%s: title %q", c.path, title)
		}
		// The site's menu and style are there.
		if n := chromium.Eval[int](b, `document.querySelectorAll("header.top nav a").length`); n < 3 {
			t.Errorf("%s: %d links in the menu", c.path, n)
		}
		if font := chromium.Eval[string](b, `getComputedStyle(document.body).fontFamily`); !strings.Contains(font, "system-ui") {
			t.Errorf("%s: the site's style sheet is not applied (font %q)", c.path, font)
		}
	}
	// The way home leads to a page that works (the mail, logged in).
	b.Open(chromedp.Click(chromedp.CSS(`.errorpage a[href="/"]`)))
	if loc := chromium.Run(b, chromedp.Location()); strings.Contains(loc, "/login") {
		t.Errorf("the way home led to %s", loc)
	}
}

// sessionCookieOf returns the browser's session cookie, or nil.
func sessionCookieOf(b *chromium.Tab) *network.Cookie {
	b.T.Helper()
	res := chromium.Run(b, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.Base + "/"}})
	})
	for _, c := range res.Cookies {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

// loginForm fills the login form and submits it.
func loginForm(b *chromium.Tab, email, pass string, stay bool) {
	b.T.Helper()
	b.Do(
		chromedp.SendKeys(chromium.ByLabel("Email address"), email),
		chromedp.SendKeys(chromium.ByLabel("Password"), pass),
	)
	if stay {
		b.Do(chromedp.Click(chromium.ByLabel("Stay signed in")))
	}
	if _, err := chromedp.RunResponse(b.Ctx, chromedp.Click(chromedp.CSS(`.login button[type="submit"]`))); err != nil {
		b.T.Fatal(err)
	}
}

// TestBrowserLoginForm: a wrong password keeps the address typed (never
// the password), puts the cursor in the password field and says what was
// wrong beside it; "Stay signed in" decides whether the cookie outlives
// the browser (30 days, Expires set) or not (a session cookie), and a
// session kept so survives a restart of the server.
func TestBrowserLoginForm(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testrig.DataDir(dir))
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.ExpectStatus("/login", 401)
	// The basic HTML version after login, whatever "/" leads to.
	const loginPage = "/login?next=/mail/INBOX"
	b.Open(chromedp.Navigate(r.base + loginPage))
	if id := chromium.Eval[string](b, `document.activeElement.id`); id != "email" {
		t.Errorf("the empty login form has the focus on %q, want the address", id)
	}
	loginForm(b, "ann@example.test", "wrong password", false)
	b.Do(chromedp.WaitVisible(chromedp.CSS(`#password-err`)))
	if v := chromium.Eval[string](b, `document.getElementById("email").value`); v != "ann@example.test" {
		t.Errorf("after a wrong password the address is %q", v)
	}
	if v := chromium.Eval[string](b, `document.getElementById("password").value`); v != "" {
		t.Errorf("the password was sent back into the form: %q", v)
	}
	if html := chromium.Eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, "wrong password") {
		t.Error("the page holds the password typed")
	}
	if id := chromium.Eval[string](b, `document.activeElement.id`); id != "password" {
		t.Errorf("after a wrong password the focus is on %q, want the password", id)
	}
	if d := chromium.Eval[string](b, `document.getElementById("password").getAttribute("aria-describedby")`); d != "password-err" {
		t.Errorf("the password field is described by %q", d)
	}
	if inv := chromium.Eval[string](b, `document.getElementById("password").getAttribute("aria-invalid")`); inv != "true" {
		t.Errorf("aria-invalid %q", inv)
	}
	msg := chromium.Run(b, chromedp.Text(chromedp.CSS(`#password-err`)))
	if !strings.Contains(msg, "Wrong email address or password") {
		t.Errorf("error beside the password: %q", msg)
	}
	if role := chromium.Eval[string](b, `document.getElementById("password-err").getAttribute("role")`); role != "alert" {
		t.Errorf("the error is not announced: role %q", role)
	}
	// Beside the field: right under it, not at the top of the page.
	if below := chromium.Eval[bool](b, `document.getElementById("password").nextElementSibling.id === "password-err"`); !below {
		t.Error("the error is not next to the password field")
	}

	// Not staying signed in: a cookie that ends with the browser.
	b.Do(chromedp.SendKeys(chromium.ByLabel("Password"), password))
	if _, err := chromedp.RunResponse(b.Ctx, chromedp.Click(chromedp.CSS(`.login button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.mail .list h1`)))
	c := sessionCookieOf(b)
	if c == nil || !c.Session || c.Expires > 0 {
		t.Fatalf("without Stay signed in the cookie is %+v, want a session cookie", c)
	}

	// Staying signed in: a cookie for 30 days.
	b.Open(chromedp.Click(chromedp.CSS(`form.logout button[type="submit"]`)))
	b.Open(chromedp.Navigate(r.base + loginPage))
	loginForm(b, "ann@example.test", password, true)
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.mail .list h1`)))
	c = sessionCookieOf(b)
	if c == nil || c.Session {
		t.Fatalf("with Stay signed in the cookie is %+v, want one with an expiry", c)
	}
	want := float64(time.Now().Add(persistentIdle).Unix())
	if math.Abs(c.Expires-want) > 120 {
		t.Errorf("the cookie expires at %v, want about %v (30 days)", time.Unix(int64(c.Expires), 0), time.Unix(int64(want), 0))
	}
	if !c.HTTPOnly {
		t.Error("the session cookie is readable by scripts")
	}

	// A restart: the browser is still logged in (cookies do not depend
	// on the port). The page is left first: its live updates would
	// report the server gone.
	b.Do(chromedp.Navigate("about:blank"))
	r.restart()
	b.Base = r.base
	b.Open(chromedp.Navigate(r.base + "/mail/INBOX"))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.mail .list h1`)))
	if who := chromium.Run(b, chromedp.Text(chromedp.CSS(`.who`))); who != "ann@example.test" {
		t.Fatalf("after a restart the page shows %q logged in", who)
	}
}

// TestBrowserDarkTheme: with the system set to dark, every kind of page
// is dark, with light text; with it light, light.
func TestBrowserDarkTheme(t *testing.T) {
	r := newRig(t)
	r.SetSettings(r.acct, "admin", "true")
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	scheme := func(s string) {
		b.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}}})
			return err
		}))
	}
	// luminance is the relative luminance (WCAG) of a computed colour.
	const luminance = `(c => { const v = c.match(/[\d.]+/g).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4 });
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2] })`
	check := func(page string, dark bool) {
		t.Helper()
		bg := chromium.Eval[float64](b, luminance+`(getComputedStyle(document.body).backgroundColor)`)
		fg := chromium.Eval[float64](b, luminance+`(getComputedStyle(document.body).color)`)
		contrast := (max(bg, fg) + 0.05) / (min(bg, fg) + 0.05)
		if dark && (bg > 0.05 || fg < bg) || !dark && (bg < 0.8 || fg > bg) {
			t.Errorf("%s (dark %v): background luminance %.3f, text %.3f", page, dark, bg, fg)
		}
		if contrast < 4.5 {
			t.Errorf("%s (dark %v): contrast %.1f:1, below WCAG AA", page, dark, contrast)
		}
		if cs := chromium.Eval[string](b, `document.querySelector('meta[name="color-scheme"]')?.content`); cs != "light dark" {
			t.Errorf("%s: color-scheme meta %q", page, cs)
		}
	}
	scheme("dark")
	b.Open(chromedp.Navigate(r.base + "/login"))
	check("login", true)
	b.Login("ann@example.test", password)
	r.Deliver(r.acct, sample)
	for _, p := range []string{"/mail/INBOX", "/settings", "/admin", "/settings/filters"} {
		b.Open(chromedp.Navigate(r.base + p))
		check(p, true)
		// A field and a button are dark too, not white boxes.
		for _, sel := range []string{"main button", "main input:not([type=hidden]):not([type=checkbox])"} {
			bg := chromium.Eval[float64](b, `(el => el ? `+luminance+`(getComputedStyle(el).backgroundColor) : -1)(document.querySelector("`+sel+`"))`)
			if bg > 0.1 {
				t.Errorf("%s: %s is light (luminance %.2f) in the dark theme", p, sel, bg)
			}
		}
	}
	openStatus(b, "/no/such/page", 404)
	check("404", true)
	scheme("light")
	b.Open(chromedp.Navigate(r.base + "/settings"))
	check("/settings", false)
}

// longMessage has a subject, a sender's name and an address without a
// place to break a line.
const longMessage = "From: \"Maximilianewolkensteinhabsburgdepartmentofextraordinarilylongnames\" <maximiliane.wolkenstein.habsburg.extraordinarily.long.local.part@university-of-extraordinarily-long-domain-names.example>\r\n" +
	"To: ann@example.test\r\nSubject: Supercalifragilisticexpialidocious-and-another-very-long-word-without-any-space-at-all-in-it-0123456789abcdefghijklmnopqrstuvwxyz\r\n" +
	"Date: Fri, 20 Nov 2026 09:00:00 +0000\r\n\r\nhttps://example.org/" + "averyveryverylongpathsegment/averyveryverylongpathsegment/averyveryverylongpathsegment?token=0123456789abcdef0123456789abcdef0123456789abcdef\r\n"

// TestBrowserNoSidewaysScrolling: at 320, 390, 1366 and 1920 px wide, no
// page scrolls sideways, whatever the length of a subject, an address or
// a token.
func TestBrowserNoSidewaysScrolling(t *testing.T) {
	r := newRig(t)
	r.SetSettings(r.acct, "admin", "true")
	d := r.Deliver(r.acct, longMessage)
	r.Account("a.very.long.local.part.for.an.account.that.does.not.fit.anywhere@example.test")
	b := chromium.NewTab(t, r.base, 2*chromium.Timeout)
	// A token on the settings page, long and without spaces.
	pages := []string{"/mail/INBOX", "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID)), "/settings", "/admin",
		"/settings/filters", "/settings/fetch", "/compose", "/search?q=supercalifragilistic"}
	widths := []int64{320, 390, 1366, 1920}
	width := func(w int64) {
		b.Do(chromedp.EmulateViewport(w, 800, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			p.Mobile = w < 700
		}))
	}
	overflow := func(page string) {
		t.Helper()
		sw := chromium.Eval[int](b, `document.documentElement.scrollWidth`)
		iw := chromium.Eval[int](b, `innerWidth`)
		if sw > iw {
			wide := chromium.Eval[[]string](b, `Array.from(document.querySelectorAll("body *")).filter(el => el.getBoundingClientRect().right > innerWidth + 1).slice(0, 5).map(el => el.tagName + "." + el.className)`)
			t.Errorf("%s at %d px: scrollWidth %d > innerWidth %d (%s)", page, iw, sw, iw, strings.Join(wide, ", "))
		}
	}
	// Logged out: the login form and an error page.
	for _, w := range widths {
		width(w)
		b.Open(chromedp.Navigate(r.base + "/login"))
		overflow("/login")
		openStatus(b, "/no/such/"+strings.Repeat("x", 300), 404)
		overflow("404")
	}
	b.Login("ann@example.test", password)
	for _, w := range widths {
		width(w)
		for _, p := range pages {
			b.Open(chromedp.Navigate(r.base + p))
			overflow(p)
		}
	}
}
