package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// sessionToken returns the browser's session cookie.
func (b *browser) sessionToken() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

// withCookie is a new browser that presents only this session token.
func (r *rig) withCookie(token string) *browser {
	b := r.browser()
	u, _ := url.Parse(r.base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/"}})
	return b
}

// wantLoggedOut checks that a browser is sent to the login page.
func wantLoggedOut(t *testing.T, b *browser, what string) {
	t.Helper()
	code, h, _ := b.get("/mail/INBOX")
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Fatalf("%s: GET /mail/INBOX = %d %s, want a redirect to the login page", what, code, h.Get("Location"))
	}
}

// wantLoggedIn checks that a browser sees ann's INBOX.
func wantLoggedIn(t *testing.T, b *browser, what string) {
	t.Helper()
	code, h, body := b.get("/mail/INBOX")
	if code != http.StatusOK || !strings.Contains(body, "ann@example.test") {
		t.Fatalf("%s: GET /mail/INBOX = %d %s", what, code, h.Get("Location"))
	}
}

// restart restarts the server on the same data directory and points the
// browsers at its new port (cookies do not depend on the port).
func (r *rig) restart(bs ...*browser) {
	r.Restart()
	r.base = "http://" + r.Addr("http")
	for _, b := range bs {
		b.base = r.base
	}
}

// TestSessionSurvivesRestart: a browser logged in before a restart is
// still logged in after it, with the same CSRF token, and the data
// directory never holds the cookie's token; logging out ends the
// session for whoever presents the cookie, across a restart too.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := newRig(t, testrig.DataDir(dir))
	b := first.browser()
	b.login("ann@example.test")
	token, csrf := b.sessionToken(), b.csrf
	if token == "" {
		t.Fatal("no session cookie after login")
	}

	// A new server on the same data directory, with nothing in memory
	// from the first (a new Factory, as a new process has).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	tr := testrig.Start(t, testrig.Factories{"http": Factory()}, testrig.Listen("http"), testrig.DataDir(dir))
	r := &rig{Rig: tr, base: "http://" + tr.Addr("http"), acct: first.acct}
	b.base = r.base
	b.csrf = ""
	wantLoggedIn(t, b, "after a restart")
	if b.csrf != csrf {
		t.Fatalf("the CSRF token changed across the restart: %q, was %q", b.csrf, csrf)
	}
	if code, h, body := b.post("/folders/create", url.Values{"csrf": {csrf}, "name": {"Projects"}}); code != http.StatusSeeOther {
		t.Fatalf("form posted with the CSRF token of before the restart: %d %s\n%s", code, h.Get("Location"), body)
	}
	r.Mailbox(r.acct, "Projects")

	// Only the hash is stored: no file of the data directory (database,
	// its WAL, bodies) holds the token.
	hash := sha256.Sum256([]byte(token))
	if _, err := r.Store.WebSession(context.Background(), hash[:]); err != nil {
		t.Fatalf("the session is not in the store by its hash: %v", err)
	}
	filepath.WalkDir(r.Config.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte(token)) {
			t.Errorf("%s holds the session token", path)
		}
		return nil
	})

	// Logout, then the same cookie again from elsewhere, before and after
	// another restart.
	if code, _, _ := b.post("/logout", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if b.sessionToken() != "" {
		t.Fatal("the session cookie was not removed at logout")
	}
	wantLoggedOut(t, r.withCookie(token), "the cookie after logout")
	r.restart(b)
	wantLoggedOut(t, r.withCookie(token), "the cookie after logout and a restart")
}

// TestSessionStoreAway: when the store cannot be asked, a logged-in
// browser is told to try again (503), not sent to log in again.
func TestSessionStoreAway(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	r.Store.Close() // the server's own; its shutdown closes it again harmlessly
	code, h, body := b.get("/mail/INBOX")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "try again") {
		t.Fatalf("GET with the store closed: %d %s\n%s", code, h.Get("Location"), body)
	}
	if b.sessionToken() == "" {
		t.Fatal("the session cookie was dropped while the store was away")
	}
}

