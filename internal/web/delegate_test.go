package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestDelegationSettings: an owner grants and revokes on the settings
// page, and sets where copies go; the delegate's page says whom they may
// send as.
func TestDelegationSettings(t *testing.T) {
	r := newRig(t)
	r.Account("kim@example.test")
	ctx := context.Background()
	ann := r.browser()
	ann.login("ann@example.test")
	_, _, page := ann.get("/settings")
	for _, want := range []string{`id="h-deleg">Delegates</h2>`, `action="/settings/delegates"`, `<option value="on-behalf">send on your behalf</option>`,
		`<option value="delegate" selected>their Sent folder only</option>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("settings page lacks %s", want)
		}
	}

	grant := func(grantee, mode string) (int, string) {
		code, h, body := ann.post("/settings/delegates", url.Values{"csrf": {ann.csrf}, "action": {"grant"}, "grantee": {grantee}, "mode": {mode}})
		if code == http.StatusSeeOther {
			_, _, body = ann.get(h.Get("Location"))
		}
		return code, body
	}
	// The address is taken in any case.
	if code, body := grant(" Kim@Example.TEST ", "send-as"); code != http.StatusSeeOther || !strings.Contains(body, "kim@example.test may now send as you.") {
		t.Fatalf("grant to kim: %d\n%s", code, body)
	}
	if code, _ := grant("@example.test", "on-behalf"); code != http.StatusSeeOther {
		t.Fatalf("grant to @example.test: %d", code)
	}
	want := []store.Delegation{
		{OwnerID: r.acct.ID, Owner: "ann@example.test", Grantee: "@example.test", Mode: store.SendOnBehalf},
		{OwnerID: r.acct.ID, Owner: "ann@example.test", Grantee: "kim@example.test", Mode: store.SendAs},
	}
	if got, err := r.Store.Delegations(ctx, r.acct.ID); err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("grants %+v, %v; want %+v", got, err, want)
	}
	_, _, page = ann.get("/settings")
	if !strings.Contains(page, "<td>kim@example.test</td><td>send as you</td>") || !strings.Contains(page, "<td>@example.test</td><td>send on your behalf</td>") {
		t.Fatalf("the grants are not listed:\n%s", page)
	}

	// Refused grants say why, and store nothing.
	for _, tc := range []struct {
		grantee, mode string
		code          int
		says          string
	}{
		{"anyone", "send-as", http.StatusBadRequest, "to an address or a whole @domain only"},
		{"nobody@example.test", "send-as", http.StatusNotFound, "no account or domain nobody@example.test"},
		{"ann@example.test", "send-as", http.StatusBadRequest, "may always send as itself"},
		{"kim@example.test", "everything", http.StatusBadRequest, "want send-as or on-behalf"},
		{"not an address", "send-as", http.StatusBadRequest, "write an address"},
	} {
		if code, body := grant(tc.grantee, tc.mode); code != tc.code || !strings.Contains(html.UnescapeString(body), tc.says) {
			t.Errorf("grant %q %q: %d, want %d saying %q", tc.grantee, tc.mode, code, tc.code, tc.says)
		}
	}
	// Without the CSRF token nothing changes.
	if code, _, _ := ann.post("/settings/delegates", url.Values{"action": {"revoke"}, "grantee": {"kim@example.test"}}); code != http.StatusForbidden {
		t.Errorf("revoke without CSRF token: %d", code)
	}

	// The delegate sees whom they may send as.
	kim := r.browser()
	kim.login("kim@example.test")
	_, _, page = kim.get("/settings")
	if !strings.Contains(page, "You can send as: <strong>ann@example.test</strong>.") {
		t.Fatalf("kim's settings do not say kim may send as ann:\n%s", page)
	}

	// Where copies go.
	if code, _, _ := ann.post("/settings/delegation", url.Values{"csrf": {ann.csrf}, store.SentCopySetting: {"both"}}); code != http.StatusSeeOther {
		t.Fatalf("save the Sent copy option: %d", code)
	}
	if code, _, _ := ann.post("/settings/delegation", url.Values{"csrf": {ann.csrf}, store.SentCopySetting: {"nowhere"}}); code != http.StatusBadRequest {
		t.Fatalf("a bad Sent copy option: %d", code)
	}
	if st, _ := r.Store.Settings(ctx, r.acct.ID); st.String(store.SentCopySetting) != store.SentCopyBoth {
		t.Fatalf("%s = %q", store.SentCopySetting, st.String(store.SentCopySetting))
	}

	// Revoking kim's grant leaves the domain's.
	code, _, _ := ann.post("/settings/delegates", url.Values{"csrf": {ann.csrf}, "action": {"revoke"}, "grantee": {"kim@example.test"}})
	if got, _ := r.Store.Delegations(ctx, r.acct.ID); code != http.StatusSeeOther || len(got) != 1 || got[0].Grantee != "@example.test" {
		t.Fatalf("after revoking kim's: %d %+v", code, got)
	}
	_, _, page = kim.get("/settings")
	if !strings.Contains(page, "You can send as: <strong>ann@example.test</strong> (on its behalf).") {
		t.Fatal("kim's settings do not say kim may send on ann's behalf")
	}
}

var selectedFromRE = regexp.MustCompile(`<option value="([^"]+)" selected>`)

