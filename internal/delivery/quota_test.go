package delivery

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

func setMessageLimit(t *testing.T, st store.Store, email string, n store.QuotaLimit) store.Account {
	t.Helper()
	ctx := context.Background()
	acct, err := st.Account(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetQuotaLimits(ctx, store.QuotaScope{AccountID: acct.ID}, store.QuotaLimits{Storage: store.Inherit, Messages: n}); err != nil {
		t.Fatal(err)
	}
	return acct
}

func deliverRaw(t *testing.T, st store.Store, a *Agent, from, raw string, rcpts ...string) error {
	t.Helper()
	ctx := context.Background()
	env := Envelope{From: from}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, Recipient{Address: r, Resolved: mustResolve(t, a, r)})
	}
	m, err := st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Discard()
	return a.Deliver(ctx, m, env)
}

// A full recipient is refused at RCPT TO when it is a single account;
// an alias to several is not (the others must get the message).
func TestCheckQuota(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	if err := st.AddAlias(ctx, "team@example.test", []string{"ann@example.test", "bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	setMessageLimit(t, st, "ann@example.test", 1)
	if err := a.CheckQuota(ctx, mustResolve(t, a, "ann@example.test")); err != nil {
		t.Fatalf("ann with room: %v", err)
	}
	if err := deliverRaw(t, st, a, "x@remote.example", "Subject: 1\r\n\r\nx\r\n", "ann@example.test"); err != nil {
		t.Fatal(err)
	}
	err := a.CheckQuota(ctx, mustResolve(t, a, "ann@example.test"))
	wantErr(t, err, 452)
	if de := err.(*Error); de.Enhanced != [3]int{4, 2, 2} || !strings.Contains(de.Msg, "ann@example.test") {
		t.Fatalf("full mailbox: %v, want 452 4.2.2 naming ann", de)
	}
	if err := a.CheckQuota(ctx, mustResolve(t, a, "team@example.test")); err != nil {
		t.Fatalf("alias with one full account refused at RCPT: %v", err)
	}
	a.cfg.OverQuotaPermanent = true
	err = a.CheckQuota(ctx, mustResolve(t, a, "ann+tag@example.test"))
	wantErr(t, err, 552)
	if de := err.(*Error); de.Enhanced != [3]int{5, 2, 2} {
		t.Fatalf("permanent: %v, want 5.2.2", de)
	}
}

// At DATA: a message nobody can take is refused whole (nothing stored);
// one that others can take goes to them, once, and the sender gets a
// report for the full one.
func TestDeliverOverQuota(t *testing.T) {
	st, a := setup(t)
	setMessageLimit(t, st, "ann@example.test", 1)
	if err := deliverRaw(t, st, a, "x@remote.example", "Subject: 1\r\n\r\nfirst\r\n", "ann@example.test"); err != nil {
		t.Fatal(err)
	}
	// 1 of 1 is full: the 95% warning came too (exempt).
	if got := inbox(t, st, "ann@example.test"); len(got) != 2 || !strings.Contains(got[1], "Your mailbox is 95% full") {
		t.Fatalf("ann has %q, want the message and a warning", got)
	}
	err := deliverRaw(t, st, a, "x@remote.example", "Subject: 2\r\n\r\nsecond\r\n", "ann@example.test")
	wantErr(t, err, 452)
	if n := len(inbox(t, st, "ann@example.test")); n != 2 {
		t.Fatalf("ann has %d messages, want 2", n)
	}

	// ann and bob, from cat (local, so the report can be read): bob gets
	// it, ann does not, cat is told.
	if err := deliverRaw(t, st, a, "cat@other.test", "Subject: 3\r\n\r\nthird\r\n", "ann@example.test", "bob@example.test"); err != nil {
		t.Fatalf("partly over quota: %v", err)
	}
	if got := inbox(t, st, "bob@example.test"); len(got) != 1 || !strings.Contains(got[0], "third") {
		t.Fatalf("bob got %q", got)
	}
	if n := len(inbox(t, st, "ann@example.test")); n != 2 {
		t.Fatalf("ann has %d messages, want 2", n)
	}
	report := inbox(t, st, "cat@other.test")
	if len(report) != 1 || !strings.Contains(report[0], "Status: 4.2.2") || !strings.Contains(report[0], "Final-Recipient: rfc822; ann@example.test") ||
		strings.Contains(report[0], "Final-Recipient: rfc822; bob@example.test") {
		t.Fatalf("report to the sender: %q", report)
	}

	a.cfg.OverQuotaPermanent = true
	err = deliverRaw(t, st, a, "x@remote.example", "Subject: 4\r\n\r\nfourth\r\n", "ann@example.test")
	wantErr(t, err, 552)
}

// Crossing 80% and then 95% of a limit puts one warning each into the
// INBOX, from the postmaster, past the quota itself.
func TestQuotaWarningMail(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	acct := setMessageLimit(t, st, "ann@example.test", 10)
	put := func(n int) {
		t.Helper()
		for range n {
			if err := deliverRaw(t, st, a, "x@remote.example", "Subject: m\r\n\r\nx\r\n", "ann@example.test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(7)
	if n := len(inbox(t, st, "ann@example.test")); n != 7 {
		t.Fatalf("%d messages before 80%%, want 7", n)
	}
	put(1)
	got := inbox(t, st, "ann@example.test")
	if len(got) != 9 {
		t.Fatalf("%d messages after crossing 80%%, want 8 and a warning", len(got))
	}
	w := got[8]
	for _, want := range []string{"From: Postmaster <postmaster@example.test>", "Subject: Your mailbox is 80% full",
		"holds 8 messages of the 10", "delete the messages you no longer need", "Auto-Submitted: auto-generated"} {
		if !strings.Contains(w, want) {
			t.Fatalf("warning lacks %q:\n%s", want, w)
		}
	}
	// The warning counted: 9 of 10. One more reaches 95%: a second warning,
	// delivered although the account is then over its limit.
	put(1)
	got = inbox(t, st, "ann@example.test")
	if len(got) != 11 || !strings.Contains(got[10], "Your mailbox is 95% full") {
		t.Fatalf("after 95%%: %d messages, last %q", len(got), got[len(got)-1])
	}
	u, err := st.QuotaUsage(ctx, acct.ID)
	if err != nil || u.Messages != 11 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	wantErr(t, deliverRaw(t, st, a, "x@remote.example", "Subject: m\r\n\r\nx\r\n", "ann@example.test"), 452)
}