// TestPasswordChangeEndsOtherSessions: changing the password logs out
// the account's other browsers, for good (a restart brings none back),
// keeps the browser that changed it, and leaves other accounts alone;
// deleting an account ends its sessions.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	r.SetSettings(r.acct, "admin", "true")
	phone, laptop, bob := r.browser(), r.browser(), r.browser()
	phone.login("ann@example.test")
	laptop.login("ann@example.test")
	bob.login("bob@example.test")
	laptopToken := laptop.sessionToken()

	if code, _, body := phone.post("/settings/password", url.Values{"csrf": {phone.csrf}, "current": {password}, "new": {"new password 1"}, "again": {"new password 1"}}); code != http.StatusSeeOther {
		t.Fatalf("password change: %d\n%s", code, body)
	}
	wantLoggedOut(t, laptop, "another browser after the password change")
	if code, _, body := phone.get("/mail/INBOX"); code != http.StatusOK || !strings.Contains(body, "ann@example.test") {
		t.Fatalf("the browser that changed the password: %d", code)
	}
	if code, _, body := bob.get("/mail/INBOX"); code != http.StatusOK || !strings.Contains(body, "bob@example.test") {
		t.Fatalf("another account's browser: %d", code)
	}
	r.restart(phone, bob)
	wantLoggedOut(t, r.withCookie(laptopToken), "the other browser's cookie after a restart")
	wantLoggedIn(t, phone, "the browser that changed the password, after a restart")

	// The admin deletes bob: bob's browser is logged out.
	bobToken := bob.sessionToken()
	if code, _, body := phone.post("/admin/accounts", url.Values{"csrf": {phone.csrf}, "action": {"delete"}, "email": {"bob@example.test"}}); code != http.StatusSeeOther {
		t.Fatalf("delete bob: %d\n%s", code, body)
	}
	hash := sha256.Sum256([]byte(bobToken))
	if _, err := r.Store.WebSession(context.Background(), hash[:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted account's session is still stored: %v", err)
	}
	if code, h, _ := bob.get("/mail/INBOX"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Fatalf("a deleted account's browser: %d %s", code, h.Get("Location"))
	}
}

