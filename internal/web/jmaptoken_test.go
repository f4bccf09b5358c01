package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jmapGet asks for the JMAP session resource with the given Authorization
// header ("" for none) and cookies of b (nil for none): the status and,
// on 200, the session's username.
func jmapGet(t *testing.T, r *rig, b *browser, authz string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", r.base+"/.well-known/jmap", nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	if b != nil {
		c = b.c
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	var sess struct{ Username string }
	if err := json.Unmarshal(body, &sess); err != nil {
		t.Fatalf("session resource: %v\n%s", err, body)
	}
	return resp.StatusCode, sess.Username
}

// curlJMAP asks for the session resource with curl, as a script would.
func curlJMAP(t *testing.T, r *rig, token string) (int, string) {
	t.Helper()
	out, err := exec.Command("curl", "-sS", "--max-time", "10", "-H", "Authorization: Bearer "+token,
		"-w", "\n%{http_code}", r.base+"/.well-known/jmap").Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	code, _ := strconv.Atoi(s[i+1:])
	return code, s[:i]
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

var newTokenRE = regexp.MustCompile(`id="newtoken"[^>]* value="(mrt_[a-z2-7]{52})"`)

// TestJMAPAccessTokens: a token made on the settings page opens JMAP with
// "Authorization: Bearer" (Go's client and curl), until it is revoked or
// expires; the form keeps what was typed and says what is wrong next to
// the field; wrong tokens are throttled like wrong passwords, and never
// logged.
func TestJMAPAccessTokens(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	ctx := context.Background()

	_, _, page := b.get("/settings")
	if !strings.Contains(page, "Access tokens for apps") || !regexp.MustCompile(`name="jmap.enabled" value="true" checked`).MatchString(page) {
		t.Fatalf("settings page without the token section or a ticked JMAP switch:\n%s", page)
	}

	// Errors next to their fields, what was typed kept.
	code, _, page := b.post("/settings/access-tokens", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"tab\there"}, "days": {"0"}})
	if code != http.StatusBadRequest || !strings.Contains(page, `id="tokname-err"`) || !strings.Contains(page, `id="tokdays-err"`) ||
		!strings.Contains(page, `name="days" type="number" min="1" max="3650" inputmode="numeric" value="0"`) {
		t.Fatalf("bad name and days: %d\n%s", code, page)
	}
	// Without the CSRF token nothing is made.
	if code, _, _ := b.post("/settings/access-tokens", url.Values{"action": {"add"}, "name": {"sneaky"}}); code != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", code)
	}

	code, h, page := b.post("/settings/access-tokens", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"calendar sync"}, "days": {""}})
	m := newTokenRE.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q\n%s", code, h.Get("Cache-Control"), page)
	}
	token := m[1]
	// A second token of the same name: the error next to the name.
	code, _, page = b.post("/settings/access-tokens", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"calendar sync"}, "days": {"30"}})
	if code != http.StatusBadRequest || !strings.Contains(page, "already have an access token with that name") || !strings.Contains(page, `value="calendar sync"`) {
		t.Fatalf("same name again: %d\n%s", code, page)
	}

	if code, user := jmapGet(t, r, nil, "Bearer "+token); code != http.StatusOK || user != "ann@example.test" {
		t.Fatalf("Bearer: %d %q", code, user)
	}
	if code, user := jmapGet(t, r, nil, "bearer "+token); code != http.StatusOK || user != "ann@example.test" {
		t.Fatalf("the scheme is case-insensitive: %d %q", code, user)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("curl is not on PATH: skipping the request with curl (Go's client made it above)")
	} else if code, body := curlJMAP(t, r, token); code != http.StatusOK || !strings.Contains(body, `"username":"ann@example.test"`) {
		t.Fatalf("curl: %d\n%s", code, body)
	}
	_, _, page = b.get("/settings")
	if !regexp.MustCompile(`<td>calendar sync</td><td>\d{4}-\d\d-\d\d</td>\s*<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>\s*<td>never</td>`).MatchString(page) {
		t.Fatalf("token not listed as used, never expiring:\n%s", page)
	}
	if strings.Contains(page, token) {
		t.Fatal("the token is on the settings page after its creation")
	}

	// One that expires: made through the store (the form's least is a
	// day), it stops working when it expires.
	soon, soonSecret, err := r.Store.CreateAccessToken(ctx, r.acct.ID, "short-lived", time.Now().Add(2100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := jmapGet(t, r, nil, "Bearer "+soonSecret); code != http.StatusOK {
		t.Fatalf("before it expires: %d", code)
	}

	// The JMAP switch is for every way in: Basic, Bearer and the cookie.
	if code, _ := jmapGet(t, r, b, ""); code != http.StatusOK {
		t.Fatalf("cookie: %d", code)
	}
	basic := "Basic " + basicAuth("ann@example.test", password)
	if code, _ := jmapGet(t, r, nil, basic); code != http.StatusOK {
		t.Fatalf("Basic: %d", code)
	}
	if code, _, _ := b.post("/settings/protocols", url.Values{"csrf": {b.csrf}, "imap.enabled": {"true"}, "pop3.enabled": {"true"},
		"pop3.delete_mode": {"keep"}, "pop3.scope": {"all"}}); code != http.StatusSeeOther {
		t.Fatalf("switch JMAP off: %d", code)
	}
	for what, authz := range map[string]string{"Basic": basic, "Bearer": "Bearer " + token} {
		if code, _ := jmapGet(t, r, nil, authz); code != http.StatusForbidden {
			t.Errorf("%s with JMAP off: %d, want 403", what, code)
		}
	}
	// The webmail is a JMAP client itself: the switch is for other apps.
	if code, _ := jmapGet(t, r, b, ""); code != http.StatusOK {
		t.Errorf("the webmail's cookie with JMAP off: %d, want 200", code)
	}
	if _, _, page := b.get("/settings"); regexp.MustCompile(`name="jmap.enabled" value="true" checked`).MatchString(page) {
		t.Error("the JMAP switch is still ticked")
	}
	if code, _, _ := b.post("/settings/protocols", url.Values{"csrf": {b.csrf}, "imap.enabled": {"true"}, "pop3.enabled": {"true"},
		"jmap.enabled": {"true"}, "pop3.delete_mode": {"keep"}, "pop3.scope": {"all"}}); code != http.StatusSeeOther {
		t.Fatalf("switch JMAP on: %d", code)
	}
	if code, _ := jmapGet(t, r, nil, "Bearer "+token); code != http.StatusOK {
		t.Fatalf("Bearer with JMAP on again: %d", code)
	}

	// Revoked: 401 at once.
	list, err := r.Store.AccessTokens(ctx, r.acct.ID)
	if err != nil || len(list) != 2 || list[0].Name != "calendar sync" {
		t.Fatalf("tokens %+v, %v", list, err)
	}
	if code, h, _ := b.post("/settings/access-tokens", url.Values{"csrf": {b.csrf}, "action": {"delete"}, "id": {itoa64(list[0].ID)}}); code != http.StatusSeeOther {
		t.Fatalf("revoke: %d %v", code, h)
	}
	if code, _ := jmapGet(t, r, nil, "Bearer "+token); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d, want 401", code)
	}
	time.Sleep(time.Until(soon.Expires) + 100*time.Millisecond)
	if code, _ := jmapGet(t, r, nil, "Bearer "+soonSecret); code != http.StatusUnauthorized {
		t.Fatalf("expired token: %d, want 401", code)
	}

	// Guessing: wrong tokens from one address are throttled (429) as
	// wrong passwords are, before any lookup.
	wrong := "mrt_" + strings.Repeat("a", 52)
	throttled := false
	for range 15 {
		code, _ := jmapGet(t, r, nil, "Bearer "+wrong)
		if code == http.StatusTooManyRequests {
			throttled = true
			break
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", code)
		}
	}
	if !throttled {
		t.Fatal("15 wrong tokens from one address were never throttled")
	}
	logs := r.Log.String()
	for _, secret := range []string{token, soonSecret, wrong, token[4:20]} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the token %q", secret)
		}
	}
	if !strings.Contains(logs, "invalid_token") || !strings.Contains(logs, "credential=token") {
		t.Errorf("no auth attempt lines for the tokens in the log:\n%s", logs)
	}
}
