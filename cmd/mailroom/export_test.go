package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `mailroom export` writes an account's folders out, as a Maildir tree or
// an mbox tree, and `mailroom import` reads either back into another
// account with the same folders and counts. Bad arguments fail.
func TestExportCommand(t *testing.T) {
	e := newEnv(t)
	if code, _, errs := e.run("", "domain", "add", "example.test"); code != 0 {
		t.Fatal(errs)
	}
	for _, u := range []string{"ann", "bob", "carl"} {
		if code, _, errs := e.run("pw-123456\n", "user", "add", u+"@example.test", "--password-stdin"); code != 0 {
			t.Fatal(errs)
		}
	}
	mbox := filepath.Join(t.TempDir(), "old.mbox")
	text := "From a@example.org Mon Jan  3 20:05:38 2022\nSubject: one\nStatus: RO\n\nbody\n\n" +
		"From b@example.org Mon Jan  3 20:06:38 2022\nSubject: two\nX-Keywords: $Label1\n\n>From me\n\n"
	if err := os.WriteFile(mbox, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := e.run("", "import", "ann@example.test", mbox, "--folder", "Old/2022"); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	// The same mail in INBOX too (a second file: the import's state is per file).
	mbox2 := filepath.Join(t.TempDir(), "inbox.mbox")
	if err := os.WriteFile(mbox2, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := e.run("", "import", "ann@example.test", mbox2); code != 0 {
		t.Fatalf("import: %s", errs)
	}

	md := filepath.Join(t.TempDir(), "Maildir")
	code, out, errs := e.run("", "export", "ann@example.test", md)
	if code != 0 || !strings.Contains(out, "exported 4 messages") || !strings.Contains(out, "Old/2022") {
		t.Fatalf("export: %d %q %q", code, out, errs)
	}
	if names, _ := filepath.Glob(filepath.Join(md, ".Old.2022", "cur", "*:2,*")); len(names) != 2 {
		t.Errorf("Maildir .Old.2022: %v", names)
	}
	mb := filepath.Join(t.TempDir(), "mbox")
	if code, out, errs := e.run("", "export", "--format", "mbox", "--folder", "Old/2022", "ann@example.test", mb); code != 0 || !strings.Contains(out, "exported 2 messages") {
		t.Fatalf("export mbox: %d %q %q", code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(mb, "Old", "2022.mbox"))
	if err != nil || !strings.Contains(string(b), "\n>From me\n") || !strings.Contains(string(b), "X-Keywords: $Label1\n") || !strings.Contains(string(b), "Status: RO\n") {
		t.Errorf("mbox file: %v\n%s", err, b)
	}

	if code, out, errs := e.run("", "import", "bob@example.test", md); code != 0 || !strings.Contains(out, "imported 4 messages") {
		t.Fatalf("import the Maildir: %d %q %q", code, out, errs)
	}
	if code, out, errs := e.run("", "import", "carl@example.test", mb); code != 0 || !strings.Contains(out, "imported 2 messages") || !strings.Contains(out, "Old/2022") {
		t.Fatalf("import the mbox tree: %d %q %q", code, out, errs)
	}
	for _, u := range []string{"ann", "bob"} {
		_, out, _ := e.run("", "mailbox", "list", u+"@example.test")
		if !strings.Contains(out, "Old/2022") {
			t.Errorf("%s: %q", u, out)
		}
	}

	if code, _, errs := e.run("", "export", "ann@example.test", md); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("into a non-empty directory: %d %q", code, errs)
	}
	if code, _, errs := e.run("", "export", "--format", "pst", "ann@example.test", t.TempDir()); code != 2 || !strings.Contains(errs, "pst") {
		t.Errorf("unknown format: %d %q", code, errs)
	}
	if code, _, errs := e.run("", "export", "ann@example.test"); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("missing DIR: %d %q", code, errs)
	}
}
