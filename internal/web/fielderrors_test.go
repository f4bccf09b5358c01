package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// fieldErrorOf returns the error shown beside the field id, checking that
// the field is marked invalid and described by it.
func fieldErrorOf(t *testing.T, body, id string) string {
	t.Helper()
	field := regexp.MustCompile(`<(?:input|textarea|select)[^>]*id="` + id + `"[^>]*>`).FindString(body)
	if !strings.Contains(field, `aria-invalid="true"`) || !strings.Contains(field, `aria-describedby="`+id+`-err"`) {
		t.Errorf("field %s is not marked invalid and described by its error: %s", id, field)
	}
	m := regexp.MustCompile(`<p class="field-error" id="` + id + `-err" role="alert">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no error beside %s", id)
	}
	return m[1]
}

// TestSettingsFieldErrors: a settings form with a mistake comes back with
// the error beside the field, in a plain sentence, and with what was
// typed kept (never a password).
func TestSettingsFieldErrors(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")

	code, _, body := b.post("/settings/forwarding", url.Values{"csrf": {b.csrf}, "forward.to": {"kim@example.com, not an address"}, "forward.keep": {"true"}})
	if code != http.StatusBadRequest {
		t.Fatalf("forwarding to a bad address: %d", code)
	}
	if msg := fieldErrorOf(t, body, "fwdto"); !strings.Contains(msg, "complete email addresses") {
		t.Errorf("forwarding error %q", msg)
	}
	if !strings.Contains(body, `value="kim@example.com, not an address"`) {
		t.Error("the addresses typed were not kept")
	}

	code, _, body = b.post("/settings/vacation", url.Values{"csrf": {b.csrf}, "vacation.enabled": {"true"},
		"vacation.subject": {"Away until Monday"}, "vacation.body": {"Back on the 14th."}, "vacation.days": {"9999"}})
	if code != http.StatusBadRequest {
		t.Fatalf("vacation with 9999 days: %d", code)
	}
	if msg := fieldErrorOf(t, body, "vdays"); !strings.Contains(msg, "number of days from 1 to") {
		t.Errorf("days error %q", msg)
	}
	for _, kept := range []string{`value="Away until Monday"`, `>Back on the 14th.</textarea>`, `value="9999"`} {
		if !strings.Contains(body, kept) {
			t.Errorf("the vacation form lost %s", kept)
		}
	}

	code, _, body = b.post("/settings/password", url.Values{"csrf": {b.csrf}, "current": {password}, "new": {"short"}, "again": {"short"}})
	if code != http.StatusBadRequest {
		t.Fatalf("short new password: %d", code)
	}
	if msg := fieldErrorOf(t, body, "pwnew"); !strings.Contains(msg, "at least 8 characters") {
		t.Errorf("password error %q", msg)
	}
	if strings.Contains(body, `value="`+password+`"`) || strings.Contains(body, `value="short"`) {
		t.Error("a password was sent back in the page")
	}
	code, _, body = b.post("/settings/password", url.Values{"csrf": {b.csrf}, "current": {"not it"}, "new": {"long enough"}, "again": {"long enough"}})
	if code != http.StatusForbidden || !strings.Contains(fieldErrorOf(t, body, "pwcur"), "current password is not right") {
		t.Errorf("wrong current password: %d", code)
	}

	if code, _, body := b.post("/settings/app-passwords", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"Phone"}}); code != http.StatusOK {
		t.Fatalf("app password: %d\n%s", code, body)
	}
	code, _, body = b.post("/settings/app-passwords", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"Phone"}})
	if code != http.StatusBadRequest {
		t.Fatalf("second app password named Phone: %d", code)
	}
	if msg := fieldErrorOf(t, body, "appname"); !strings.Contains(msg, "already have an app password with that name") {
		t.Errorf("app password error %q", msg)
	}
	if !regexp.MustCompile(`id="appname"[^>]*value="Phone"`).MatchString(body) {
		t.Error("the name typed was not kept")
	}
	code, _, body = b.post("/settings/app-passwords", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {strings.Repeat("x", 200)}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "appname"), "name of 1 to") {
		t.Errorf("a name too long: %d", code)
	}
	// No developer's text anywhere.
	for _, dev := range []string{"invalid argument", "store:", "invalid filter"} {
		if strings.Contains(body, dev) {
			t.Errorf("the page says %q", dev)
		}
	}
}

// TestAdminFieldErrors: the admin forms answer a mistake beside the field
// with what was typed kept.
func TestAdminFieldErrors(t *testing.T) {
	r := newRig(t)
	r.SetSettings(r.acct, "admin", "true")
	b := r.browser()
	b.login("ann@example.test")
	code, _, body := b.post("/admin/accounts", url.Values{"csrf": {b.csrf}, "action": {"add"}, "email": {"kim@example.test"}, "password": {"short"}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "newpw"), "at least 8 characters") {
		t.Fatalf("short password: %d", code)
	}
	if !strings.Contains(body, `value="kim@example.test"`) || strings.Contains(body, `value="short"`) {
		t.Error("the address was not kept, or the password was")
	}
	code, _, body = b.post("/admin/accounts", url.Values{"csrf": {b.csrf}, "action": {"add"}, "email": {"ann@example.test"}, "password": {"long enough"}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "newemail"), "exists already") {
		t.Fatalf("account that exists: %d", code)
	}
	code, _, body = b.post("/admin/accounts", url.Values{"csrf": {b.csrf}, "action": {"add"}, "email": {"kim@elsewhere.example"}, "password": {"long enough"}})
	if code < 400 || !strings.Contains(fieldErrorOf(t, body, "newemail"), "not in a domain of this server") {
		t.Fatalf("account in a foreign domain: %d", code)
	}
	code, _, body = b.post("/admin/domains", url.Values{"csrf": {b.csrf}, "action": {"add"}, "name": {"not a domain!"}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "newdomain"), "not a domain name") {
		t.Fatalf("bad domain: %d\n%s", code, body)
	}
	if !strings.Contains(body, `value="not a domain!"`) {
		t.Error("the domain typed was not kept")
	}
	if strings.Contains(body, "store:") || strings.Contains(body, "invalid argument") {
		t.Error("a developer's text on the page")
	}
	code, _, body = b.post("/admin/shared", url.Values{"csrf": {b.csrf}, "action": {"create"}, "address": {"support@nowhere.example"}, "members": {"ann@example.test = read"}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "sharedaddr"), "is not hosted here") {
		t.Fatalf("shared mailbox in a foreign domain: %d", code)
	}
	if !strings.Contains(body, ">ann@example.test = read</textarea>") {
		t.Error("the members typed were not kept")
	}
}

// TestFetchAndDelegateFieldErrors: the form for collecting mail and the
// delegates form answer a mistake beside the field, keeping the rest.
func TestFetchAndDelegateFieldErrors(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	form := url.Values{"csrf": {b.csrf}, "action": {"save"}, "protocol": {"imap"}, "security": {"tls"},
		"host": {"imap.example.net"}, "port": {"99999"}, "username": {"ann.elsewhere"}, "password": {"secret"}, "folder": {"Archive"}}
	code, _, body := b.post("/settings/fetch", form)
	if code != http.StatusBadRequest {
		t.Fatalf("port 99999: %d", code)
	}
	if msg := fieldErrorOf(t, body, "port"); !strings.Contains(msg, "port from 1 to 65535") {
		t.Errorf("port error %q", msg)
	}
	for _, kept := range []string{`value="imap.example.net"`, `value="99999"`, `value="ann.elsewhere"`, `value="Archive"`} {
		if !strings.Contains(body, kept) {
			t.Errorf("the form lost %s", kept)
		}
	}
	if strings.Contains(body, `value="secret"`) {
		t.Error("the password was sent back")
	}
	form.Set("port", "")
	form.Set("host", "imap.example.net/x")
	if _, _, body := b.post("/settings/fetch", form); !strings.Contains(fieldErrorOf(t, body, "host"), "name of the server") {
		t.Error("no host error")
	}

	code, _, body = b.post("/settings/delegates", url.Values{"csrf": {b.csrf}, "action": {"grant"}, "grantee": {"nobody@example.test"}, "mode": {"send-as"}})
	if code < 400 {
		t.Fatalf("granting to an unknown account: %d", code)
	}
	if msg := fieldErrorOf(t, body, "grantee"); !strings.Contains(msg, "no account or domain nobody@example.test") {
		t.Errorf("delegate error %q", msg)
	}
	if !strings.Contains(body, `value="nobody@example.test"`) {
		t.Error("the address typed was not kept")
	}
}

// TestMigrateFieldErrors: the import form answers a mistake beside the
// field, keeping what was typed but the password.
func TestMigrateFieldErrors(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	code, _, body := b.post("/settings/import", url.Values{"csrf": {b.csrf}, "host": {"imap.example.net"}, "port": {"70000"},
		"user": {"ann.old"}, "password": {"old secret"}, "security": {"imaps"}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "mport"), "port from 1 to 65535") {
		t.Fatalf("port 70000: %d", code)
	}
	if !strings.Contains(body, `value="imap.example.net"`) || !strings.Contains(body, `value="ann.old"`) || strings.Contains(body, "old secret") {
		t.Error("the form did not keep what was typed, or kept the password")
	}
	code, _, body = b.post("/settings/import", url.Values{"csrf": {b.csrf}, "host": {"imap.example.net"}, "user": {"ann.old"}, "security": {"imaps"}})
	if code != http.StatusBadRequest || !strings.Contains(fieldErrorOf(t, body, "mpassword"), "password on that server") {
		t.Fatalf("no password: %d", code)
	}
}
