package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// adminBrowser logs ann in as an admin.
func (r *shareRig) adminBrowser() *browser {
	r.T.Helper()
	r.SetSettings(r.acct, "admin", "true")
	b := r.browser()
	b.login("ann@example.test")
	return b
}

// TestAdminSharedMailbox: an admin creates a shared mailbox with members
// (presets and letters), after checking every member; adds, changes and
// removes members on every folder; members are subscribed and see it
// under "Shared with me". A non-admin is refused.
func TestAdminSharedMailbox(t *testing.T) {
	r := newShareRig(t)
	ctx := context.Background()
	admin := r.adminBrowser()
	_, _, page := admin.get("/admin")
	if !strings.Contains(page, `href="/admin/shared"`) || !strings.Contains(page, `href="/admin/quotas"`) {
		t.Fatal("the admin page does not link to shared mailboxes and quotas")
	}
	create := func(address, members string) (int, string) {
		return admin.follow(admin.post("/admin/shared", url.Values{"csrf": {admin.csrf}, "action": {"create"}, "address": {address}, "members": {members}}))
	}
	// One bad line and nothing is created.
	for _, tc := range []struct {
		address, members string
		code             int
		says             string
	}{
		{"support@example.test", "kim@example.test\nnobody@example.test = read", http.StatusBadRequest, "Line “nobody@example.test = read”: no account nobody@example.test exists here."},
		{"support@example.test", "kim@example.test = lrQ", http.StatusBadRequest, `Line “kim@example.test = lrQ”: "Q" is not a right`},
		{"support@example.test", "kim@example.test = +k", http.StatusBadRequest, `no "+" or "-"`},
		{"support@example.test", "@elsewhere.test", http.StatusBadRequest, "no domain elsewhere.test is hosted here"},
		{"support@nowhere.test", "kim@example.test", http.StatusBadRequest, "the domain of support@nowhere.test is not hosted here"},
		{"kim@example.test", "lee@example.test", http.StatusBadRequest, "kim@example.test is already an account"},
	} {
		code, page := create(tc.address, tc.members)
		if code != tc.code || !strings.Contains(page, tc.says) {
			t.Errorf("create %s with %q: %d, want %d saying %q\n%s", tc.address, tc.members, code, tc.code, tc.says, section(page, "main"))
		}
	}
	if _, err := r.Store.Account(ctx, "support@example.test"); err == nil {
		t.Fatal("a refused create made the shared mailbox")
	}
	code, page := create("support@example.test", "kim@example.test\nlee@example.test = read\n@example.test lr\n")
	if code != http.StatusSeeOther || !strings.Contains(page, "Shared mailbox support@example.test created.") {
		t.Fatalf("create: %d\n%s", code, section(page, "main"))
	}
	support, err := r.Store.Account(ctx, "support@example.test")
	if err != nil || !support.Shared {
		t.Fatalf("support: %+v %v", support, err)
	}
	boxes, err := r.Store.MailboxList(ctx, support.ID)
	if err != nil || len(boxes) < 2 {
		t.Fatalf("support's folders: %v %v", boxes, err)
	}
	want := []acl.Entry{{Identifier: "@example.test", Rights: acl.Lookup | acl.Read}, {Identifier: "kim@example.test", Rights: acl.ReadWrite}, {Identifier: "lee@example.test", Rights: acl.ReadOnly}}
	for _, mb := range boxes {
		if got := r.acl(mb); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", mb.Name, got, want)
		}
	}
	if !r.subscribed(r.kim, "Shared/support@example.test/INBOX") || !r.subscribed(r.lee, "Shared/support@example.test/Sent") {
		t.Fatal("the members were not subscribed to its folders")
	}
	if r.subscribed(r.acct, "Shared/support@example.test/INBOX") {
		t.Fatal("ann, a member only through the domain, was subscribed")
	}
	listed := section(page, "main")
	for _, want := range []string{`data-mailbox="support@example.test"`, `<tr data-who="kim@example.test"><td>kim@example.test</td><td>Read and write</td>`,
		`<tr data-who="@example.test"><td>everyone at example.test</td><td>Custom (lr)</td>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the page lacks %s:\n%s", want, listed)
		}
	}

	member := func(action, who string, form url.Values) (int, string) {
		form.Set("csrf", admin.csrf)
		form.Set("action", action)
		form.Set("mailbox", "support@example.test")
		form.Set("who", who)
		return admin.follow(admin.post("/admin/shared", form))
	}
	if code, _ := member("set", "lee@example.test", url.Values{"access": {"full"}}); code != http.StatusSeeOther {
		t.Fatalf("lee full: %d", code)
	}
	if code, _ := member("set", "kim@example.test", url.Values{"rights": {"-e"}}); code != http.StatusSeeOther {
		t.Fatalf("kim -e: %d", code)
	}
	if code, _ := member("remove", "@example.test", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("remove the domain: %d", code)
	}
	want = []acl.Entry{{Identifier: "kim@example.test", Rights: acl.ReadWrite &^ acl.Expunge}, {Identifier: "lee@example.test", Rights: acl.All}}
	for _, mb := range boxes {
		if got := r.acl(mb); !slices.Equal(got, want) {
			t.Fatalf("%s after changes: %v, want %v", mb.Name, got, want)
		}
	}
	for _, tc := range []struct {
		who  string
		form url.Values
		code int
		says string
	}{
		{"nobody@example.test", url.Values{"access": {"read"}}, http.StatusNotFound, "no account nobody@example.test exists here"},
		{"kim@example.test", url.Values{"rights": {"lrZ"}}, http.StatusBadRequest, `"Z" is not a right`},
		{"support@example.test", url.Values{"access": {"read"}}, http.StatusBadRequest, "a shared mailbox cannot be its own member"},
	} {
		if code, page := member("set", tc.who, tc.form); code != tc.code || !strings.Contains(page, tc.says) {
			t.Errorf("set %s %v: %d, want %d saying %q\n%s", tc.who, tc.form, code, tc.code, tc.says, page)
		}
	}

	// Kim sees it under "Shared with me" and reads its INBOX.
	r.Deliver(support, sample)
	kim := r.browser()
	kim.login("kim@example.test")
	_, _, page = kim.get("/mail/INBOX")
	if !strings.Contains(page, `<h3 class="owner">support@example.test <span class="meta">(shared mailbox)</span></h3>`) {
		t.Fatalf("kim's folder list:\n%s", page)
	}
	if code, _, page := kim.get("/mail/Shared/support@example.test/INBOX"); code != http.StatusOK || !strings.Contains(page, "Lunch on Friday") {
		t.Fatalf("support's INBOX for kim: %d", code)
	}

	// Kim leaves every folder of it at once.
	_, _, page = kim.get("/shared")
	if !strings.Contains(page, `value="leave-all"`) {
		t.Fatal("no Leave all for a shared mailbox")
	}
	code, page = kim.follow(kim.post("/shared", url.Values{"csrf": {kim.csrf}, "action": {"leave-all"}, "owner": {"support@example.test"}}))
	if code != http.StatusSeeOther || !strings.Contains(page, "You left the folders of support@example.test.") || !strings.Contains(page, "Nobody shares a folder with you.") {
		t.Fatalf("leave all: %d\n%s", code, section(page, "main"))
	}
	for _, mb := range boxes {
		if got := r.acl(mb); !slices.Equal(got, want[1:]) {
			t.Fatalf("%s after kim left: %v", mb.Name, got)
		}
	}
	if r.subscribed(r.kim, "Shared/support@example.test/INBOX") {
		t.Fatal("kim is still subscribed to a folder he left")
	}
	want = want[1:]

	// Not for non-admins, whatever they post.
	for _, path := range []string{"/admin/shared", "/admin/quotas"} {
		if code, _, _ := kim.get(path); code != http.StatusForbidden {
			t.Errorf("GET %s as a non-admin: %d", path, code)
		}
	}
	if code, _, _ := kim.post("/admin/shared", url.Values{"csrf": {kim.csrf}, "action": {"set"}, "mailbox": {"support@example.test"}, "who": {"kim@example.test"}, "access": {"full"}}); code != http.StatusForbidden {
		t.Errorf("a member change by a non-admin: %d", code)
	}
	if code, _, _ := kim.post("/admin/quotas", url.Values{"csrf": {kim.csrf}, "scope": {"account"}, "target": {"kim@example.test"}, "storage": {"unlimited"}}); code != http.StatusForbidden {
		t.Errorf("a quota change by a non-admin: %d", code)
	}
	if code, _, _ := admin.post("/admin/shared", url.Values{"action": {"create"}, "address": {"info@example.test"}}); code != http.StatusForbidden {
		t.Errorf("a create without the CSRF token: %d", code)
	}
	if got := r.acl(boxes[0]); !slices.Equal(got, want) {
		t.Fatalf("refused changes changed the list: %v", got)
	}
}

// TestAdminQuotas: an admin sets the server's default, a domain's and an
// account's limits, with units, unlimited and inherit, sees the usage,
// and bad input is refused in words.
func TestAdminQuotas(t *testing.T) {
	r := newShareRig(t)
	ctx := context.Background()
	admin := r.adminBrowser()
	r.Deliver(r.kim, sample)
	set := func(scope, target, storage, messages string) (int, string) {
		return admin.follow(admin.post("/admin/quotas", url.Values{"csrf": {admin.csrf}, "scope": {scope}, "target": {target}, "storage": {storage}, "messages": {messages}}))
	}
	if code, page := set("server", "", "10GB", ""); code != http.StatusSeeOther || !strings.Contains(page, "Saved the server's default: storage 10 GiB, messages unlimited.") {
		t.Fatalf("server default: %d\n%s", code, section(page, "main"))
	}
	if code, _ := set("domain", "example.test", "", "1000"); code != http.StatusSeeOther {
		t.Fatalf("domain: %d", code)
	}
	code, page := set("account", "kim@example.test", "1.5G", "inherit")
	if code != http.StatusSeeOther {
		t.Fatalf("account: %d\n%s", code, page)
	}
	u, err := r.Store.QuotaUsage(ctx, r.kim.ID)
	if err != nil || u.Limits.Storage != 3<<29 || u.Limits.Messages != 1000 || u.Own.Messages != store.Inherit || u.Messages != 1 {
		t.Fatalf("kim's usage %+v, %v", u, err)
	}
	if s, err := r.Store.QuotaLimits(ctx, store.QuotaScope{}); err != nil || s.Storage != 10<<30 || s.Messages != store.Unlimited {
		t.Fatalf("server limits %+v, %v", s, err)
	}
	for _, want := range []string{`<tr data-target="kim@example.test">`, "Messages: 1 of 1000 (0%)", `name="storage" size="10" maxlength="30" value="1536M"`,
		`name="messages" size="10" maxlength="30" value="inherit"`, `value="10G"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("quota page lacks %s:\n%s", want, section(page, "h-qaccounts"))
		}
	}
	// Saving a form unchanged changes nothing.
	if code, _ := set("account", "kim@example.test", "1536M", "inherit"); code != http.StatusSeeOther {
		t.Fatalf("save unchanged: %d", code)
	}
	if again, _ := r.Store.QuotaUsage(ctx, r.kim.ID); again.Own != u.Own {
		t.Fatalf("an unchanged form changed the limits: %+v, was %+v", again.Own, u.Own)
	}
	for _, tc := range []struct {
		scope, target, storage, messages string
		code                             int
		says                             string
	}{
		{"server", "", "inherit", "", http.StatusBadRequest, "the server's default quota cannot inherit"},
		{"account", "kim@example.test", "10 parsecs", "", http.StatusBadRequest, "Storage: unknown unit in"},
		{"account", "kim@example.test", "", "12K", http.StatusBadRequest, "Messages: a message count has no unit"},
		{"account", "kim@example.test", "-1", "", http.StatusBadRequest, "is negative"},
		{"account", "nobody@example.test", "1G", "", http.StatusNotFound, "no account nobody@example.test exists here"},
		{"domain", "nowhere.test", "1G", "", http.StatusNotFound, "no domain nowhere.test is hosted here"},
	} {
		if code, page := set(tc.scope, tc.target, tc.storage, tc.messages); code != tc.code || !strings.Contains(page, tc.says) {
			t.Errorf("%s %s %q %q: %d, want %d saying %q\n%s", tc.scope, tc.target, tc.storage, tc.messages, code, tc.code, tc.says, section(page, "main"))
		}
	}
	if again, _ := r.Store.QuotaUsage(ctx, r.kim.ID); again.Own != u.Own {
		t.Fatalf("refused forms changed the limits: %+v", again.Own)
	}
}

func TestLimitInput(t *testing.T) {
	for l, want := range map[store.QuotaLimit]string{
		store.Unlimited: "unlimited", store.Inherit: "inherit", 0: "0", 10 << 30: "10G", 1536 << 20: "1536M", 1000: "1000", 1 << 50: "1P", 3 << 10: "3K",
	} {
		if got := limitInput(l, true); got != want {
			t.Errorf("limitInput(%d) = %q, want %q", l, got, want)
		}
		if back, err := store.ParseQuotaLimit(want, true); err != nil || back != l {
			t.Errorf("%q parses back as %d, %v", want, back, err)
		}
	}
	if got := limitInput(2048, false); got != "2048" {
		t.Errorf("a message count written as %q", got)
	}
}
