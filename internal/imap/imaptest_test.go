package imap

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// imaptestSummary is imaptest's last-but-two line after a scripted run:
// "71 test groups: 0 failed, 0 skipped due to missing capabilities".
var imaptestSummary = regexp.MustCompile(`(?m)^(\d+) test groups: (\d+) failed, (\d+) skipped`)

// TestImaptestCompliance runs Dovecot's imaptest scripted compliance suite
// (third_party/imaptest, built by scripts/build-imaptest.sh) against a real
// server on loopback. MAILROOM_IMAPTEST names the binary (make test sets
// it); the test groups are the tests directory beside it. Any failed or
// skipped group, or any "Error:" line, fails the test.
func TestImaptestCompliance(t *testing.T) {
	bin := os.Getenv("MAILROOM_IMAPTEST")
	if bin == "" {
		t.Skip("MAILROOM_IMAPTEST is unset (make test builds imaptest into bin/imaptest and sets it)")
	}
	tests := filepath.Join(filepath.Dir(bin), "tests")
	if _, err := os.Stat(tests); err != nil {
		t.Fatalf("imaptest's test groups: %v", err)
	}
	tests = imaptestGroups(t, tests, filepath.Join("testdata", "imaptest"))
	// imaptest logs in with LOGIN on the plaintext port.
	r := newRig(t, testrig.Config(func(c *config.Config) { c.Auth.AllowInsecure = true }))
	r.Account("imaptest@example.test")
	// A second user for the groups that need one (urlauth2: a URLAUTH URL
	// fetched by another user).
	r.Account("imaptest2@example.test")
	host, port, err := net.SplitHostPort(r.Addr("imap"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "host="+host, "port="+port,
		"user=imaptest@example.test", "user2=imaptest2@example.test", "pass="+password, "test="+tests)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput() // exits non-zero when a group fails
	if ctx.Err() != nil {
		t.Fatalf("imaptest timed out; output:\n%s", out)
	}
	m := imaptestSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("imaptest printed no summary (%v); output:\n%s", err, out)
	}
	if string(m[2]) != "0" || string(m[3]) != "0" {
		t.Errorf("imaptest: %s", m[0])
	} else {
		t.Logf("imaptest: %s", m[0])
	}
	for _, f := range imaptestFailures(string(out)) {
		t.Errorf("%s", f)
	}
	// How many base and extension commands ran: the count the peers are
	// compared by (imaptest runs an extension's groups only when its
	// capability is announced).
	for _, l := range imaptestCommandCounts.FindAll(out, -1) {
		t.Logf("imaptest: %s", l)
	}
}

// imaptestCommandCounts matches imaptest's closing lines that count the
// base and extension commands it ran.
var imaptestCommandCounts = regexp.MustCompile(`(?mi)^.*commands.*$`)

// imaptestFailures splits imaptest's output into its reports: each
// "*** Test GROUP command N/M" block and each "Error:" line.
func imaptestFailures(out string) []string {
	var reports []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			reports = append(reports, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "*** Test "):
			flush()
			cur = []string{l}
		case strings.HasPrefix(l, "Error: "):
			flush()
			reports = append(reports, l)
		case cur != nil && strings.HasPrefix(l, " "):
			cur = append(cur, l)
		default:
			flush()
		}
	}
	flush()
	return reports
}

// imaptestUnpassable are groups no server can pass as imaptest ships
// them, with the reason; the suite runs without them.
var imaptestUnpassable = map[string]string{
	// Its first command FETCHes 1:2 in the mailbox imaptest has just
	// created empty (the group has no "messages:" line); and its second
	// connection, without imaptest's user2= setting, logs in as the first
	// user and SELECTs the mailbox while the first connection deletes and
	// recreates it. Its behaviour (an authuser URL fetched by another user,
	// RESETKEY) is TestURLAuthRoundTrip's.
	"urlauth2": "FETCH 1:2 of a mailbox it never fills",
}

// imaptestGroups returns a directory with the test groups of dir (and
// their mbox files) except imaptestUnpassable, and Mailroom's own groups
// from ours, in imaptest's script form, for extensions imaptest ships no
// group for (METADATA).
func imaptestGroups(t *testing.T, dir, ours string) string {
	t.Helper()
	out := t.TempDir()
	for _, from := range []string{dir, ours} {
		entries, err := os.ReadDir(from)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if _, skip := imaptestUnpassable[strings.TrimSuffix(name, ".mbox")]; skip || e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(from, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}