// TestComposeAsDelegate: the compose form offers the delegated address;
// sending as it follows the mode (Sender: on behalf, the envelope) and
// the owner's Sent copy option; an address not granted (or no longer) is
// refused and nothing is sent.
func TestComposeAsDelegate(t *testing.T) {
	r := newRig(t)
	kimAcct := r.Account("kim@example.test")
	r.Account("bob@example.test")
	ctx := context.Background()
	kim := r.browser()
	kim.login("kim@example.test")

	// Nothing delegated: no choice offered.
	if _, _, page := kim.get("/compose"); strings.Contains(page, `<select id="from"`) || !strings.Contains(page, "From kim@example.test") {
		t.Fatalf("compose page without delegations offers a From choice:\n%s", page)
	}
	sendAs := func(from, subject string) (int, string) {
		code, _, page := kim.postMultipart("/compose", false, url.Values{"csrf": {kim.csrf}, "action": {"send"},
			"from": {from}, "to": {"bob@example.test"}, "subject": {subject}, "body": {"Hello\r\n"}})
		return code, page
	}
	if code, page := sendAs("ann@example.test", "forged"); code != http.StatusForbidden || !strings.Contains(page, "You may not send as ann@example.test") {
		t.Fatalf("sending as ann without a grant: %d\n%s", code, page)
	}

	// On behalf.
	if err := r.Store.GrantDelegation(ctx, r.acct.ID, "kim@example.test", store.SendOnBehalf); err != nil {
		t.Fatal(err)
	}
	_, _, page := kim.get("/compose")
	if !strings.Contains(page, `<label for="from">From</label>`) || !strings.Contains(page, `<option value="kim@example.test" selected>kim@example.test</option>`) ||
		!strings.Contains(page, `<option value="ann@example.test">ann@example.test (on its behalf: you show as the sender)</option>`) {
		t.Fatalf("compose page does not offer ann's address:\n%s", page)
	}
	if code, page := sendAs("ann@example.test", "on behalf"); code != http.StatusSeeOther {
		t.Fatalf("send on ann's behalf: %d\n%s", code, page)
	}
	got := r.only("bob@example.test", "INBOX")
	p := parse(t, got.Raw)
	if p.addresses(t, "From") != "ann@example.test" || p.addresses(t, "Sender") != "kim@example.test" || !strings.HasPrefix(got.Raw, "Return-Path: <kim@example.test>\r\n") {
		t.Fatalf("on behalf, bob got:\n%s", got.Raw)
	}
	if n := len(r.Read("kim@example.test", "Sent")); n != 1 {
		t.Fatalf("kim's Sent holds %d messages, want 1", n)
	}
	if n := len(r.Read("ann@example.test", "Sent")); n != 0 {
		t.Fatalf("ann's Sent holds %d messages with sent_copy=delegate", n)
	}

	// Send as, with copies in the owner's Sent too.
	if err := r.Store.GrantDelegation(ctx, r.acct.ID, "kim@example.test", store.SendAs); err != nil {
		t.Fatal(err)
	}
	r.SetSettings(r.acct, store.SentCopySetting, store.SentCopyBoth)
	code, h, page := kim.postMultipart("/compose", false, url.Values{"csrf": {kim.csrf}, "action": {"send"},
		"from": {"ann@example.test"}, "to": {"bob@example.test"}, "subject": {"as ann"}, "body": {"Hello\r\n"}})
	if code != http.StatusSeeOther {
		t.Fatalf("send as ann: %d\n%s", code, page)
	}
	if _, _, page := kim.get(h.Get("Location")); !strings.Contains(page, "A copy is in your Sent folder and in the Sent folder of ann@example.test.") {
		t.Fatalf("the flash does not say where the copies are:\n%s", page)
	}
	list := r.Read("bob@example.test", "INBOX")
	got = list[len(list)-1]
	if p := parse(t, got.Raw); p.addresses(t, "From") != "ann@example.test" || hasField(got.Raw, "Sender") || !strings.HasPrefix(got.Raw, "Return-Path: <ann@example.test>\r\n") {
		t.Fatalf("as ann, bob got:\n%s", got.Raw)
	}
	annSent := r.only("ann@example.test", "Sent")
	if annSent.Meta.Flags&store.FlagSeen == 0 || !strings.Contains(annSent.Raw, "Subject: as ann") {
		t.Fatalf("ann's Sent copy (flags %v):\n%s", annSent.Meta.Flags, annSent.Raw)
	}
	if n := len(r.Read("kim@example.test", "Sent")); n != 2 {
		t.Fatalf("kim's Sent holds %d messages, want 2", n)
	}

	// The owner is full: kim's own copy is still kept, and the flash
	// says whose Sent got none.
	if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: store.Unlimited, Messages: 1}); err != nil {
		t.Fatal(err)
	}
	code, h, page = kim.postMultipart("/compose", false, url.Values{"csrf": {kim.csrf}, "action": {"send"},
		"from": {"ann@example.test"}, "to": {"bob@example.test"}, "subject": {"ann is full"}, "body": {"Hello\r\n"}})
	if code != http.StatusSeeOther {
		t.Fatalf("send as a full ann: %d\n%s", code, page)
	}
	if _, _, page := kim.get(h.Get("Location")); !strings.Contains(page, "A copy is in your Sent folder, but none in the Sent folder of ann@example.test: the mailbox of ann@example.test is full") {
		t.Fatalf("the flash does not say ann's Sent got none:\n%s", page)
	}
	if n := len(r.Read("kim@example.test", "Sent")); n != 3 {
		t.Fatalf("kim's Sent holds %d messages, want 3", n)
	}
	if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: store.Inherit, Messages: store.Inherit}); err != nil {
		t.Fatal(err)
	}

	// A draft keeps the From chosen, and the form selects it again.
	code, h, _ = kim.postMultipart("/compose", false, url.Values{"csrf": {kim.csrf}, "action": {"draft"},
		"from": {"ann@example.test"}, "to": {"bob@example.test"}, "subject": {"draft as ann"}, "body": {"Later\r\n"}})
	if code != http.StatusSeeOther {
		t.Fatalf("save a draft as ann: %d", code)
	}
	if d := r.only("kim@example.test", "Drafts"); !strings.Contains(d.Raw, "From: ann@example.test\r\n") {
		t.Fatalf("the draft's From:\n%s", d.Raw)
	}
	_, _, page = kim.get(h.Get("Location"))
	if m := selectedFromRE.FindStringSubmatch(page); m == nil || m[1] != "ann@example.test" {
		t.Fatalf("the draft's form selects %q, want ann@example.test", m)
	}

	// Revoked: refused, nothing sent.
	if err := r.Store.RevokeDelegation(ctx, r.acct.ID, kimAcct.Email); err != nil {
		t.Fatal(err)
	}
	if code, _ := sendAs("ann@example.test", "after the revocation"); code != http.StatusForbidden {
		t.Fatalf("sending as ann after the revocation: %d", code)
	}
	if n := len(r.Read("bob@example.test", "INBOX")); n != 3 {
		t.Fatalf("bob has %d messages, want 3", n)
	}
}

