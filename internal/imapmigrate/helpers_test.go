package imapmigrate

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// login opens an IMAP session over implicit TLS. The connection has a
// deadline: imapclient's commands have none of their own.
func login(t testing.TB, addr, user, password string) *imapclient.Client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	c := imapclient.New(conn, nil)
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN %s: %v", user, err)
	}
	return c
}

func appendMsg(t testing.TB, c *imapclient.Client, folder, raw string, date time.Time, flags ...imap.Flag) {
	t.Helper()
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags, Time: date})
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND to %s: %v", folder, err)
	}
}

func message(n int, subject string) string {
	return fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: a@example.test\r\nSubject: %s\r\n"+
		"Message-ID: <%d.%s@example.org>\r\nDate: Mon, 3 Jan 2022 10:00:00 +0000\r\n\r\nBody of %d\r\n%s\r\n",
		n, n, subject, n, strings.ReplaceAll(subject, " ", "-"), n, strings.Repeat("line of text\r\n", n%40))
}

// sig is a message as a client sees it: what a migration must keep.
type sig struct {
	sum   [sha256.Size]byte
	flags string
	date  int64
}

func (s sig) String() string { return fmt.Sprintf("%x/%s/%d", s.sum[:4], s.flags, s.date) }

// snapshot reads every selectable folder over IMAP: per folder name
// (mapped by rename), the messages' signatures, sorted.
func snapshot(t testing.TB, c *imapclient.Client, rename func(string) string) map[string][]string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range list {
		if hasAttr(l.Attrs, imap.MailboxAttrNoSelect) || hasAttr(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		name := rename(l.Mailbox)
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var fl []string
			for _, f := range m.Flags {
				if !strings.EqualFold(string(f), `\Recent`) {
					fl = append(fl, strings.ToLower(string(f)))
				}
			}
			sort.Strings(fl)
			var body []byte
			for _, b := range m.BodySection {
				body = b.Bytes
			}
			out[name] = append(out[name], sig{sum: sha256.Sum256(body), flags: strings.Join(fl, " "), date: m.InternalDate.Unix()}.String())
		}
		sort.Strings(out[name])
	}
	return out
}

func sameSnapshot(t testing.TB, src, dst map[string][]string) {
	t.Helper()
	for name, msgs := range src {
		got := dst[name]
		if strings.Join(got, ",") != strings.Join(msgs, ",") {
			t.Errorf("folder %s: source has %d messages\n%v\nhere %d\n%v", name, len(msgs), msgs, len(got), got)
		}
	}
	for name, msgs := range dst {
		if _, ok := src[name]; !ok && len(msgs) > 0 {
			t.Errorf("folder %s: %d messages here, none at the source", name, len(msgs))
		}
	}
}

func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}
