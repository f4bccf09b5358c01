package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/imap"
	"mailroom/internal/testrig"
)

// `mailroom migrate` copies an account from another server (a Mailroom
// started by the test), prints the summary, keeps its state in
// data_dir/import, copies nothing the second time, and --verify agrees.
// Bad arguments fail with the usage; a password in the URL is refused.
func TestMigrateCommand(t *testing.T) {
	src := testrig.Start(t, testrig.Factories{"imap": imap.Factory()}, testrig.Listen("imaps"))
	acct := src.Account("old@example.test")
	src.Deliver(acct, "From: a@example.org\r\nSubject: one\r\n\r\nbody\r\n")
	src.Deliver(acct, "From: b@example.org\r\nSubject: two\r\n\r\nbody\r\n")
	from := "imaps://old%40example.test@" + src.Addr("imaps")

	e := newEnv(t)
	if code, _, errs := e.run("", "domain", "add", "example.test"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := e.run("pw-123456\n", "user", "add", "ann@example.test", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := e.run(testrig.Password+"\n", "migrate", "ann@example.test", "--from", from, "--password-stdin", "--insecure-tls", "--connections", "2")
	if code != 0 || !strings.Contains(out, "copied 2 messages") || errs != "" {
		t.Fatalf("migrate: %d %q %q", code, out, errs)
	}
	if states, _ := filepath.Glob(filepath.Join(e.dir, "data", "import", "migrate-*", "state.json")); len(states) != 1 {
		t.Errorf("state files %v", states)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(testrig.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = e.run("", "migrate", "ann@example.test", "--from", from, "--password-file", pwFile, "--insecure-tls")
	if code != 0 || !strings.Contains(out, "copied 0 messages") {
		t.Errorf("second run: %d %q %q", code, out, errs)
	}
	code, out, errs = e.run("", "migrate", "ann@example.test", "--from", from, "--password-file", pwFile, "--insecure-tls", "--verify")
	if code != 0 || !strings.Contains(out, "OK       INBOX: 2 at the source, 2 here") || !strings.Contains(out, "all 6 folders match") {
		t.Errorf("verify: %d %q %q", code, out, errs)
	}
	// A message more at the source: --verify fails until it is copied.
	src.Deliver(acct, "From: c@example.org\r\nSubject: three\r\n\r\nbody\r\n")
	code, out, errs = e.run("", "migrate", "ann@example.test", "--from", from, "--password-file", pwFile, "--insecure-tls", "--verify")
	if code != 1 || !strings.Contains(out, "DIFFERENT INBOX: 3 at the source, 2 here (1 missing here)") || !strings.Contains(errs, "1 of 6 folders differ") {
		t.Errorf("verify with a message missing: %d %q %q", code, out, errs)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "ann@example.test"}, "usage"},
		{[]string{"migrate", "ann@example.test", "--from", "imaps://u:pw@h"}, "--password-stdin or --password-file"},
		{[]string{"migrate", "ann@example.test", "--from", "pop3://u@h"}, "scheme"},
		{[]string{"migrate", "ann@example.test", "--from", from, "--connections", "0"}, "--connections"},
		{[]string{"migrate", "ann@example.test", "--from", from, "--password-stdin", "--password-file", pwFile}, "not both"},
	} {
		if code, _, errs := e.run("", c.args...); code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q, want usage error about %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := e.run("wrong\n", "migrate", "ann@example.test", "--from", from, "--password-stdin", "--insecure-tls"); code != 1 || !strings.Contains(errs, "log in to") {
		t.Errorf("wrong password: %d %q", code, errs)
	}
}
