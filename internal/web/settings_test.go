package web

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/sieverules"
)

func TestSettingsPage(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	_, _, body := b.get("/settings")
	for _, want := range []string{"IMAP or POP3?", "mail.example.test", "993", "STARTTLS", "ann@example.test", "App passwords", "Vacation notice"} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	ctx := context.Background()
	// POP3 off (the checkbox is not sent), delete mode keep.
	code, _, _ := b.post("/settings/protocols", url.Values{"csrf": {b.csrf}, "imap.enabled": {"true"}, "pop3.delete_mode": {"keep"},
		"pop3.mark_seen": {"true"}, "pop3.scope": {"all"}})
	if code != http.StatusSeeOther {
		t.Fatalf("save protocols: %d", code)
	}
	st, _ := r.Store.Settings(ctx, r.acct.ID)
	if st.Bool("pop3.enabled") || !st.Bool("imap.enabled") || st.String("pop3.delete_mode") != "keep" {
		t.Fatalf("settings after save: %v", st)
	}
	// A bad forwarding address is refused with a message.
	if code, _, body := b.post("/settings/forwarding", url.Values{"csrf": {b.csrf}, "forward.to": {"not an address"}}); code != http.StatusBadRequest || !strings.Contains(body, "Not saved") {
		t.Fatalf("bad forward address: %d", code)
	}
	if code, _, _ := b.post("/settings/forwarding", url.Values{"csrf": {b.csrf}, "forward.to": {"me@elsewhere.example"}, "forward.keep": {"true"}}); code != http.StatusSeeOther {
		t.Fatalf("forwarding: %d", code)
	}
	if code, _, _ := b.post("/settings/vacation", url.Values{"csrf": {b.csrf}, "vacation.enabled": {"true"}, "vacation.subject": {"Away"},
		"vacation.body": {"Back on Monday."}, "until": {"2026-12-31"}, "vacation.days": {"3"}}); code != http.StatusSeeOther {
		t.Fatalf("vacation: %d", code)
	}
	if code, _, body := b.post("/settings/vacation", url.Values{"csrf": {b.csrf}, "vacation.enabled": {"true"}, "vacation.days": {"0"}}); code != http.StatusBadRequest || !strings.Contains(body, "from 1 to 365") {
		t.Fatalf("vacation with 0 days: %d", code)
	}
	// Both are in the managed Sieve script now, which became active.
	ms, err := sieverules.Load(ctx, r.Store, r.acct.ID)
	if err != nil || !ms.IsActive() || ms.Edited {
		t.Fatalf("managed script after forwarding/vacation: %+v, %v", ms, err)
	}
	want := sieverules.Rules{Forwarding: sieverules.Forwarding{To: []string{"me@elsewhere.example"}, Keep: true},
		Vacation: sieverules.Vacation{Enabled: true, Subject: "Away", Body: "Back on Monday.", Until: "2026-12-31", Days: 3}}
	if !reflect.DeepEqual(ms.Rules, want) {
		t.Fatalf("model after forwarding/vacation: %+v", ms.Rules)
	}
	// The forms show what was saved.
	_, _, body = b.get("/settings")
	for _, want := range []string{`value="me@elsewhere.example"`, `name="forward.keep" value="true" checked`, `name="vacation.enabled" value="true" checked`,
		`value="2026-12-31"`, `>Back on Monday.</textarea>`, `name="vacation.days" type="number" min="1" max="365" value="3"`} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
	// App password: shown once, logs in, revoked.
	code, _, body = b.post("/settings/app-passwords", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"Phone"}})
	m := regexp.MustCompile(`<code class="secret">([^<]+)</code>`).FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("app password not shown: %d", code)
	}
	a := auth.NewAuthenticator(r.Store, nil, -1, nil)
	if _, err := a.Authenticate(ctx, remoteAddr(&http.Request{RemoteAddr: "127.0.0.1:1"}), "imap", "ann@example.test", m[1]); err != nil {
		t.Fatalf("the app password does not log in: %v", err)
	}
	// An app password is for mail programs, not for the webmail.
	if code, _, body := r.browser().post("/login", url.Values{"email": {"ann@example.test"}, "password": {m[1]}}); code != http.StatusUnauthorized || !strings.Contains(body, "app password") {
		t.Fatalf("webmail login with an app password: %d", code)
	}
	apps, _ := r.Store.AppPasswords(ctx, r.acct.ID)
	if len(apps) != 1 || apps[0].Name != "Phone" {
		t.Fatalf("app passwords: %+v", apps)
	}
	if code, _, _ := b.post("/settings/app-passwords", url.Values{"csrf": {b.csrf}, "action": {"delete"}, "id": {itoa64(apps[0].ID)}}); code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := a.Authenticate(ctx, remoteAddr(&http.Request{RemoteAddr: "127.0.0.1:1"}), "imap", "ann@example.test", m[1]); err == nil {
		t.Fatal("a revoked app password still logs in")
	}
	// Password change needs the current one.
	if code, _, _ := b.post("/settings/password", url.Values{"csrf": {b.csrf}, "current": {"nope"}, "new": {"new password 1"}, "again": {"new password 1"}}); code != http.StatusForbidden {
		t.Fatalf("password change with a wrong current password: %d", code)
	}
	if code, _, _ := b.post("/settings/password", url.Values{"csrf": {b.csrf}, "current": {password}, "new": {"new password 1"}, "again": {"new password 1"}}); code != http.StatusSeeOther {
		t.Fatalf("password change: %d", code)
	}
	if _, err := a.Authenticate(ctx, remoteAddr(&http.Request{RemoteAddr: "127.0.0.1:1"}), "imap", "ann@example.test", "new password 1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// Apple profile.
	code, h, body := b.get("/settings/setup.mobileconfig?protocol=imap")
	if code != 200 || h.Get("Content-Type") != "application/x-apple-aspen-config" || !strings.Contains(body, "com.apple.mail.managed") {
		t.Fatalf("mobileconfig: %d %s", code, h.Get("Content-Type"))
	}
}

