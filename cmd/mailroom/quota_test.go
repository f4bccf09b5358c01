package main

import (
	"strings"
	"testing"
)

func TestQuotaCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("secret-1\n", "user", "add", "ann@example.test", "--password-stdin")

	out := e.ok("", "quota", "show", "ann@example.test")
	for _, want := range []string{"account ann@example.test", "storage   0 B (0 octets) of unlimited   own setting: inherit", "messages  0 of unlimited   own setting: inherit"} {
		if !strings.Contains(out, want) {
			t.Fatalf("quota show lacks %q:\n%s", want, out)
		}
	}
	if out := e.ok("", "quota", "set", "--default", "--storage", "10GB"); out != "server default: storage 10 GiB, messages unlimited\n" {
		t.Fatalf("quota set --default: %q", out)
	}
	e.ok("", "quota", "set", "example.test", "--messages", "1000")
	out = e.ok("", "quota", "show", "ann@example.test")
	if !strings.Contains(out, "of 10 GiB") || !strings.Contains(out, "0 of 1000 (0%)") {
		t.Fatalf("inherited limits not shown:\n%s", out)
	}
	if out := e.ok("", "quota", "show", "example.test"); !strings.Contains(out, "storage   limit inherit") || !strings.Contains(out, "messages  limit 1000") {
		t.Fatalf("quota show domain:\n%s", out)
	}
	e.ok("", "quota", "set", "ann@example.test", "--storage", "1.5M", "--messages", "unlimited")
	out = e.ok("", "quota", "show", "ann@example.test")
	if !strings.Contains(out, "of 1.5 MiB") || !strings.Contains(out, "own setting: 1.5 MiB") || !strings.Contains(out, "0 of unlimited   own setting: unlimited") {
		t.Fatalf("own limits not shown:\n%s", out)
	}
	// Only what is given changes.
	e.ok("", "quota", "set", "ann@example.test", "--messages", "0")
	if out := e.ok("", "quota", "show", "ann@example.test"); !strings.Contains(out, "own setting: 1.5 MiB") || !strings.Contains(out, "own setting: 0") {
		t.Fatalf("partial set:\n%s", out)
	}
	e.ok("", "quota", "set", "ann@example.test", "--storage", "inherit")
	if out := e.ok("", "quota", "show", "--default"); !strings.Contains(out, "storage   limit 10 GiB") {
		t.Fatalf("quota show --default:\n%s", out)
	}

	e.fails(`cannot inherit`, "quota", "set", "--default", "--storage", "inherit")
	e.fails(`a message count has no unit`, "quota", "set", "ann@example.test", "--messages", "5GB")
	e.fails(`negative`, "quota", "set", "ann@example.test", "--storage", "-5")
	e.fails(`not a number`, "quota", "set", "ann@example.test", "--storage", "lots")
	e.fails(`too large`, "quota", "set", "ann@example.test", "--storage", "99999999PB")
	e.fails(`unknown unit`, "quota", "set", "ann@example.test", "--storage", "5XB")
	e.fails(`needs --storage, --messages or both`, "quota", "set", "ann@example.test")
	e.fails(`not found`, "quota", "show", "ghost@example.test")
	e.fails(`unknown domain`, "quota", "set", "nowhere.test", "--storage", "1G")
	e.fails(`usage: mailroom quota show`, "quota", "show")
	e.fails(`unknown command "quota frob"`, "quota", "frob", "ann@example.test")
}
