package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/mailtest"
	"mailroom/internal/pop3"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

// startNode starts a second Mailroom on first's PostgreSQL database, as a
// second `mailroom serve` of the same installation (skipped on SQLite).
func startNode(t *testing.T, first *rig, opts ...testrig.Option) *rig {
	t.Helper()
	opts = append([]testrig.Option{testrig.SecondNode(t, first.Rig),
		testrig.Listen("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http")}, opts...)
	tr := testrig.Start(t, testrig.Factories{
		"smtp": smtp.Factory(smtp.Inbound), "submission": smtp.Factory(smtp.Submission),
		"imap": imap.Factory(), "pop3": pop3.Factory(), "http": web.Factory(),
	}, opts...)
	return &rig{Rig: tr, acct: first.acct}
}

// sendMX delivers a message to rcpt over port 25 of a node.
func sendMX(t *testing.T, r *rig, rcpt, subject string) {
	t.Helper()
	msg := "From: Bob <bob@remote.test>\r\nTo: " + rcpt + "\r\nSubject: " + subject + "\r\n\r\nHello.\r\n"
	c, err := gosmtp.Dial(r.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.remote.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("bob@remote.test", []string{rcpt}, strings.NewReader(msg)); err != nil {
		t.Fatalf("SMTP to node: %v", err)
	}
	c.Quit()
}

// An IMAP client idling on node A sees a message node B accepted over
// SMTP, without doing anything: the change crosses nodes through
// PostgreSQL's LISTEN/NOTIFY.
func TestNodesIdleSeesOtherNodesDelivery(t *testing.T) {
	a := start(t)
	b := startNode(t, a)
	c := a.imap()
	c.imapCmd("s", "SELECT INBOX")
	c.Send("i IDLE")
	if s := c.Line(); !strings.HasPrefix(s, "+") {
		t.Fatalf("IDLE: %s", s)
	}
	for i := 1; i <= 3; i++ {
		sendMX(t, b, "ann@example.test", "to node B "+strconv.Itoa(i))
		c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		// The RECENT-free EXISTS of the new message, perhaps after
		// FETCH/other untagged lines.
		want := "* " + strconv.Itoa(i) + " EXISTS"
		for s := c.Line(); s != want; s = c.Line() {
			if !strings.HasPrefix(s, "* ") {
				t.Fatalf("in IDLE on node A, waiting for %q: %q", want, s)
			}
		}
	}
	c.Send("DONE")
	s := c.Line()
	for strings.HasPrefix(s, "* ") { // the last RECENT
		s = c.Line()
	}
	if !strings.HasPrefix(s, "i OK") {
		t.Fatalf("DONE: %s", s)
	}
}

// POP3 on node A and IMAP on node B show one mailbox: what B expunges is
// gone from A's next POP3 session, and what A deletes is gone in B's.
func TestNodesPOP3AndIMAPSeeOneMailbox(t *testing.T) {
	a := start(t)
	b := startNode(t, a)
	for _, s := range []string{"one", "two", "three"} {
		sendMX(t, a, "ann@example.test", s)
	}
	uidls := a.pop("UIDL")
	if len(uidls) != 3 {
		t.Fatalf("POP3 on A lists %q, want 3 messages", uidls)
	}
	c := b.imap()
	if got := c.imapCmd("s", "SELECT INBOX"); !containsLine(got, "* 3 EXISTS") {
		t.Fatalf("IMAP SELECT on B: %q", got)
	}
	c.imapCmd("f", "STORE 1 +FLAGS.SILENT (\\Deleted)")
	c.imapCmd("e", "EXPUNGE")
	after := a.pop("UIDL")
	if len(after) != 2 || after[0][2:] != uidls[1][2:] || after[1][2:] != uidls[2][2:] {
		t.Fatalf("POP3 on A after B expunged the first: %q (before %q)", after, uidls)
	}
	// POP3 DELE on A, in the default delete mode, expunges: B sees it at
	// its next NOOP once A's change has crossed (a few milliseconds).
	a.pop("DELE 1")
	var got []string
	for deadline := time.Now().Add(5 * time.Second); !containsLine(got, "* 1 EXPUNGE"); {
		if time.Now().After(deadline) {
			t.Fatalf("IMAP NOOP on B after POP3 DELE on A: %q", got)
		}
		time.Sleep(10 * time.Millisecond)
		got = c.imapCmd("n", "NOOP")
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// A message submitted on node B while both nodes run their queues leaves
// once: both workers claim from one queue.
func TestNodesQueuedMessageLeavesOnce(t *testing.T) {
	dns := mailtest.NewDNS(t)
	sink := dns.NewRemoteMX(t, "remote.test")
	port := sink.Port()
	cfg := testrig.Config(func(c *config.Config) {
		c.Auth.AllowInsecure = true
		c.Queue.RemotePort = port
		c.DNS.Servers = []string{dns.Addr}
	})
	a := start(t, cfg)
	b := startNode(t, a, cfg)
	for i := range 10 {
		node := []*rig{a, b}[i%2]
		c, err := gosmtp.Dial(node.Addr("submission"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Hello("laptop.example"); err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(sasl.NewPlainClient("", "ann@example.test", password)); err != nil {
			t.Fatal(err)
		}
		msg := "From: ann@example.test\r\nTo: carol@remote.test\r\nSubject: n" + strconv.Itoa(i) + "\r\n\r\nx\r\n"
		if err := c.SendMail("ann@example.test", []string{"carol@remote.test"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	}
	sink.WaitFor(t, 10, 20*time.Second)
	time.Sleep(time.Second) // a duplicate would come now
	subjects := map[string]int{}
	for _, m := range sink.Received() {
		for _, l := range strings.Split(string(m.Data), "\r\n") {
			if s, ok := strings.CutPrefix(l, "Subject: "); ok {
				subjects[s]++
			}
		}
	}
	if len(subjects) != 10 {
		t.Errorf("the remote server got subjects %v, want n0…n9 once each", subjects)
	}
	for s, n := range subjects {
		if n != 1 {
			t.Errorf("%s arrived %d times", s, n)
		}
	}
}
