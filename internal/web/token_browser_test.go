package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// TestBrowserAccessToken: in Chromium, a wrong expiry is shown next to its
// field with the name kept; a token made on the settings page is shown
// once in a field it can be copied from, opens JMAP, is listed, and stops
// working once revoked with its button.
func TestBrowserAccessToken(t *testing.T) {
	r := newRig(t)
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	b.Open(chromedp.Navigate(r.base + "/settings"))
	b.Do(
		chromedp.SendKeys(chromium.ByLabel("Name of the app"), "phone app"),
		chromedp.SendKeys(chromium.ByLabel("Expires after this many days (empty: never)"), "5000"),
	)
	// The browser's own check would stop a number out of range: what the
	// server says is what is tested here. (The answer is a 400, which
	// Open refuses: the error's text is waited for instead.)
	chromium.Eval[bool](b, `document.getElementById("tokdays").removeAttribute("max"); true`)
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/settings/access-tokens"] button[value="add"]`)))
	if msg := chromium.Run(b, chromedp.Text(chromedp.CSS(`#tokdays-err`))); !strings.Contains(msg, "from 1 to 3650") {
		t.Fatalf("error next to the days: %q", msg)
	}
	if v := chromium.Eval[string](b, `document.getElementById("tokname").value`); v != "phone app" {
		t.Fatalf("the name typed was not kept: %q", v)
	}
	b.Do(chromedp.SetValue(chromium.ByLabel("Expires after this many days (empty: never)"), "30"))
	b.Open(chromedp.Click(chromedp.CSS(`form[action="/settings/access-tokens"] button[value="add"]`)))
	token := chromium.Eval[string](b, `document.getElementById("newtoken").value`)
	if !strings.HasPrefix(token, "mrt_") || len(token) != 56 {
		t.Fatalf("new token %q", token)
	}
	if ro := chromium.Eval[bool](b, `document.getElementById("newtoken").readOnly`); !ro {
		t.Error("the token's field is not read-only")
	}
	if code, user := jmapGet(t, r, nil, "Bearer "+token); code != http.StatusOK || user != "ann@example.test" {
		t.Fatalf("Bearer with the token from the page: %d %q", code, user)
	}
	b.Open(chromedp.Navigate(r.base + "/settings"))
	if row := chromium.Run(b, chromedp.Text(chromedp.CSS(`#tokens tr:nth-child(2)`))); !strings.Contains(row, "phone app") {
		t.Fatalf("token row %q", row)
	}
	b.Open(chromedp.Click(chromedp.CSS(`#tokens button[value="delete"]`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`.flash`))); !strings.Contains(flash, "Access token revoked") {
		t.Fatalf("after revoking: %q", flash)
	}
	if code, _ := jmapGet(t, r, nil, "Bearer "+token); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
}