// TestSessionExpiry drives the sessions of the web server on its real
// store with a clock the test moves: the idle timeout, the lifetime, the
// at-most-once-a-minute last-seen write and the pruning of expired
// sessions at login.
func TestSessionExpiry(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ss := NewSessions(r.Store, sessionLifetime, nil)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	now := t0
	ss.now = func() time.Time { return now }
	stored := func(token string) (store.WebSession, error) {
		h := sha256.Sum256([]byte(token))
		return r.Store.WebSession(ctx, h[:])
	}
	get := func(token string) *Session {
		t.Helper()
		s, err := ss.get(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s1, tok1, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if s1.CSRF == "" || s1.CSRF == tok1 {
		t.Fatalf("CSRF token %q", s1.CSRF)
	}

	// Within a minute, a request writes nothing.
	now = t0.Add(59 * time.Second)
	if s := get(tok1); s == nil || s.CSRF != s1.CSRF || s.AccountID != r.acct.ID {
		t.Fatalf("live session: %+v", s)
	}
	if ws, err := stored(tok1); err != nil || !ws.LastSeen.Equal(t0) {
		t.Fatalf("last seen written within a minute: %+v %v", ws, err)
	}
	// A minute on, it is written.
	now = t0.Add(61 * time.Second)
	get(tok1)
	if ws, err := stored(tok1); err != nil || !ws.LastSeen.Equal(now) {
		t.Fatalf("last seen after a minute: %+v %v, want %v", ws, err, now)
	}

	// Idle: alive at exactly 2 h since last seen, gone a second later,
	// and deleted from the store when presented.
	now = t0.Add(61*time.Second + sessionIdle)
	if get(tok1) == nil {
		t.Fatal("session ended before 2 h idle")
	}
	now = now.Add(time.Second)
	if ws, err := stored(tok1); err != nil || !ws.LastSeen.Equal(t0.Add(61*time.Second+sessionIdle)) {
		t.Fatalf("the request at 2 h idle did not record the use: %+v %v", ws, err)
	}
	// That request kept it alive: 2 h from it, it ends.
	now = t0.Add(61*time.Second + 2*sessionIdle + time.Second)
	if s := get(tok1); s != nil {
		t.Fatal("session alive after 2 h idle")
	}
	if _, err := stored(tok1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an idle session presented is still stored: %v", err)
	}

	// Lifetime: used every hour, it still ends 12 h after login.
	start := now
	_, tok2, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		t.Fatal(err)
	}
	for now = start; !now.After(start.Add(sessionLifetime)); now = now.Add(time.Hour) {
		if get(tok2) == nil {
			t.Fatalf("session ended %v after login, while in use", now.Sub(start))
		}
	}
	now = start.Add(sessionLifetime + time.Second)
	if get(tok2) != nil {
		t.Fatal("session alive past its lifetime")
	}

	// "Stay signed in": idle for 29 days it lives, and each use slides
	// it; 30 days unused it ends. Its token says what it is.
	start = now
	ps, tokP, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ps.Persistent || !strings.HasPrefix(tokP, persistentPrefix) || ps.cookieMaxAge() != int(persistentIdle/time.Second) {
		t.Fatalf("persistent session %+v, token %q", ps, tokP)
	}
	now = start.Add(29 * 24 * time.Hour)
	if s := get(tokP); s == nil || !s.Persistent || !s.touched {
		t.Fatalf("a persistent session idle 29 days: %+v", s)
	}
	now = now.Add(persistentIdle)
	if s := get(tokP); s == nil {
		t.Fatal("a persistent session ended exactly 30 days after its last use")
	}
	now = now.Add(persistentIdle + time.Second)
	if s := get(tokP); s != nil {
		t.Fatal("a persistent session alive after 30 days unused")
	}
	// The same token without its prefix, or another's with one, names
	// no session: a browser cannot make its session persistent.
	_, tok5, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if s := get(persistentPrefix + tok5); s != nil {
		t.Fatal("a browser session's token with the persistent prefix names a session")
	}

	// Pruning: a session never presented again is deleted at a login
	// once past the longest idle time (the store cannot tell persistent
	// sessions from the others), at most every sessionPruneEvery.
	_, tok3, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(persistentIdle + time.Second)
	if _, _, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := stored(tok3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an idle session was not pruned at the next login: %v", err)
	}
	_, tok4, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(persistentIdle + time.Second)
	ss.lastPrune = now.Add(-time.Minute) // as if another login had pruned a minute ago
	if _, _, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := stored(tok4); err != nil {
		t.Fatalf("pruned again within %v: %v", sessionPruneEvery, err)
	}
	now = now.Add(sessionPruneEvery)
	if _, _, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := stored(tok4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("not pruned %v after the last prune: %v", sessionPruneEvery, err)
	}
}

// TestFlashEndsWithSession: a status message waits for its page, is shown
// once, and goes with the session at logout.
func TestFlashEndsWithSession(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ss := NewSessions(r.Store, sessionLifetime, nil)
	s, _, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		t.Fatal(err)
	}
	id := s.addFlash("Folder created.")
	if got := s.takeFlash(id); got != "Folder created." {
		t.Fatalf("takeFlash = %q", got)
	}
	if got := s.takeFlash(id); got != "" {
		t.Fatalf("a flash shown twice: %q", got)
	}
	id = s.addFlash("Saved.")
	if err := ss.end(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := s.takeFlash(id); got != "" || len(ss.flashes) != 0 {
		t.Fatalf("a flash outlived its session: %q (%d boxes)", got, len(ss.flashes))
	}
}

// BenchmarkSessionLookup: what a request pays to find its session (one
// lookup by primary key in the store, no cache).
//
//	go test -run '^$' -bench SessionLookup ./internal/web/
func BenchmarkSessionLookup(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	ss := NewSessions(r.Store, sessionLifetime, nil)
	_, token, err := ss.create(ctx, r.acct.ID, "ann@example.test", false, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if s, err := ss.get(ctx, token); s == nil || err != nil {
			b.Fatal("lost the session", err)
		}
	}
}

// BenchmarkLoggedInPage: a whole small page for comparison (the settings
// page: session lookup, settings read, rendering, HTTP on loopback).
func BenchmarkLoggedInPage(b *testing.B) {
	r := newRig(b)
	br := r.browser()
	resp, err := br.postLogin(url.Values{"email": {"ann@example.test"}, "password": {password}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	b.ResetTimer()
	for b.Loop() {
		resp, err := br.c.Get(r.base + "/settings")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
