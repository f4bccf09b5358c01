package web

import (
	"context"
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
