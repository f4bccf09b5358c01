package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// junk train seeds the base model (or an account's) from files, one
// message each, and junk stats shows what it learned.
func TestJunkCommands(t *testing.T) {
	e := newEnv(t)
	spamDir, hamDir := filepath.Join(e.dir, "spam"), filepath.Join(e.dir, "ham", "cur")
	for _, d := range []string{spamDir, hamDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		os.WriteFile(filepath.Join(spamDir, fmt.Sprint(i)), fmt.Appendf(nil, "Subject: cheap pills %d\r\n\r\ncasino lottery\r\n", i), 0o600)
		os.WriteFile(filepath.Join(hamDir, fmt.Sprint(i)), fmt.Appendf(nil, "Subject: meeting %d\r\n\r\nagenda minutes\r\n", i), 0o600)
	}
	if out := e.ok("", "junk", "stats"); out != "base model: 0 spam and 0 ham messages learned, 0 tokens\n" {
		t.Fatalf("junk stats: %q", out)
	}
	out := e.ok("", "junk", "train", "--spam", spamDir)
	if want := "learned 3 messages as spam\nbase model: 3 spam and 0 ham messages learned, "; len(out) < len(want) || out[:len(want)] != want {
		t.Fatalf("junk train --spam: %q", out)
	}
	e.ok("", "junk", "train", "--ham", filepath.Join(e.dir, "ham"))
	if out := e.ok("", "junk", "stats"); out[:len("base model: 3 spam and 3 ham")] != "base model: 3 spam and 3 ham" {
		t.Fatalf("junk stats after training: %q", out)
	}
	e.ok("", "domain", "add", "example.test")
	e.ok("correct horse\n", "user", "add", "ann@example.test", "--password-stdin")
	e.ok("", "junk", "train", "--ham", "--account", "ann@example.test", spamDir)
	if out := e.ok("", "junk", "stats", "--account", "ann@example.test"); out[:len("account model: 0 spam and 3 ham")] != "account model: 0 spam and 3 ham" {
		t.Fatalf("junk stats --account: %q", out)
	}
	e.fails("usage: mailroom junk train --spam|--ham", "junk", "train", spamDir)
	e.fails("usage: mailroom junk train --spam|--ham", "junk", "train", "--spam", "--ham", spamDir)
	e.fails("no such file", "junk", "train", "--spam", filepath.Join(e.dir, "nowhere"))
	e.fails("account nobody@example.test", "junk", "stats", "--account", "nobody@example.test")
}
