package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("session", "proto", "imap", "remote", "127.0.0.1:5000")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("one JSON line expected, got %q: %v", buf.String(), err)
	}
	if rec["proto"] != "imap" || rec["msg"] != "session" {
		t.Fatalf("record %v", rec)
	}
	buf.Reset()
	l, _ = New(&buf, "debug", "text")
	l.Debug("shown", "k", "v")
	if !strings.Contains(buf.String(), "k=v") {
		t.Fatalf("text output %q", buf.String())
	}
	if _, err := New(&buf, "loud", "text"); err == nil {
		t.Fatal("bad level accepted")
	}
	if _, err := New(&buf, "info", "xml"); err == nil {
		t.Fatal("bad format accepted")
	}
}
