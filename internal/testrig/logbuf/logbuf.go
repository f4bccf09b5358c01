// Package logbuf is a log sink for tests: written by a server's goroutines,
// read by the test's. It imports nothing of the project, so the tests of
// packages below internal/testrig (auth, sasl, tlsconf, listener, queue)
// can use it without an import cycle. Import it only from _test.go files.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer collects what concurrent writers write.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
