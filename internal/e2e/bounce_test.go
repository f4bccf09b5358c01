package e2e

import (
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/mailtest"
	"mailroom/internal/testrig"
)

// TestRemoteRefusalBouncesToIMAP: a user submits mail for another domain,
// whose server refuses one recipient for good; the bounce (a DSN) arrives
// in the user's INBOX and reads correctly over IMAP, while the accepted
// recipient gets the message once.
func TestRemoteRefusalBouncesToIMAP(t *testing.T) {
	dns := mailtest.NewDNS(t)
	sink := dns.NewRemoteMX(t, "remote.test")
	port := sink.Port()
	sink.OnRcpt = func(to string) *mailtest.Reply {
		if strings.HasPrefix(to, "gone@") {
			return &mailtest.Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Text: "mailbox unavailable"}
		}
		return nil
	}

	r := start(t, testrig.Config(func(c *config.Config) {
		c.Auth.AllowInsecure = true // AUTH without STARTTLS, on loopback
		c.Queue.RemotePort = port
		c.Queue.RetryIntervals = []config.Duration{config.Duration(100 * time.Millisecond)}
		c.DNS.Servers = []string{dns.Addr}
	}))

	c, err := gosmtp.Dial(r.Addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("laptop.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "ann@example.test", password)); err != nil {
		t.Fatal(err)
	}
	msg := "From: Ann <ann@example.test>\r\nTo: gone@remote.test, bob@remote.test\r\nSubject: Minutes\r\n\r\nThe minutes.\r\n"
	if err := c.SendMail("ann@example.test", []string{"gone@remote.test", "bob@remote.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	sink.WaitFor(t, 1, 10*time.Second)

	debugW := &strings.Builder{}
	ic := r.imapClient("ann@example.test", &imapclient.Options{DebugWriter: debugW})
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for body == "" {
		sel, err := ic.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel.NumMessages > 0 {
			section := &goimap.FetchItemBodySection{}
			msgs, err := ic.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{section},
				BodyStructure: &goimap.FetchItemBodyStructure{Extended: true}}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			if bs, ok := msgs[0].BodyStructure.(*goimap.BodyStructureMultiPart); !ok || !strings.EqualFold(bs.Subtype, "report") {
				t.Fatalf("bounce BODYSTRUCTURE: %#v\n%s", msgs[0].BodyStructure, debugW)
			}
			body = string(msgs[0].FindBodySection(section))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no bounce in INBOX")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"Final-Recipient: rfc822; gone@remote.test", "Status: 5.1.1", "mailbox unavailable",
		"Subject: Minutes", "Return-Path: <>", "Auto-Submitted: auto-replied"} {
		if !strings.Contains(body, want) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
	if n := sink.Count("bob@remote.test"); n != 1 {
		t.Fatalf("bob received %d copies", n)
	}
}
