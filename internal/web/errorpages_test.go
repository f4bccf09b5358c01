package web

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mailroom/internal/listener"
	"mailroom/internal/testrig"
)

// panicPath is a path the rig of these tests panics on (through its test
// hook), as a handler with a bug would.
const panicPath = "/settings/explode"

func newPanicRig(t *testing.T) *rig {
	return newRig(t, testrig.Hooks(&listener.TestHooks{Command: func(proto, _, name string) {
		if proto == "http" && name == "GET "+panicPath {
			panic("a bug in a page")
		}
	}}))
}

// wantErrorPage checks that a response is a page in the site's layout
// with the status, a heading and a way home, and none of Go's texts.
func wantErrorPage(t *testing.T, what string, code int, h http.Header, body string, wantCode int, heading string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: status %d, want %d\n%s", what, code, wantCode, body)
	}
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q, want a page", what, ct)
	}
	if !strings.Contains(body, `<link rel="stylesheet" href="/static/app.css">`) || !strings.Contains(body, `<h1>`+heading+`</h1>`) {
		t.Errorf("%s: not a page of the site with the heading %q:\n%s", what, heading, body)
	}
	if !regexp.MustCompile(`<a href="/">[^<]+</a>`).MatchString(body) {
		t.Errorf("%s: no link home:\n%s", what, body)
	}
	for _, goText := range []string{"404 page not found", "Method Not Allowed", "unknown action", "internal error"} {
		if strings.Contains(body, goText) {
			t.Errorf("%s: the page says Go's %q", what, goText)
		}
	}
	if h.Get("Content-Security-Policy") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: the security headers are missing: %v", what, h)
	}
}

// TestErrorPages: the 404 and 405 http.ServeMux makes itself, a handler's
// http.Error, and a panic before anything was sent are all pages of the
// site with the right status (a 405 keeps its Allow header); JMAP keeps
// its own answers.
func TestErrorPages(t *testing.T) {
	r := newPanicRig(t)
	anon := r.browser()
	code, h, body := anon.get("/no/such/page")
	wantErrorPage(t, "unknown path, logged out", code, h, body, http.StatusNotFound, "Page not found")
	if !strings.Contains(body, "Go to the start page") {
		t.Errorf("logged out, the 404 page does not lead to the start page:\n%s", body)
	}

	// A wrong method: ServeMux's own 405, with Allow kept.
	req, _ := http.NewRequest(http.MethodPut, r.base+"/login", strings.NewReader("x"))
	resp, err := anon.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantErrorPage(t, "PUT /login", resp.StatusCode, resp.Header, string(page), http.StatusMethodNotAllowed, "That did not work")
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("405 without the Allow header of the route: %q", allow)
	}

	b := r.browser()
	b.login("ann@example.test")
	code, h, body = b.get("/no/such/page")
	wantErrorPage(t, "unknown path, logged in", code, h, body, http.StatusNotFound, "Page not found")
	if !strings.Contains(body, "Back to your mail") || !strings.Contains(body, "ann@example.test") {
		t.Errorf("logged in, the 404 page lacks the menu or the way back:\n%s", body)
	}
	code, h, body = b.get("/logout") // only POST
	wantErrorPage(t, "GET /logout", code, h, body, http.StatusMethodNotAllowed, "That did not work")
	if h.Get("Allow") != "POST" {
		t.Errorf("GET /logout: Allow %q, want POST", h.Get("Allow"))
	}
	// A handler's http.Error: a developer's text becomes a sentence.
	code, h, body = b.post("/settings/app-passwords", url.Values{"csrf": {b.csrf}, "action": {"bogus"}})
	wantErrorPage(t, "unknown action", code, h, body, http.StatusBadRequest, "That did not work")
	// A message that is not there.
	code, h, body = b.get("/msg/999999/1/part/1")
	wantErrorPage(t, "no such message", code, h, body, http.StatusNotFound, "Page not found")

	// A panic: a 500 page, logged.
	code, h, body = b.get(panicPath)
	wantErrorPage(t, "panic", code, h, body, http.StatusInternalServerError, "Something went wrong")
	if !strings.Contains(r.Log.String(), "a bug in a page") {
		t.Errorf("the panic was not logged:\n%s", r.Log.String())
	}
	// The server goes on.
	if code, _, _ := b.get("/settings"); code != http.StatusOK {
		t.Fatalf("settings after the panic: %d", code)
	}

	// JMAP keeps its JSON: an unauthenticated API call is not a page.
	code, h, body = anon.post("/jmap/api", url.Values{})
	if code < 400 || strings.Contains(h.Get("Content-Type"), "text/html") || strings.Contains(body, "<html") {
		t.Errorf("JMAP error turned into a page: %d %s\n%s", code, h.Get("Content-Type"), body)
	}
}
