package blobtest

import (
	"bytes"
	"io"
	"testing"
)

// The heap watch that Streamed50MB relies on does see a body held in
// memory: without this, a watch that measured nothing would pass every
// store.
func TestHeapWatchSeesABufferedBody(t *testing.T) {
	h := watchHeap()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, newStream(1, BigSize)); err != nil {
		t.Fatal(err)
	}
	g := h.growth()
	if g <= maxGrowth {
		t.Errorf("holding %d MB grew the heap by %d MB by the watch: it cannot tell a buffering store", BigSize>>20, g>>20)
	}
	if buf.Len() != BigSize { // keeps buf alive until after the watch
		t.Fatal(buf.Len())
	}
}

// The streamed body and data() are the same byte sequence, so a store's
// round trip is compared with what was really written.
func TestStreamMatchesData(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100003} {
		got, err := io.ReadAll(io.LimitReader(newStream(9, int64(n)), int64(n)+5))
		if err != nil || !bytes.Equal(got, data(9, n)) {
			t.Errorf("stream of %d bytes differs from data (%v)", n, err)
		}
	}
}