// TestBrowserComposeAsDelegate: in Chromium, a delegate picks the owner's
// address in the From list and sends; the message goes out as the owner.
func TestBrowserComposeAsDelegate(t *testing.T) {
	r := newRig(t)
	r.Account("kim@example.test")
	r.Account("bob@example.test")
	if err := r.Store.GrantDelegation(context.Background(), r.acct.ID, "kim@example.test", store.SendAs); err != nil {
		t.Fatal(err)
	}
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("kim@example.test", password)
	b.Open(chromedp.Click(chromedp.CSS(`header.top nav a[href="/compose"]`)))
	b.Do(
		chromedp.WaitVisible(chromedp.CSS(`#compose-heading`)),
		chromedp.SetValue(chromium.ByLabel("From"), "ann@example.test"),
		chromedp.SendKeys(chromium.ByLabel("To"), "bob@example.test"),
		chromedp.SendKeys(chromium.ByLabel("Subject"), "from the browser"),
		chromedp.SendKeys(chromium.ByLabel("Message"), "Sent as Ann."),
	)
	b.Open(chromedp.Click(chromedp.CSS(`button[name="action"][value="send"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`p.flash`))); flash != "Message sent." {
		t.Fatalf("after Send: %q", flash)
	}
	got := r.only("bob@example.test", "INBOX")
	if p := parse(t, got.Raw); p.addresses(t, "From") != "ann@example.test" || hasField(got.Raw, "Sender") {
		t.Fatalf("bob got:\n%s", got.Raw)
	}
}
