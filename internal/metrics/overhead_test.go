package metrics_test

import (
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gosmtp "github.com/emersion/go-smtp"

	imapserver "mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
)

// benchRig starts a server with or without the metrics listener (the
// only difference: without it no instrument exists).
func benchRig(b *testing.B, withMetrics bool) *testrig.Rig {
	keys := []string{"smtp", "imaps"}
	if withMetrics {
		keys = append(keys, "metrics")
	}
	r := testrig.Start(b, testrig.Factories{"smtp": smtp.Factory(smtp.Inbound), "imap": imapserver.Factory()},
		testrig.Listen(keys...))
	r.Account("ann@example.test")
	return r
}

// BenchmarkOverheadSMTP delivers messages one after another over one SMTP
// session, with and without metrics. Run with -count N: the two
// alternate, so that a busy machine slows both alike.
func BenchmarkOverheadSMTP(b *testing.B) {
	body := "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: bench\r\n\r\n" + strings.Repeat("x", 10000) + "\r\n"
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "without", true: "with"}[on], func(b *testing.B) {
			r := benchRig(b, on)
			c, err := gosmtp.Dial(r.Addr("smtp"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.example.org"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := c.SendMail("bob@example.org", []string{"ann@example.test"}, strings.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOverheadIMAP runs NOOP and a whole-body FETCH over one IMAP
// session, with and without metrics.
func BenchmarkOverheadIMAP(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "without", true: "with"}[on], func(b *testing.B) {
			r := benchRig(b, on)
			r.DeliverTo("ann@example.test", "From: bob@example.org\r\nSubject: x\r\n\r\n"+strings.Repeat("y", 2000)+"\r\n")
			c, err := imapclient.DialTLS(r.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Login("ann@example.test", testrig.Password).Wait(); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
			fetch := &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}
			for b.Loop() {
				if err := c.Noop().Wait(); err != nil {
					b.Fatal(err)
				}
				cmd := c.Fetch(imap.SeqSetNum(1), fetch)
				for m := cmd.Next(); m != nil; m = cmd.Next() {
					for item := m.Next(); item != nil; item = m.Next() {
						if s, ok := item.(imapclient.FetchItemDataBodySection); ok {
							io.Copy(io.Discard, s.Literal)
						}
					}
				}
				if err := cmd.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
