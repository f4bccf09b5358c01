package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runHelp runs the real run() with args and no configuration file, as a
// user asking for help has none.
func runHelp(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

// TestEveryCommandHelp asks every command and group of the usage table for
// its usage, with each spelling of the flag: a command added to the table
// is covered here at once, and one added to a dispatcher but not to the
// table answers "unknown command" to --help, which fails here as soon as
// it is listed.
func TestEveryCommandHelp(t *testing.T) {
	paths := map[string]bool{}
	for _, c := range commands {
		words := strings.Fields(c.path)
		for i := range words {
			paths[strings.Join(words[:i+1], " ")] = true
		}
	}
	for path := range paths {
		for _, h := range []string{"--help", "-help", "-h"} {
			args := append(strings.Fields(path), h)
			code, out, errs := runHelp(args...)
			if code != 0 || errs != "" {
				t.Errorf("mailroom %s %s: exit %d, stderr %q", path, h, code, errs)
				continue
			}
			if !strings.Contains(out, "mailroom "+path) && !strings.Contains(out, "  "+path+" ") {
				t.Errorf("mailroom %s %s: output does not name the command:\n%s", path, h, out)
			}
			if c, ok := lookupCommand(path); ok && !c.noFlags && !strings.Contains(out, "flags:") {
				t.Errorf("mailroom %s %s: no flags listed:\n%s", path, h, out)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}} {
		code, out, _ := runHelp(args...)
		if code != 0 || out != usage {
			t.Errorf("mailroom %s: exit %d, output %q", args[0], code, out)
		}
	}
	// Every command of the table is in the full usage.
	for _, c := range commands {
		if !strings.Contains(usage, "  "+strings.TrimSpace(c.path+" "+c.args)) {
			t.Errorf("usage lacks %q", c.path)
		}
	}
}

func TestUnknownFlagShowsUsage(t *testing.T) {
	code, out, errs := runHelp("user", "add", "--bogus")
	if code != 2 || out != "" || !strings.Contains(errs, "flag provided but not defined: -bogus") ||
		!strings.Contains(errs, "usage: mailroom user add EMAIL") || !strings.Contains(errs, "-password-stdin") {
		t.Fatalf("unknown flag: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestHelpDoesNotRun: -h among a command's complete arguments shows the
// usage and does nothing else.
func TestHelpDoesNotRun(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	for _, args := range [][]string{
		{"user", "add", "new@example.test", "-h"},
		{"user", "add", "-h", "new@example.test", "--password-stdin"},
		{"domain", "add", "other.test", "--help"},
	} {
		code, out, errs := e.run("secret\n", args...)
		if code != 0 || !strings.Contains(out, "usage: mailroom "+args[0]+" add") {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if out := e.ok("", "user", "list"); strings.Contains(out, "new@example.test") {
		t.Fatalf("user add -h created the account: %q", out)
	}
	if out := e.ok("", "domain", "list"); out != "example.test\n" {
		t.Fatalf("domain add --help added the domain: %q", out)
	}
}
