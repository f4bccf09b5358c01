package loadgen

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
)

// RunFeed against a real Mailroom: IDLE and submission on one node (on
// SQLite; with MAILROOM_TEST_BACKEND=postgres also across two nodes). Every
// delivery's EXISTS is seen, the bounds are ordered (the end of DATA comes
// before the 250), and the messages are really in the INBOX.
func TestRunFeed(t *testing.T) {
	factories := testrig.Factories{"submission": smtp.Factory(smtp.Submission), "imap": imap.Factory()}
	cfg := testrig.Config(func(c *config.Config) { c.Auth.AllowInsecure = true })
	a := testrig.Start(t, factories, testrig.Listen("submission", "imap"), cfg)
	acct := a.Account("user1@example.test")
	a.Deliver(acct, "Subject: already there\r\n\r\nx\r\n")
	nodes := map[string]*testrig.Rig{"one node": a}
	if testrig.Backend() == config.BackendPostgres {
		nodes["two nodes"] = testrig.Start(t, factories, testrig.SecondNode(t, a), testrig.Listen("submission", "imap"), cfg)
	}
	total := 1
	for name, b := range nodes {
		t.Run(name, func(t *testing.T) {
			rep, err := RunFeed(context.Background(), FeedOptions{
				IMAPAddr: a.Addr("imap"), SMTPAddr: b.Addr("submission"), Auth: true,
				User: "user1@example.test", Password: testrig.Password, Count: 30, Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			total += rep.Count
			if rep.Count != 30 || rep.Missed != 0 {
				t.Fatalf("report %+v: want 30 deliveries, none missed", rep)
			}
			if rep.AfterDot.P50 <= 0 || rep.AfterDot.P99 < rep.AfterDot.P50 || rep.AfterDot.Max < rep.AfterDot.P99 {
				t.Errorf("end of DATA → EXISTS %+v: want 0 < p50 ≤ p99 ≤ max", rep.AfterDot)
			}
			if rep.AfterReply.P50 > rep.AfterDot.P50 || rep.AfterReply.Max > rep.AfterDot.Max {
				t.Errorf("250 → EXISTS %+v exceeds end of DATA → EXISTS %+v", rep.AfterReply, rep.AfterDot)
			}
			var out bytes.Buffer
			if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), "feed: 30 deliveries") {
				t.Errorf("report text %q, %v", out.String(), err)
			}
		})
	}
	if got := len(a.Messages(acct, "INBOX")); got != total {
		t.Errorf("INBOX holds %d messages, want %d", got, total)
	}
}

// A wrong password ends the run with the server's answer, not a hang.
func TestRunFeedLoginRefused(t *testing.T) {
	a := testrig.Start(t, testrig.Factories{"submission": smtp.Factory(smtp.Submission), "imap": imap.Factory()},
		testrig.Listen("submission", "imap"), testrig.Config(func(c *config.Config) { c.Auth.AllowInsecure = true }))
	a.Account("user1@example.test")
	_, err := RunFeed(context.Background(), FeedOptions{IMAPAddr: a.Addr("imap"), SMTPAddr: a.Addr("submission"), Auth: true,
		User: "user1@example.test", Password: "wrong", Count: 1})
	if err == nil || !strings.Contains(err.Error(), "LOGIN") {
		t.Fatalf("RunFeed with a wrong password: %v", err)
	}
}

// existsCount reads server lines: any line, no panic; what it accepts
// formats back to itself.
func FuzzExistsCount(f *testing.F) {
	for _, s := range []string{"* 3 EXISTS", "* 0 exists", "* 12 RECENT", "* OK [UIDNEXT 4]", "* -1 EXISTS", "*  EXISTS",
		"* 99999999999999999999 EXISTS", "+ idling", "", "* 1 EXISTS extra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		n, ok := existsCount(line)
		if !ok {
			return
		}
		rest, _ := strings.CutPrefix(line, "* ")
		num, word, _ := strings.Cut(rest, " ")
		if !strings.EqualFold(word, "EXISTS") {
			t.Fatalf("%q accepted as EXISTS %d", line, n)
		}
		if got, err := strconv.Atoi(num); err != nil || got != n {
			t.Fatalf("%q: %d, want %s", line, n, num)
		}
	})
}
