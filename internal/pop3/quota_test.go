package pop3

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// A user over quota can still log in, download and delete: POP3 only ever
// shrinks a mailbox (or moves mail to Trash, which costs nothing), so the
// quota never stands in its way. The deletion brings the account back
// under its limit.
func TestOverQuotaCanDownloadAndDelete(t *testing.T) {
	for _, mode := range []string{"expunge", "trash"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, nil)
			acct := r.Account("ann@example.test", "pop3.delete_mode", mode)
			m := message("full", strings.Repeat("x", 500)+"\r\n")
			for range 3 {
				r.Deliver(acct, m)
			}
			ctx := context.Background()
			// Lowered below what is stored: 3 messages, room for 1.
			if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: acct.ID},
				store.QuotaLimits{Storage: store.QuotaLimit(len(m)), Messages: 1}); err != nil {
				t.Fatal(err)
			}
			c := r.login("ann@example.test")
			if got := c.cmd("STAT", "+OK"); !strings.HasPrefix(got, "+OK 3 ") {
				t.Fatalf("STAT %q", got)
			}
			c.cmd("RETR 1", "+OK")
			if body := c.multi(); body != m {
				t.Fatalf("RETR over quota: %q", body)
			}
			c.cmd("DELE 1", "+OK")
			c.cmd("DELE 2", "+OK")
			c.cmd("QUIT", "+OK")
			u, err := r.Store.QuotaUsage(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(1)
			if mode == "trash" {
				want = 3 // moved to Trash, still stored
			}
			if u.Messages != want {
				t.Fatalf("usage after DELE/QUIT: %d messages, want %d", u.Messages, want)
			}
			c = r.login("ann@example.test")
			if got := c.cmd("STAT", "+OK"); !strings.HasPrefix(got, "+OK 1 ") {
				t.Fatalf("next session STAT %q", got)
			}
			c.cmd("QUIT", "+OK")
		})
	}
}
