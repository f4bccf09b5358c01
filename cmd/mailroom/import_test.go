package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `mailroom import` puts an mbox into a folder, prints the summary, keeps
// its state in data_dir/import, and a second run says there is nothing
// to do; `mailbox list` sees the messages. Bad arguments fail.
func TestImportCommand(t *testing.T) {
	e := newEnv(t)
	if code, _, errs := e.run("", "domain", "add", "example.test"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := e.run("pw-123456\n", "user", "add", "ann@example.test", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	mbox := filepath.Join(t.TempDir(), "old.mbox")
	text := "From a@example.org Mon Jan  3 20:05:38 2022\nSubject: one\nStatus: RO\n\nbody\n\n" +
		"From b@example.org Mon Jan  3 20:06:38 2022\nSubject: two\n\n>From me\n\n"
	if err := os.WriteFile(mbox, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := e.run("", "import", "ann@example.test", mbox, "--folder", "Old/2022")
	if code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	if !strings.Contains(out, "Old/2022") || !strings.Contains(out, "imported 2 messages") || errs != "" {
		t.Errorf("import output %q, stderr %q (no progress when stderr is not a terminal)", out, errs)
	}
	// Indexed for search, as delivered mail is.
	func() {
		st, err := openStore(context.Background(), e.config)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		acct, err := st.Account(context.Background(), "ann@example.test")
		if err != nil {
			t.Fatal(err)
		}
		if u, err := st.UnindexedContents(context.Background(), acct.ID, 0, 10); err != nil || len(u) != 0 {
			t.Errorf("unindexed after the import: %d, %v", len(u), err)
		}
	}()
	states, _ := filepath.Glob(filepath.Join(e.dir, "data", "import", "*.json"))
	if len(states) != 1 {
		t.Errorf("state files %v", states)
	}
	code, out, _ = e.run("", "import", "ann@example.test", mbox, "--folder", "Old/2022")
	if code != 0 || !strings.Contains(out, "already imported, nothing to do") {
		t.Errorf("second import: %d %q", code, out)
	}
	code, out, _ = e.run("", "mailbox", "list", "ann@example.test")
	if code != 0 || !strings.Contains(out, "Old/2022") {
		t.Errorf("mailbox list: %q", out)
	}
	if code, _, errs := e.run("", "import", "ann@example.test"); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("missing path: %d %q", code, errs)
	}
	if code, _, errs := e.run("", "import", "nobody@example.test", mbox); code != 1 || !strings.Contains(errs, "nobody@example.test") {
		t.Errorf("unknown account: %d %q", code, errs)
	}
}
