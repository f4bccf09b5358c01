package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// Everyone sees their usage on the settings page: a bar per limited
// resource, and a clear message when the mailbox is full.
func TestSettingsShowsQuotaUsage(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	_, _, body := b.get("/settings")
	if !strings.Contains(body, "Storage: 0 B of unlimited") || !strings.Contains(body, "Messages: 0 of unlimited") || strings.Contains(body, "<progress") {
		t.Fatalf("unlimited usage not shown as such:\n%s", section(body, "h-quota"))
	}
	ctx := context.Background()
	if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: 10 << 20, Messages: 1}); err != nil {
		t.Fatal(err)
	}
	r.Deliver(r.acct, "Subject: one\r\n\r\nbody\r\n")
	_, _, body = b.get("/settings")
	q := section(body, "h-quota")
	for _, want := range []string{"of 10 MiB (0%)", "Messages: 1 of 1 (100%)", `<progress class="quota" max="100" value="100"`, "Your mailbox is full"} {
		if !strings.Contains(q, want) {
			t.Fatalf("usage lacks %q:\n%s", want, q)
		}
	}
}

// section returns the part of a page from the element with id on.
func section(body, id string) string {
	if i := strings.Index(body, `id="`+id+`"`); i >= 0 {
		body = body[i:]
		if j := strings.Index(body, "</section>"); j >= 0 {
			return body[:j]
		}
	}
	return body
}

// A full mailbox gets a clear message in the web, not "try again":
// a draft is not saved, and a message is sent but no copy is kept.
func TestComposeOverQuota(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	b := r.browser()
	b.login("ann@example.test")
	if err := r.Store.SetQuotaLimits(context.Background(), store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: store.Unlimited, Messages: 0}); err != nil {
		t.Fatal(err)
	}
	code, _, page := b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"draft"},
		"to": {"bob@example.test"}, "subject": {"Plans"}, "body": {"draft\r\n"}})
	if code != http.StatusInsufficientStorage || !strings.Contains(page, "The draft was not saved: your mailbox is full (it may hold 0 messages)") {
		t.Fatalf("draft over quota: %d\n%s", code, page)
	}
	if n := len(r.Read("ann@example.test", "Drafts")); n != 0 {
		t.Fatalf("%d drafts saved over quota", n)
	}
	code, h, page := b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"send"},
		"to": {"bob@example.test"}, "subject": {"Plans"}, "body": {"sent anyway\r\n"}})
	if code != http.StatusSeeOther {
		t.Fatalf("send over quota: %d\n%s", code, page)
	}
	if _, _, page := b.get(h.Get("Location")); !strings.Contains(page, "Message sent, but no copy was kept in Sent: your mailbox is full") {
		t.Fatalf("no over-quota flash after sending:\n%s", page)
	}
	if n := len(r.Read("bob@example.test", "INBOX")); n != 1 {
		t.Fatalf("bob got %d messages", n)
	}
}

// The message names whose mailbox is full: a delegate's copy into its
// owner's Sent can fail for the owner's quota.
func TestOverQuotaMessage(t *testing.T) {
	err := fmt.Errorf("append: %w", &store.OverQuotaError{Email: "support@example.test", Resource: store.QuotaStorage, Limit: 10 << 20})
	if msg, ok := overQuotaMessage(err, "ann@example.test"); !ok || msg != "the mailbox of support@example.test is full (it may hold 10 MiB)." {
		t.Fatalf("owner's: %q %v", msg, ok)
	}
	if msg, ok := overQuotaMessage(err, "Support@example.test"); !ok || !strings.HasPrefix(msg, "your mailbox is full (it may hold 10 MiB).") {
		t.Fatalf("own: %q %v", msg, ok)
	}
	if _, ok := overQuotaMessage(errors.New("disk on fire"), "ann@example.test"); ok {
		t.Fatal("another error taken for over quota")
	}
}
