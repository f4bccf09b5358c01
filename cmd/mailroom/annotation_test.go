package main

import (
	"strings"
	"testing"
)

// TestAnnotationCommands sets, lists and deletes the server's shared
// annotations, which IMAP users read but cannot set.
func TestAnnotationCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "annotation", "set", "/shared/comment", "Maintenance tonight at 22:00")
	e.ok("", "annotation", "set", "/Shared/Admin", "mailto:postmaster@example.test")
	if out := e.ok("", "annotation", "list"); out != "/shared/admin\t\"mailto:postmaster@example.test\"\n/shared/comment\t\"Maintenance tonight at 22:00\"\n" {
		t.Fatalf("annotation list: %q", out)
	}
	e.ok("", "annotation", "del", "/shared/comment")
	if out := e.ok("", "annotation", "list"); strings.Contains(out, "comment") {
		t.Fatalf("after del: %q", out)
	}
	e.fails(`not a shared entry`, "annotation", "set", "/private/comment", "x")
	e.fails(`invalid argument: annotation name "/shared/a\*"`, "annotation", "set", "/shared/a*", "x")
	e.fails(`at most 65536 octets`, "annotation", "set", "/shared/big", strings.Repeat("x", 65537))
	e.fails(`unknown command "annotation get"`, "annotation", "get", "/shared/comment")
	e.fails(`usage`, "annotation", "set", "/shared/comment")
}
