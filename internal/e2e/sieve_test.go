package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/managesieve"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
)

// TestSieveThroughManageSieveAndSMTP is issue 17's "done when": a
// ManageSieve client (sieve-connect) uploads and activates a script; mail
// submitted over SMTP that matches `fileinto "Work"` lands in Work, mail
// matching `addflag "\\Flagged"` arrives flagged, and the vacation answers
// once per sender per period, as IMAP shows.
func TestSieveThroughManageSieveAndSMTP(t *testing.T) {
	r := testrig.Start(t, testrig.Factories{"imap": imap.Factory(), "managesieve": managesieve.Factory(),
		"submission": smtp.Factory(smtp.Submission)},
		testrig.Listen("imaps", "managesieve", "submission"),
		testrig.Config(func(c *config.Config) { c.Auth.AllowInsecure = true }))
	ann := r.Account("ann@example.test")
	bob := r.Account("bob@example.test")

	script := `require ["fileinto", "imap4flags", "vacation"];
vacation :days 1 :subject "Away" "Back on Monday.";
if header :contains "subject" "report" { fileinto "Work"; stop; }
if address :is "from" "bob@example.test" { addflag "\\Flagged"; }
`
	local := filepath.Join(t.TempDir(), "rules.sieve")
	if err := os.WriteFile(local, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	sieveConnect := func(args ...string) { testrig.SieveConnect(t, r.Addr("managesieve"), "ann@example.test", args...) }
	sieveConnect("--upload", "--localsieve", local, "--remotesieve", "rules")
	sieveConnect("--activate", "--remotesieve", "rules")

	ic := (&rig{Rig: r, acct: ann}).imapClient("ann@example.test", nil)
	if err := ic.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	send := func(subject string) {
		t.Helper()
		c, err := gosmtp.Dial(r.Addr("submission"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("laptop.example"); err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(sasl.NewPlainClient("", "bob@example.test", password)); err != nil {
			t.Fatal(err)
		}
		msg := "From: Bob <bob@example.test>\r\nTo: Ann <ann@example.test>\r\nSubject: " + subject + "\r\nMessage-ID: <" +
			strings.ReplaceAll(subject, " ", ".") + "@example.test>\r\n\r\nHello.\r\n"
		if err := c.SendMail("bob@example.test", []string{"ann@example.test"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	}
	send("Quarterly report")
	send("Lunch on Friday")
	send("Lunch, again")

	if n := len(r.Messages(ann, "Work")); n != 1 {
		t.Fatalf("Work has %d messages, want the report", n)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 2 {
		t.Fatalf("INBOX: %+v %v, want the two lunch messages", sel, err)
	}
	msgs, err := ic.Fetch(goimap.SeqSetNum(1, 2), &goimap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		flagged := false
		for _, f := range m.Flags {
			flagged = flagged || f == goimap.FlagFlagged
		}
		if !flagged {
			t.Errorf("message %d arrived with flags %v, want \\Flagged", m.SeqNum, m.Flags)
		}
	}
	// One vacation answer in bob's INBOX for his three messages.
	// The answers are written after each delivery; give a late one time
	// to arrive before counting.
	deadline := time.Now().Add(10 * time.Second)
	for len(r.Messages(bob, "INBOX")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	answers := r.Bodies("bob@example.test", "INBOX")
	if len(answers) != 1 {
		t.Fatalf("bob has %d vacation answers for three messages, want exactly 1", len(answers))
	}
	if !strings.Contains(answers[0], "Subject: Away") || !strings.Contains(answers[0], "Auto-Submitted: auto-replied") {
		t.Fatalf("the answer:\n%s", answers[0])
	}
}
