package panics

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func explode() { panic("kaboom") }

func TestRecoverLogsStackAndCounts(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	var c Counter
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer c.Recover(log, "test task", "id", 7)
		explode()
	}()
	wg.Wait()
	if c.Count() != 1 {
		t.Fatalf("count %d, want 1", c.Count())
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("one JSON record expected, got %q: %v", buf.String(), err)
	}
	if rec["level"] != "ERROR" || rec["msg"] != Msg || rec["in"] != "test task" || rec["panic"] != "kaboom" || rec["id"] != float64(7) {
		t.Fatalf("record %v", rec)
	}
	// The stack is the one that panicked, not only the recovering frame.
	if stack, _ := rec["stack"].(string); !strings.Contains(stack, "panics.explode") {
		t.Fatalf("stack lacks the panicking function:\n%s", stack)
	}
}

func TestNilCounterLogsOnly(t *testing.T) {
	var buf bytes.Buffer
	var c *Counter
	func() {
		defer c.Recover(slog.New(slog.NewTextHandler(&buf, nil)), "x")
		panic("nil counter")
	}()
	if c.Count() != 0 || !strings.Contains(buf.String(), "nil counter") {
		t.Fatalf("count %d, log %q", c.Count(), buf.String())
	}
}

func TestRecoverWithoutPanicDoesNothing(t *testing.T) {
	var buf bytes.Buffer
	var c Counter
	func() {
		defer c.Recover(slog.New(slog.NewTextHandler(&buf, nil)), "x")
	}()
	if c.Count() != 0 || buf.Len() != 0 {
		t.Fatalf("count %d, log %q", c.Count(), buf.String())
	}
}
