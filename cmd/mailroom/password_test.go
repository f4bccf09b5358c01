package main

import (
	"strings"
	"testing"
)

// A password read as a line is bounded: standard input without a newline
// is not read whole into memory, and what is read is only its first 4 KiB.
func TestPasswordLineBounded(t *testing.T) {
	huge := strings.NewReader(strings.Repeat("x", 1<<20))
	pw, err := passwordLine(huge, "empty")
	if err != nil || len(pw) != maxPasswordLine {
		t.Fatalf("read %d bytes, %v", len(pw), err)
	}
	if huge.Len() != 1<<20-maxPasswordLine {
		t.Errorf("read %d bytes of standard input, want %d", 1<<20-huge.Len(), maxPasswordLine)
	}
	if _, err := passwordLine(strings.NewReader("\n"), "empty"); err == nil || err.Error() != "empty" {
		t.Errorf("empty line: %v", err)
	}
	if pw, err := passwordLine(strings.NewReader("secret\r\nmore\n"), "empty"); err != nil || pw != "secret" {
		t.Errorf("first line: %q %v", pw, err)
	}
}
