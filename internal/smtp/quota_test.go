package smtp

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/store"
)

func setLimits(t *testing.T, st store.Quotas, acct store.Account, storage, messages store.QuotaLimit) {
	t.Helper()
	if err := st.SetQuotaLimits(context.Background(), store.QuotaScope{AccountID: acct.ID}, store.QuotaLimits{Storage: storage, Messages: messages}); err != nil {
		t.Fatal(err)
	}
}

// A full mailbox: 452 4.2.2 at RCPT TO; the other recipients of the same
// transaction still get the message, once.
func TestOverQuotaAtRcpt(t *testing.T) {
	r := newRig(t, nil)
	ann := r.Account("ann@example.test")
	r.Account("bob@example.test")
	setLimits(t, r.Store, ann, store.Unlimited, 1)
	r.Deliver(ann, msg("fills"))

	c := r.dial(r.Addr("smtp"))
	if err := c.Mail("sender@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("ann@example.test", nil), 452, "4.2.2")
	if err := c.Rcpt("bob@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg("to bob")))
	if err := w.Close(); err != nil {
		t.Fatalf("DATA for bob: %v", err)
	}
	if got := r.Bodies("bob@example.test", "INBOX"); len(got) != 1 || !strings.Contains(got[0], "Hello to bob") {
		t.Fatalf("bob's INBOX: %q", got)
	}
	if n := len(r.Messages(ann, "INBOX")); n != 1 {
		t.Fatalf("ann has %d messages, want 1", n)
	}
}

// A message that does not fit is refused at DATA with the same reply,
// or with 552 5.2.2 when smtp.over_quota is "permanent".
func TestOverQuotaAtData(t *testing.T) {
	for _, c := range []struct {
		mode     string
		code     int
		enhanced string
	}{{"temporary", 452, "4.2.2"}, {"permanent", 552, "5.2.2"}} {
		t.Run(c.mode, func(t *testing.T) {
			r := newRig(t, func(cfg *config.Config) { cfg.SMTP.OverQuota = c.mode })
			ann := r.Account("ann@example.test")
			setLimits(t, r.Store, ann, 2000, store.Unlimited)
			cl := r.dial(r.Addr("smtp"))
			// RCPT passes (not full yet); the message itself is too big.
			big := msg("big") + strings.Repeat("x", 3000) + "\r\n"
			wantCode(t, send(cl, "sender@remote.example", []string{"ann@example.test"}, big), c.code, c.enhanced)
			if n := len(r.Messages(ann, "INBOX")); n != 0 {
				t.Fatalf("ann has %d messages after the refusal", n)
			}
			// A small one still fits.
			if err := send(cl, "sender@remote.example", []string{"ann@example.test"}, msg("small")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Warning mails through the running server: the 80% crossing by SMTP
// delivery writes one warning, deliveries below the next level none (the
// server asks the store only when a delivery reached a new level).
func TestQuotaWarningOverSMTP(t *testing.T) {
	r := newRig(t, nil)
	ann := r.Account("ann@example.test")
	setLimits(t, r.Store, ann, store.Unlimited, 10)
	deliver := func(n int) {
		t.Helper()
		for i := range n {
			c := r.dial(r.Addr("smtp"))
			if err := send(c, "sender@remote.example", []string{"ann@example.test"}, msg(strings.Repeat("x", i+1))); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
	warnings := func() int {
		n := 0
		for _, b := range r.Bodies("ann@example.test", "INBOX") {
			if strings.Contains(b, "Subject: Your mailbox is 80% full") {
				n++
			}
		}
		return n
	}
	deliver(7)
	if n := warnings(); n != 0 {
		t.Fatalf("%d warnings below 80%%", n)
	}
	deliver(1) // 8 of 10, and the warning: 9
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings at 80%%, want 1", n)
	}
	if n := len(r.Messages(ann, "INBOX")); n != 9 {
		t.Fatalf("ann has %d messages, want 8 and a warning", n)
	}
}
