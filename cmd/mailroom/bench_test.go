package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

// benchRun runs "mailroom bench ARGS…" in-process.
func benchRun(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"bench"}, args...), &stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"lmtp"}, {"smtp"}, {"smtp", "--users", "u%d@example.test"}, {"smtp", "--addr", "127.0.0.1:1", "extra"},
		{"smtp", "--addr", "127.0.0.1:1", "--bogus"}, {"smtp", "--addr", "127.0.0.1:1", "--size", "100", "--mbox", "x.mbox"},
		{"smtp", "--addr", "127.0.0.1:1", "--cycles", "x"}, {"jmap"}, {"jmap", "--addr", "127.0.0.1:1", "extra"},
	} {
		code, _, errs := benchRun(args...)
		if code != 2 || !strings.HasPrefix(errs, "mailroom: ") {
			t.Errorf("mailroom bench %v: exit %d stderr %q, want exit 2 and a message", args, code, errs)
		}
	}
	// A mistake only the load generator sees is no usage error.
	if code, _, errs := benchRun("smtp", "--addr", "127.0.0.1:1", "--auth"); code != 1 || !strings.Contains(errs, "TLS") {
		t.Errorf("--auth without TLS: exit %d stderr %q", code, errs)
	}
}

// TestBenchSMTP runs "mailroom bench smtp --cycles … --verify-imap …"
// against an in-process Mailroom: all the messages asked for, not as many
// as fit in the default --duration, each found in its INBOX.
func TestBenchSMTP(t *testing.T) {
	r := testrig.Start(t, testrig.Factories{"smtp": smtp.Factory(smtp.Inbound), "imap": imap.Factory()},
		testrig.Listen("smtp", "imaps"), testrig.Config(func(c *config.Config) { c.Hostname = "mx.example.test" }))
	for u := 1; u <= 2; u++ {
		r.Account(fmt.Sprintf("user%d@example.test", u))
	}

	code, out, errs := benchRun("smtp", "--addr", r.Addr("smtp"), "--users", "user%d@example.test", "--clients", "2",
		"--cycles", "25", "--size", "2000", "--reuse", "--verify-imap", r.Addr("imaps"), "--insecure", "--password", testrig.Password, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var rep struct {
		Protocol string
		Cycles   int
		Errors   int
		Commands map[string]struct{ Count int }
		Verify   struct{ Recipients, Accepted, Verified, Missing int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Protocol != "smtp" || rep.Cycles != 25 || rep.Errors != 0 || rep.Commands["DOT"].Count != 25 ||
		rep.Verify.Recipients != 2 || rep.Verify.Accepted != 25 || rep.Verify.Verified != 25 || rep.Verify.Missing != 0 {
		t.Fatalf("report: %s", out)
	}

	// The text report, with a message that cannot be delivered.
	code, out, _ = benchRun("smtp", "--addr", r.Addr("smtp"), "--users", "user%d@example.test", "--count", "3", "--clients", "1", "--cycles", "3")
	if code != 0 || !strings.Contains(out, "smtp: 1 clients, ") || !strings.Contains(out, ", 2 cycles (") ||
		!strings.Contains(out, "error samples:\n  RCPT: 550 ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestBenchJMAP runs "mailroom bench jmap" with a push probe against an
// in-process Mailroom and reads its JSON report.
func TestBenchJMAP(t *testing.T) {
	r := testrig.Start(t, testrig.Factories{"http": web.Factory(), "smtp": smtp.Factory(smtp.Inbound)},
		testrig.Listen("http", "smtp"), testrig.Config(func(c *config.Config) { c.Hostname = "mx.example.test" }))
	for u := 1; u <= 2; u++ {
		acct := r.Account(fmt.Sprintf("user%d@example.test", u))
		r.Deliver(acct, "From: bob@example.org\r\nTo: user1@example.test\r\nSubject: hi\r\n\r\nhello\r\n")
	}
	code, out, errs := benchRun("jmap", "--addr", r.Addr("http"), "--users", "user%d@example.test", "--count", "1",
		"--clients", "1", "--duration", "1s", "--password", testrig.Password, "--smtp", r.Addr("smtp"), "--push-gap", "100ms", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var rep struct {
		Protocol string
		Commands map[string]struct{ Count, Errors int }
		Push     struct{ Probes, Deliveries, Missed int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Protocol != "jmap" || rep.Commands["Email/query+get"].Count == 0 || rep.Commands["Email/query+get"].Errors != 0 ||
		rep.Commands["Email/set"].Errors != 0 || rep.Push.Probes != 1 || rep.Push.Deliveries == 0 || rep.Push.Missed != 0 {
		t.Fatalf("report: %s", out)
	}
	if code, _, errs := benchRun("jmap", "--addr", r.Addr("http"), "--starttls"); code != 2 || !strings.Contains(errs, "starttls") {
		t.Errorf("--starttls: exit %d, %q", code, errs)
	}
}
