package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/sieve"
)

func TestSieveCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("secret-1\n", "user", "add", "ann@example.test", "--password-stdin")
	good := filepath.Join(e.dir, "vacation.sieve")
	script := "require \"vacation\";\nvacation :days 3 \"Away.\";\n"
	os.WriteFile(good, []byte(script), 0o600)
	bad := filepath.Join(e.dir, "bad.sieve")
	os.WriteFile(bad, []byte("keep;\nfrobnicate;\n"), 0o600)

	if out := e.ok("", "sieve", "check", good); out != "ok\n" {
		t.Fatalf("sieve check: %q", out)
	}
	// A syntax error: FILE:LINE:COLUMN: message, exit 1, nothing stored.
	var se *sieve.Error
	if err := sieve.Check("keep;\nfrobnicate;\n"); err == nil || !asSieveError(err, &se) {
		t.Fatalf("sieve.Check: %v", err)
	}
	want := bad + ": " + se.Msg + "\n"
	if se.Line > 0 {
		want = bad + ":" + itoa(se.Line) + ":" + itoa(se.Column) + ": " + se.Msg + "\n"
	}
	for _, args := range [][]string{{"sieve", "check", bad}, {"sieve", "put", "ann@example.test", "bad", bad}} {
		code, out, errs := e.run("", args...)
		if code != 1 || out != "" || errs != want {
			t.Fatalf("%s: exit %d, out %q, err %q; want 1 and %q", strings.Join(args, " "), code, out, errs, want)
		}
	}

	if out := e.ok("", "sieve", "list", "ann@example.test"); out != "ann@example.test has no Sieve scripts\n" {
		t.Fatalf("sieve list, none: %q", out)
	}
	e.ok("", "sieve", "put", "ann@example.test", "vacation", good)
	e.ok("keep;\n", "sieve", "put", "ann@example.test", "plain", "-")
	e.ok("", "sieve", "activate", "ann@example.test", "vacation")
	if out := e.ok("", "sieve", "list", "ann@example.test"); out != "plain\nvacation  (active)\n" {
		t.Fatalf("sieve list: %q", out)
	}
	if out := e.ok("", "sieve", "show", "ann@example.test", "vacation"); out != script {
		t.Fatalf("sieve show: %q", out)
	}
	e.fails(`"vacation" is the active script of ann@example\.test: .*--none`, "sieve", "delete", "ann@example.test", "vacation")
	e.ok("", "sieve", "activate", "ann@example.test", "--none")
	e.ok("", "sieve", "delete", "ann@example.test", "vacation")
	if out := e.ok("", "sieve", "list", "ann@example.test"); out != "plain\n" {
		t.Fatalf("sieve list after delete: %q", out)
	}

	e.fails(`ann@example\.test has no Sieve script "vacation"`, "sieve", "show", "ann@example.test", "vacation")
	e.fails(`has no Sieve script "nope"`, "sieve", "activate", "ann@example.test", "nope")
	e.fails(`account ghost@example\.test: not found`, "sieve", "list", "ghost@example.test")
	e.fails(`no such file`, "sieve", "check", filepath.Join(e.dir, "missing"))
	e.fails(`usage:.*sieve activate EMAIL NAME\|--none`, "sieve", "activate", "ann@example.test")
	e.fails(`usage:.*sieve activate`, "sieve", "activate", "ann@example.test", "plain", "--none")
	e.fails(`--none goes with sieve activate only`, "sieve", "delete", "ann@example.test", "plain", "--none")
	e.fails(`unknown command "sieve frob"`, "sieve", "frob")

	// --help, for all and for each.
	if out := e.ok("", "sieve", "--help"); !strings.Contains(out, "sieve check FILE") || !strings.Contains(out, "sieve delete EMAIL NAME") {
		t.Fatalf("sieve --help: %q", out)
	}
	for _, sub := range []string{"check", "list", "show", "put", "activate", "delete"} {
		out := e.ok("", "sieve", sub, "--help")
		if !strings.Contains(out, "mailroom sieve "+sub+" ") || strings.Count(out, "mailroom sieve") != 1 {
			t.Fatalf("sieve %s --help: %q", sub, out)
		}
	}
}

func asSieveError(err error, se **sieve.Error) bool { return errors.As(err, se) }

func itoa(n int) string { return strconv.Itoa(n) }
