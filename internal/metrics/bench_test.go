package metrics

import (
	"testing"
	"time"
)

// BenchmarkCommand is the cost a command pays for its metrics: one map
// read and one histogram observation (the clock reads around it are the
// caller's).
func BenchmarkCommand(b *testing.B) {
	p := New().Protocol("imap", []string{"NOOP", "FETCH", "SELECT", "STORE", "SEARCH", "APPEND", "LOGIN"})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Command("FETCH", 300*time.Microsecond)
		}
	})
}

// BenchmarkCommandTimed adds the two clock reads a protocol makes.
func BenchmarkCommandTimed(b *testing.B) {
	p := New().Protocol("imap", []string{"NOOP", "FETCH"})
	for b.Loop() {
		start := time.Now()
		p.Command("FETCH", time.Since(start))
	}
}

// BenchmarkBodyRead is what each ReadAt of a message body adds.
func BenchmarkBodyRead(b *testing.B) {
	m := New()
	for b.Loop() {
		m.BodyRead(4096)
	}
}
