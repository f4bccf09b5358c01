package delivery_test

// Sieve at delivery: the account's active script (and the server's
// global one) decide where each copy goes, against the real store and the
// real outbound queue.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"mailroom/internal/delivery"
	"mailroom/internal/sieve"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
)

// script stores content as the account's active script.
func (r *rig) script(email, content string) {
	r.t.Helper()
	ctx := context.Background()
	acct, err := r.st.Account(ctx, email)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := sieve.Check(content); err != nil {
		r.t.Fatalf("script does not compile: %v", err)
	}
	if err := r.st.PutSieveScript(ctx, acct.ID, "test", content); err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.SetActiveSieveScript(ctx, acct.ID, "test"); err != nil {
		r.t.Fatal(err)
	}
}

// mailbox returns the messages of one of an account's mailboxes.
func (r *rig) mailbox(email, name string) []store.MessageMeta {
	r.t.Helper()
	ctx := context.Background()
	acct, err := r.st.Account(ctx, email)
	if err != nil {
		r.t.Fatal(err)
	}
	mb, err := r.st.Mailbox(ctx, acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	list, err := r.st.MessageList(ctx, mb.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return list
}

func TestSieveFileintoAndFlags(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	ann, _ := r.st.Account(ctx, "ann@example.test")
	if _, err := r.st.CreateMailbox(ctx, ann.ID, "Work", ""); err != nil {
		t.Fatal(err)
	}
	r.script("ann@example.test", `require ["fileinto", "imap4flags", "mailbox"];
if header :contains "subject" "invoice" { fileinto "Work"; }
elsif address :is "from" "boss@remote.example" { addflag "\\Flagged"; addflag "$Boss"; }
elsif header :contains "subject" "newsletter" { fileinto :create "Lists/News"; }
elsif header :contains "subject" "nowhere" { fileinto "Missing"; }
elsif header :contains "subject" "elsewhere" { fileinto :create "Shared/bob@example.test/INBOX"; }`)
	r.deliver("x@remote.example", message("x@remote.example", "ann@example.test", "invoice 42", ""), "ann@example.test")
	r.deliver("boss@remote.example", message("Boss <boss@remote.example>", "ann@example.test", "hello", ""), "ann@example.test")
	r.deliver("n@remote.example", message("n@remote.example", "ann@example.test", "newsletter 7", ""), "ann@example.test")
	r.deliver("n@remote.example", message("n@remote.example", "ann@example.test", "nowhere", ""), "ann@example.test")
	r.deliver("n@remote.example", message("n@remote.example", "ann@example.test", "elsewhere", ""), "ann@example.test")
	if got := r.mailbox("ann@example.test", "Work"); len(got) != 1 {
		t.Fatalf("Work has %d messages, want 1", len(got))
	}
	inbox := r.mailbox("ann@example.test", "INBOX")
	if len(inbox) != 3 {
		t.Fatalf("INBOX has %d messages, want 3 (the flagged one, the one for a missing mailbox, the one for a shared folder)", len(inbox))
	}
	if mb := r.mailbox("ann@example.test", "Shared/bob@example.test/INBOX"); mb != nil {
		t.Errorf(":create made a personal folder in the shared namespace")
	}
	if inbox[0].Flags&store.FlagFlagged == 0 || len(inbox[0].Keywords) != 1 || !strings.EqualFold(inbox[0].Keywords[0], "$Boss") {
		t.Errorf("boss's message: flags %v keywords %v, want \\Flagged and $Boss", inbox[0].Flags, inbox[0].Keywords)
	}
	if inbox[1].Flags != 0 {
		t.Errorf("kept for a missing mailbox with flags %v", inbox[1].Flags)
	}
	if got := r.mailbox("ann@example.test", "Lists/News"); len(got) != 1 {
		t.Errorf(":create made Lists/News with %d messages, want 1", len(got))
	}
}

func TestSieveVacationOncePerPeriod(t *testing.T) {
	r := newRig(t, false)
	r.script("ann@example.test", `require ["vacation", "vacation-seconds"];
vacation :seconds 3600 :subject "Away" :from "Ann <ann@example.test>" "Back on Monday.";`)
	notices := func() int {
		n := 0
		for _, q := range r.queued() {
			if strings.Contains(q.body, "Subject: Away") && strings.Contains(q.body, "Auto-Submitted: auto-replied") {
				n++
			}
		}
		return n
	}
	r.deliver("joe@remote.example", message("joe@remote.example", "ann@example.test", "one", ""), "ann@example.test")
	r.deliver("joe@remote.example", message("joe@remote.example", "ann@example.test", "two", ""), "ann@example.test")
	if n := notices(); n != 1 {
		t.Fatalf("%d notices after two messages from one sender, want 1", n)
	}
	// Never to lists, bulk, automatic messages or the null sender.
	r.deliver("list@remote.example", message("list@remote.example", "ann@example.test", "list", "List-Id: <l.remote.example>\r\n"), "ann@example.test")
	r.deliver("b@remote.example", message("b@remote.example", "ann@example.test", "bulk", "Precedence: bulk\r\n"), "ann@example.test")
	r.deliver("a@remote.example", message("a@remote.example", "ann@example.test", "auto", "Auto-Submitted: auto-generated\r\n"), "ann@example.test")
	r.deliver("", message("mailer-daemon@remote.example", "ann@example.test", "bounce", ""), "ann@example.test")
	if n := notices(); n != 1 {
		t.Fatalf("%d notices after list, bulk, auto-submitted and null-sender mail, want still 1", n)
	}
	r.now = r.now.Add(61 * time.Minute)
	r.deliver("joe@remote.example", message("joe@remote.example", "ann@example.test", "three", ""), "ann@example.test")
	if n := notices(); n != 2 {
		t.Fatalf("%d notices after the period, want 2", n)
	}
	if len(r.inbox("ann@example.test")) != 7 {
		t.Errorf("vacation must keep the mail: INBOX has %d", len(r.inbox("ann@example.test")))
	}
}

func TestSieveVacationStorm(t *testing.T) {
	r := newRig(t, false)
	r.script("ann@example.test", `require "vacation"; vacation :days 1 "Away.";`)
	const senders = 1000
	start := time.Now()
	for i := range senders {
		from := fmt.Sprintf("s%d@remote.example", i)
		r.deliver(from, message(from, "ann@example.test", fmt.Sprintf("m%d", i), ""), "ann@example.test")
	}
	for i := range senders {
		from := fmt.Sprintf("s%d@remote.example", i)
		r.deliver(from, message(from, "ann@example.test", fmt.Sprintf("again%d", i), ""), "ann@example.test")
	}
	if got := len(r.queued()); got != senders {
		t.Fatalf("%d notices for %d senders writing twice, want %d", got, senders, senders)
	}
	t.Logf("%d deliveries with vacation in %v", 2*senders, time.Since(start))
}

func TestSieveReject(t *testing.T) {
	r := newRig(t, false)
	r.script("ann@example.test", `require "reject"; if header :contains "subject" "offer" { reject "No offers, thank you."; }`)
	err := r.try("spam@remote.example", message("spam@remote.example", "ann@example.test", "great offer", ""), "ann@example.test")
	var de *delivery.Error
	if !errors.As(err, &de) || de.Code != 550 || !strings.Contains(de.Msg, "No offers, thank you.") {
		t.Fatalf("reject of the only recipient: %v, want 550 with the reason", err)
	}
	if n := len(r.inbox("ann@example.test")); n != 0 {
		t.Fatalf("rejected message stored: %d", n)
	}
	// With another recipient that takes it: 250, and a report to the sender.
	r.deliver("spam@remote.example", message("spam@remote.example", "ann@example.test, bob@example.test", "another offer", ""), "ann@example.test", "bob@example.test")
	if got := counts(r, "ann@example.test", "bob@example.test"); got[0] != 0 || got[1] != 1 {
		t.Fatalf("ann, bob have %v, want [0 1]", got)
	}
	q := r.queued()
	if len(q) != 1 || q[0].to[0] != "spam@remote.example" || !strings.Contains(q[0].body, "No offers, thank you.") || !strings.Contains(q[0].body, "5.7.1") {
		t.Fatalf("report: %+v", q)
	}
}

func TestSieveFailureKeepsInInbox(t *testing.T) {
	r := newRig(t, false)
	for _, script := range []string{
		`require ["reject", "fileinto"]; fileinto "Junk"; reject "x";`, // a runtime error
		`require "include"; include "gone";`,                           // does not compile any more
		`require "fileinto"; ` + strings.Repeat(`if header :contains "subject" "zzz" { fileinto "X"; } `, 5000),
	} {
		ctx := context.Background()
		ann, _ := r.st.Account(ctx, "ann@example.test")
		if err := r.st.PutSieveScript(ctx, ann.ID, "test", script); err != nil {
			t.Fatal(err)
		}
		if err := r.st.SetActiveSieveScript(ctx, ann.ID, "test"); err != nil {
			t.Fatal(err)
		}
		before := len(r.inbox("ann@example.test"))
		r.deliver("x@remote.example", message("x@remote.example", "ann@example.test", fmt.Sprintf("s%d", before), ""), "ann@example.test")
		if n := len(r.inbox("ann@example.test")); n != before+1 {
			t.Fatalf("script %.40q: INBOX has %d, want %d", script, n, before+1)
		}
	}
}

func TestSieveRedirectLoop(t *testing.T) {
	r := newRig(t, false)
	r.script("ann@example.test", `redirect "bob@example.test";`)
	r.script("bob@example.test", `redirect "ann@example.test";`)
	r.deliver("x@remote.example", message("x@remote.example", "ann@example.test", "loop", ""), "ann@example.test")
	if got := counts(r, "ann@example.test", "bob@example.test"); got[0]+got[1] != 1 {
		t.Fatalf("a redirect loop between two accounts left %v copies, want exactly one", got)
	}
	// Redirect to another domain: sent from the redirecting account.
	r.script("cat@example.test", `redirect "cat@elsewhere.example";`)
	r.deliver("x@remote.example", message("x@remote.example", "cat@example.test", "away", ""), "cat@example.test")
	q := r.queued()
	if len(q) != 1 || q[0].from != "cat@example.test" || q[0].to[0] != "cat@elsewhere.example" || !strings.Contains(q[0].body, "Delivered-To: cat@example.test") {
		t.Fatalf("redirected copy: %+v", q)
	}
	if n := len(r.inbox("cat@example.test")); n != 0 {
		t.Errorf("redirect without :copy kept %d copies", n)
	}
}

func TestSieveDuplicate(t *testing.T) {
	r := newRig(t, false)
	r.script("ann@example.test", `require ["duplicate", "fileinto", "mailbox"]; if duplicate { fileinto :create "Dups"; }`)
	msg := message("x@remote.example", "ann@example.test", "same", "")
	r.deliver("x@remote.example", msg, "ann@example.test")
	r.deliver("x@remote.example", msg, "ann@example.test")
	if got := len(r.mailbox("ann@example.test", "Dups")); got != 1 || len(r.inbox("ann@example.test")) != 1 {
		t.Fatalf("Dups %d INBOX %d, want 1 and 1", got, len(r.inbox("ann@example.test")))
	}
}

func TestSieveGlobalBefore(t *testing.T) {
	r := newRig(t, false)
	dir := t.TempDir()
	writeFile(t, dir, "common.sieve", `require "imap4flags"; addflag "$Global";`)
	before, err := delivery.CompileBefore(writeFile(t, dir, "before.sieve", `require ["fileinto", "include"];
if header :contains "subject" "[SPAM]" { fileinto "Junk"; stop; }
include :global "common";`), dir, sieve.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r.agent = delivery.New(r.st, delivery.Config{SieveBefore: before, SieveGlobalDir: dir, Now: func() time.Time { return r.now }})
	r.script("ann@example.test", `require "fileinto"; fileinto "Archive";`)
	r.deliver("x@remote.example", message("x@remote.example", "ann@example.test", "[SPAM] buy", ""), "ann@example.test")
	r.deliver("x@remote.example", message("x@remote.example", "ann@example.test", "normal", ""), "ann@example.test")
	if j, a := r.mailbox("ann@example.test", "Junk"), r.mailbox("ann@example.test", "Archive"); len(j) != 1 || len(a) != 1 || len(a[0].Keywords) != 1 {
		t.Fatalf("Junk %d, Archive %+v: the global script runs first, and its stop ends the user's", len(j), a)
	}
	if _, err := delivery.CompileBefore(writeFile(t, dir, "bad.sieve", "fileinto \"x\";"), dir, sieve.Limits{}); err == nil {
		t.Error("a global script that does not compile was accepted")
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpgradeKeepsForwardingAndVacation: an account whose forwarding and
// vacation were settings before Sieve keeps both after the upgrade's
// migration (run by serve at start) turned them into its script.
func TestUpgradeKeepsForwardingAndVacation(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	ann, _ := r.st.Account(ctx, "ann@example.test")
	if err := r.st.SetSettings(ctx, ann.ID, map[string]string{
		"forward.to": "bob@example.test, friend@elsewhere.example", "forward.keep": "true",
		"vacation.enabled": "true", "vacation.subject": "Away", "vacation.body": "Back soon.",
	}); err != nil {
		t.Fatal(err)
	}
	n, err := sieverules.MigrateSettings(ctx, r.st, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil || n != 1 {
		t.Fatalf("MigrateSettings: %d accounts, %v", n, err)
	}
	if s, _ := r.st.Settings(ctx, ann.ID); s.String("forward.to") != "" || s.Bool("vacation.enabled") {
		t.Errorf("old settings left after the migration")
	}
	r.deliver("joe@remote.example", message("joe@remote.example", "ann@example.test", "after upgrade", ""), "ann@example.test")
	if got := counts(r, "ann@example.test", "bob@example.test"); got[0] != 1 || got[1] != 1 {
		t.Fatalf("ann, bob have %v, want [1 1]: forwarding with a kept copy", got)
	}
	var forwarded, notices int
	for _, q := range r.queued() {
		switch {
		case q.to[0] == "friend@elsewhere.example":
			forwarded++
		case q.to[0] == "joe@remote.example" && strings.Contains(q.body, "Subject: Away"):
			notices++
		}
	}
	if forwarded != 1 || notices != 1 {
		t.Fatalf("%d forwarded copies, %d vacation notices; want 1 and 1", forwarded, notices)
	}
	// A second start finds nothing left to migrate.
	if n, err := sieverules.MigrateSettings(ctx, r.st, slog.New(slog.DiscardHandler)); err != nil || n != 0 {
		t.Fatalf("second MigrateSettings: %d, %v", n, err)
	}
}