func TestAdminPages(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	if code, _, _ := b.get("/admin"); code != http.StatusForbidden {
		t.Fatalf("admin page for a non-admin: %d", code)
	}
	if err := r.Store.SetSettings(context.Background(), r.acct.ID, map[string]string{"admin": "true"}); err != nil {
		t.Fatal(err)
	}
	b = r.browser()
	b.login("ann@example.test")
	code, _, body := b.get("/admin")
	if code != 200 || !strings.Contains(body, "example.test") || !strings.Contains(body, "The queue is empty") {
		t.Fatalf("admin page: %d", code)
	}
	code, h, _ := b.post("/admin/domains", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"new.example"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/admin/dns/new.example") {
		t.Fatalf("add domain: %d %s", code, h.Get("Location"))
	}
	_, _, body = b.get("/admin/dns/new.example")
	for _, want := range []string{"MX", "v=spf1", "_domainkey.new.example", "_dmarc.new.example", "_imaps._tcp.new.example"} {
		if !strings.Contains(body, want) {
			t.Errorf("DNS page lacks %q", want)
		}
	}
	if code, _, _ := b.post("/admin/accounts", url.Values{"csrf": {b.csrf}, "action": {"add"}, "email": {"bob@new.example"}, "password": {"long enough"}}); code != http.StatusSeeOther {
		t.Fatalf("add account: %d", code)
	}
	if code, _, _ := b.post("/admin/aliases", url.Values{"csrf": {b.csrf}, "action": {"add"}, "alias": {"info@new.example"}, "targets": {"bob@new.example, ann@example.test"}}); code != http.StatusSeeOther {
		t.Fatalf("add alias: %d", code)
	}
	info, err := r.Store.LookupAddress(context.Background(), "info@new.example")
	if err != nil || len(info.AliasTargets) != 2 {
		t.Fatalf("alias: %+v, %v", info, err)
	}
	if code, _, _ := b.post("/admin/accounts", url.Values{"csrf": {b.csrf}, "action": {"delete"}, "email": {"ann@example.test"}}); code != http.StatusBadRequest {
		t.Fatalf("deleting one's own account: %d", code)
	}
	// Revoking admin takes effect at once, not at the next login.
	if err := r.Store.SetSettings(context.Background(), r.acct.ID, map[string]string{"admin": "false"}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := b.get("/admin"); code != http.StatusForbidden {
		t.Fatalf("admin page after admin was revoked: %d", code)
	}
}
