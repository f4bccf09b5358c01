package main

import (
	"encoding/json"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
)

// "mailroom bench feed" against an in-process Mailroom: the JSON report
// counts every delivery, none missed; without addresses it is a usage error.
func TestBenchFeed(t *testing.T) {
	if code, _, errs := benchRun("feed", "--addr", "127.0.0.1:1"); code != 2 || !strings.Contains(errs, "--idle-addr") {
		t.Errorf("bench feed without --idle-addr: exit %d stderr %q", code, errs)
	}
	r := testrig.Start(t, testrig.Factories{"submission": smtp.Factory(smtp.Submission), "imap": imap.Factory()},
		testrig.Listen("submission", "imap"), testrig.Config(func(c *config.Config) { c.Auth.AllowInsecure = true }))
	r.Account("user1@example.test")
	code, out, errs := benchRun("feed", "--idle-addr", r.Addr("imap"), "--addr", r.Addr("submission"), "--auth",
		"--password", testrig.Password, "--count", "10", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var rep struct {
		Count, Missed int
		AfterDot      struct {
			P99 int64 `json:"p99_ns"`
		} `json:"after_dot"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Count != 10 || rep.Missed != 0 || rep.AfterDot.P99 <= 0 {
		t.Fatalf("report: %s", out)
	}
}
