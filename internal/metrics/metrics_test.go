package metrics_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gosmtp "github.com/emersion/go-smtp"

	imapserver "mailroom/internal/imap"
	"mailroom/internal/pop3"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

// start runs a server with the metrics listener and the protocols the
// tests drive.
func start(t *testing.T, opts ...testrig.Option) *testrig.Rig {
	t.Helper()
	opts = append([]testrig.Option{testrig.Listen("smtp", "imaps", "pop3s", "http", "metrics")}, opts...)
	return testrig.Start(t, testrig.Factories{
		"smtp": smtp.Factory(smtp.Inbound), "submission": smtp.Factory(smtp.Submission), "imap": imapserver.Factory(), "pop3": pop3.Factory(), "http": web.Factory(),
	}, opts...)
}

// message is larger than the mailbox service's cache of small bodies, so
// that FETCH and RETR read it from the store.
var message = "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: metered\r\n" +
	"Message-ID: <metered@example.org>\r\n\r\n" + strings.Repeat("Hello, counted world. 0123456789 abcdefghijklmnopqrstuvwxyz.\r\n", 1500)

// TestMetricsCountWhatWasDone drives the server with real clients (SMTP,
// IMAP with a failed login, POP3, the web) and checks that the counters
// moved by exactly what was done, scraping with net/http and with curl.
func TestMetricsCountWhatWasDone(t *testing.T) {
	r := start(t)
	r.Account("ann@example.test")
	before := fetch(t, r)

	// IMAP: a session selects INBOX first, so that the delivery below
	// reaches it through the change feed.
	c, err := imapclient.DialTLS(r.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("ann@example.test", testrig.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// SMTP: one message accepted, one recipient refused as unknown.
	s, err := gosmtp.Dial(r.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.Mail("bob@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Rcpt("nobody@example.test", nil); err == nil {
		t.Fatal("RCPT to an unknown user accepted")
	}
	if err := s.Rcpt("ann@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, message)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Quit(); err != nil {
		t.Fatal(err)
	}

	// IMAP: the new message arrives; fetch it whole.
	deadline := time.Now().Add(10 * time.Second)
	noops := 0.0
	for c.Mailbox().NumMessages < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the delivered message did not reach the IMAP session")
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		noops++
		time.Sleep(20 * time.Millisecond)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v (%d messages)", err, len(msgs))
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	// IMAP: a failed login on a second connection.
	c2, err := imapclient.DialTLS(r.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Login("ann@example.test", "wrong password").Wait(); err == nil {
		t.Fatal("a wrong password logged in")
	}
	c2.Close()

	// POP3: a session that reads the message.
	pop3Session(t, r.Addr("pop3s"))

	// The web: one page (the login form) from one connection.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + r.Addr("http") + "/login")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// Sessions end asynchronously after the clients hang up.
	var after scrape
	deadline = time.Now().Add(10 * time.Second)
	for {
		after = fetch(t, r)
		open := after.value("mailroom_sessions_open")
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions still open after the clients left: %v", open)
		}
		time.Sleep(20 * time.Millisecond)
	}
	viaCurl := curl(t, r)

	delta := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailroom_sessions_total", []string{"proto", "smtp"}, 1},
		{"mailroom_sessions_total", []string{"proto", "imap"}, 2},
		{"mailroom_sessions_total", []string{"proto", "pop3"}, 1},
		{"mailroom_sessions_total", []string{"proto", "web"}, 1},
		{"mailroom_logins_total", []string{"proto", "imap", "result", "ok"}, 1},
		{"mailroom_logins_total", []string{"proto", "imap", "result", "failed"}, 1},
		{"mailroom_logins_total", []string{"proto", "pop3", "result", "ok"}, 1},
		{"mailroom_logins_total", []string{"result", "throttled"}, 0},
		{"mailroom_deliveries_accepted_total", []string{"proto", "smtp"}, 1},
		{"mailroom_deliveries_rejected_total", []string{"proto", "smtp", "reason", "unknown_user"}, 1},
		{"mailroom_deliveries_rejected_total", nil, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "smtp", "command", "MAIL"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "smtp", "command", "RCPT"}, 2},
		{"mailroom_command_duration_seconds", []string{"proto", "smtp", "command", "DATA"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "imap", "command", "LOGIN"}, 2},
		{"mailroom_command_duration_seconds", []string{"proto", "imap", "command", "SELECT"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "imap", "command", "FETCH"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "imap", "command", "NOOP"}, noops},
		{"mailroom_command_duration_seconds", []string{"proto", "imap", "command", "LOGOUT"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "pop3", "command", "USER"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "pop3", "command", "PASS"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "pop3", "command", "STAT"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "pop3", "command", "RETR"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "pop3", "command", "QUIT"}, 1},
		{"mailroom_command_duration_seconds", []string{"proto", "pop3", "command", "other"}, 0},
		{"mailroom_command_duration_seconds", []string{"proto", "web", "command", "GET /login"}, 1},
		{"mailroom_queue_messages", nil, 0},
		{"mailroom_queue_oldest_age_seconds", nil, 0},
		{"mailroom_panics_recovered_total", nil, 0},
	}
	for _, c := range checks {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
		if got := viaCurl.value(c.name, c.labels...) - before.value(c.name, c.labels...); got != c.want && c.name != "mailroom_queue_oldest_age_seconds" {
			t.Errorf("curl: %s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// What depends on the store's internals moved at least as the work demands.
	size := float64(len(message))
	if got := delta("mailroom_store_body_written_bytes_total"); got < size {
		t.Errorf("body bytes written moved by %v, want at least the message's %v", got, size)
	}
	if got := delta("mailroom_store_body_read_bytes_total"); got < 2*size {
		t.Errorf("body bytes read moved by %v, want at least the message twice (FETCH, RETR): %v", got, 2*size)
	}
	if got := delta("mailroom_store_commit_duration_seconds"); got < 1 {
		t.Errorf("no store commit observed")
	}
	if got, n := delta("mailroom_store_commit_batch_size"), delta("mailroom_store_commit_duration_seconds"); got != n {
		t.Errorf("%v batch sizes for %v commits", got, n)
	}
	if got := delta("mailroom_feed_lag_seconds"); got < 1 {
		t.Errorf("no feed lag observed, though the IMAP session was sent the delivery")
	}
	// The Go runtime and process collectors.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if after[name] == nil {
			t.Errorf("%s not exposed; families: %s", name, after.names())
		}
	}
	// No address, account or mailbox name in any label.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "@") || strings.Contains(l.GetValue(), "INBOX") {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// pop3Session logs in over POP3S, reads message 1 and quits.
func pop3Session(t *testing.T, addr string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, testrig.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	line := func() string {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("POP3: %v", err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	cmd := func(format string, args ...any) string {
		fmt.Fprintf(conn, format+"\r\n", args...)
		l := line()
		if !strings.HasPrefix(l, "+OK") {
			t.Fatalf("POP3 %s: %s", strings.Fields(format)[0], l)
		}
		return l
	}
	if l := line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("POP3 greeting: %s", l)
	}
	cmd("USER ann@example.test")
	cmd("PASS %s", testrig.Password)
	if l := cmd("STAT"); !strings.HasPrefix(l, "+OK 1 ") {
		t.Fatalf("STAT: %s", l)
	}
	cmd("RETR 1")
	for line() != "." {
	}
	cmd("QUIT")
}

// TestMetricsDeliveryPolicy: DMARC p=reject refuses a message at DATA
// (reason policy); p=quarantine accepts it into Junk (counted as junk,
// reason quarantine).
func TestMetricsDeliveryPolicy(t *testing.T) {
	r := start(t)
	r.Account("ann@example.test")
	r.DNS.Add(t,
		`remote.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.bank.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.shop.example. TXT "v=DMARC1; p=quarantine"`,
	)
	before := fetch(t, r)
	c, err := gosmtp.Dial(r.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	send := func(from string) error {
		body := "From: " + from + "\r\nTo: ann@example.test\r\nSubject: policy\r\n\r\nHello.\r\n"
		return c.SendMail("someone@remote.example", []string{"ann@example.test"}, strings.NewReader(body))
	}
	if err := send("ceo@bank.example"); err == nil {
		t.Fatal("a forged From of a p=reject domain was accepted")
	}
	c.Reset()
	if err := send("deals@shop.example"); err != nil {
		t.Fatal(err)
	}
	if junk := r.Bodies("ann@example.test", "Junk"); len(junk) != 1 {
		t.Fatalf("Junk holds %d messages", len(junk))
	}
	after := fetch(t, r)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailroom_deliveries_rejected_total", []string{"proto", "smtp", "reason", "policy"}, 1},
		{"mailroom_deliveries_rejected_total", nil, 1},
		{"mailroom_deliveries_accepted_total", []string{"proto", "smtp"}, 1},
		{"mailroom_deliveries_junk_total", []string{"reason", "quarantine"}, 1},
		{"mailroom_deliveries_junk_total", nil, 1},
	} {
		if got := after.value(c.name, c.labels...) - before.value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
