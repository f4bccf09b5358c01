package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

// `mailroom store copy` takes a SQLite data directory to PostgreSQL and
// back, printing progress and the verification; it refuses a destination
// that holds mail, a directory a server runs on, and a bad command line.
func TestStoreCopyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword("secret", auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "ann@example.test", cred)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 20000)
	for i, raw := range []string{"Subject: hi\r\n\r\nhello\r\n", big} {
		m, err := st.Stage(ctx, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID, Flags: store.Flags(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	dsn := pgtest.Start(t).NewDatabase(t)
	code, out, errOut := runCmd(t, "store", "copy", "--from", dir, "--to", dsn)
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if code != 0 {
		t.Fatalf("store copy to PostgreSQL: exit %d", code)
	}
	// Two messages, the large one's body a blob (the small one is inline).
	if m := regexp.MustCompile(`(?m)^messages +2 +([0-9a-f]{16}) +([0-9a-f]{16}) +ok`).FindStringSubmatch(out); m == nil || m[1] != m[2] {
		t.Errorf("no line for 2 messages with equal checksums: %q", m)
	}
	for _, want := range []string{`(?m)^bodies +1 .* ok`, `verified in .*: \d+ tables, \d+ rows, 1 bodies`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stdout lacks %s", want)
		}
	}
	if !strings.Contains(errOut, "copy") || !strings.Contains(errOut, "100%") || strings.Contains(errOut, "\r") {
		t.Errorf("progress on a pipe should be plain lines reaching 100%%: %q", errOut)
	}

	// Again into the same database: refused, nothing merged.
	code, _, errOut = runCmd(t, "store", "copy", "--from", dir, "--to", dsn)
	if code != 1 || !strings.Contains(errOut, "destination is not empty") {
		t.Errorf("second copy: exit %d, %q", code, errOut)
	}

	// Back to a new data directory.
	dir2 := filepath.Join(t.TempDir(), "back")
	code, out, errOut = runCmd(t, "store", "copy", "--from", dsn, "--to", dir2)
	if code != 0 || !strings.Contains(out, "verified in") {
		t.Fatalf("store copy back: exit %d\n%s\n%s", code, out, errOut)
	}
	back, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := back.MessageList(ctx, inbox.ID)
	back.Close()
	if err != nil || len(msgs) != 2 || msgs[1].Flags != 1 {
		t.Errorf("messages after the round trip: %+v, %v", msgs, err)
	}

	// store verify compares the two again, and finds a change.
	code, out, errOut = runCmd(t, "store", "verify", "--from", dir, "--to", dir2)
	if code != 0 || !strings.Contains(out, "verified in") || strings.Contains(out, "copied") {
		t.Errorf("store verify: exit %d\n%s\n%s", code, out, errOut)
	}
	back, err = sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1}, Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	back.Close()
	code, out, errOut = runCmd(t, "store", "verify", "--from", dsn, "--to", dir2)
	if code != 1 || !strings.Contains(out, "VERIFICATION FAILED") || !strings.Contains(errOut, "table messages: 2 rows each, but their contents differ") {
		t.Errorf("store verify after a change: exit %d\n%s\n%s", code, out, errOut)
	}

	// A directory a server runs on is refused.
	f, err := os.OpenFile(filepath.Join(dir, "serve.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd(t, "store", "copy", "--from", dir, "--to", filepath.Join(t.TempDir(), "x"))
	if code != 1 || !strings.Contains(errOut, "a mailroom serve is running on") {
		t.Errorf("copy from a served directory: exit %d, %q", code, errOut)
	}

	for _, args := range [][]string{
		{"store"},
		{"store", "copy", "--from", dir},
		{"store", "copy", "--from", dir, "--to", dir},
		{"store", "move", "--from", dir, "--to", dsn},
	} {
		if code, _, errOut := runCmd(t, args...); code != 2 {
			t.Errorf("%s: exit %d, %q, want a usage error", strings.Join(args, " "), code, errOut)
		}
	}
	if code, _, errOut := runCmd(t, "store", "copy", "--from", filepath.Join(dir, "nothing"), "--to", dir2); code != 1 || !strings.Contains(errOut, "no data directory") {
		t.Errorf("copy from nowhere: exit %d, %q", code, errOut)
	}
}
