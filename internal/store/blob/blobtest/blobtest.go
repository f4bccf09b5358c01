// Package blobtest is the conformance suite every blob.Store passes. It is
// imported by tests only.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store/blob"
)

// Sizes are the body sizes round-tripped: empty, one byte, and both sides
// of the chunk and buffer sizes implementations use (4 KiB pages, 32 KiB
// copy buffers, 64 KiB and 256 KiB chunks), and several chunks plus one.
var Sizes = []int{0, 1, 2,
	4095, 4096, 4097,
	32<<10 - 1, 32 << 10, 32<<10 + 1,
	64<<10 - 1, 64 << 10, 64<<10 + 1,
	256<<10 - 1, 256 << 10, 256<<10 + 1,
	3*256<<10 + 17,
}

// BigSize is the size of the streamed body: the largest message Mailroom
// accepts by default.
const BigSize = 50 << 20

// Run runs the suite. open returns a store on fresh, empty storage.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("ReadAt", func(t *testing.T) { testReadAt(t, open(t)) })
	t.Run("BadRefs", func(t *testing.T) { testBadRefs(t, open(t)) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, open(t)) })
	t.Run("Abort", func(t *testing.T) { testAbort(t, open(t)) })
	t.Run("DistinctRefs", func(t *testing.T) { testDistinctRefs(t, open(t)) })
	t.Run("ConcurrentReaders", func(t *testing.T) { testConcurrentReaders(t, open(t)) })
	t.Run("Streamed50MB", func(t *testing.T) { testStreamed(t, open(t)) })
}

// data returns n deterministic pseudo-random bytes (incompressible, so a
// store that compresses still moves every byte).
func data(seed uint64, n int) []byte {
	b := make([]byte, n)
	fill(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15), b)
	return b
}

func fill(src *rand.PCG, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := src.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// put writes b through w in uneven pieces, as a network reader would.
func put(t *testing.T, s blob.Store, b []byte) string {
	t.Helper()
	ctx := context.Background()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for rest, i := b, 0; len(rest) > 0; i++ {
		n := min(len(rest), 1+(i*7919)%70000)
		k, err := w.Write(rest[:n])
		if err != nil || k != n {
			w.Abort()
			t.Fatalf("Write: %d, %v (want %d)", k, err, n)
		}
		rest = rest[n:]
	}
	if w.Size() != int64(len(b)) {
		t.Errorf("Size before Commit = %d, want %d", w.Size(), len(b))
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if ref == "" {
		t.Fatal("Commit returned an empty reference")
	}
	return ref
}

func open(t *testing.T, s blob.Store, ref string) blob.Reader {
	t.Helper()
	r, err := s.Open(context.Background(), ref)
	if err != nil {
		t.Fatalf("Open(%q): %v", ref, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func testRoundTrip(t *testing.T, s blob.Store) {
	for i, n := range Sizes {
		want := data(uint64(i+1), n)
		ref := put(t, s, want)
		r := open(t, s, ref)
		if r.Size() != int64(n) {
			t.Errorf("size %d: Size() = %d", n, r.Size())
		}
		got, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()+10))
		if err != nil {
			t.Errorf("size %d: read: %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("size %d: read back %d bytes, differing", n, len(got))
		}
		// All of it in one ReadAt, with room to spare.
		p := make([]byte, n+1)
		k, err := r.ReadAt(p, 0)
		if k != n || err != io.EOF || !bytes.Equal(p[:k], want) {
			t.Errorf("size %d: ReadAt(%d bytes, 0) = %d, %v; want %d, EOF", n, len(p), k, err, n)
		}
	}
}

func testReadAt(t *testing.T, s blob.Store) {
	const n = 3*256<<10 + 12345
	want := data(42, n)
	r := open(t, s, put(t, s, want))
	check := func(off int64, size int) {
		t.Helper()
		p := make([]byte, size)
		k, err := r.ReadAt(p, off)
		end := min(off+int64(size), n)
		wantN := int(max(end-off, 0))
		if k != wantN {
			t.Fatalf("ReadAt(%d bytes, %d) = %d bytes, want %d (err %v)", size, off, k, wantN, err)
		}
		if wantN < size && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, %d) short with err %v, want io.EOF", size, off, err)
		}
		if wantN == size && err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, %d): %v", size, off, err)
		}
		if wantN > 0 && !bytes.Equal(p[:k], want[off:end]) {
			t.Fatalf("ReadAt(%d bytes, %d): wrong bytes", size, off)
		}
	}
	// Chunk and page boundaries, from either side and across.
	for _, b := range []int64{0, 4096, 64 << 10, 256 << 10, 512 << 10, 768 << 10} {
		for _, d := range []int64{-1, 0, 1} {
			if off := b + d; off >= 0 {
				for _, size := range []int{0, 1, 2, 100, 256 << 10, 256<<10 + 2} {
					check(off, size)
				}
			}
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		check(rnd.Int64N(n), rnd.IntN(600<<10))
	}
	// The end, and past it.
	check(n-1, 1)
	check(n-1, 10)
	check(n, 1)
	check(n, 0)
	check(n+1, 1)
	check(n+1<<30, 5)
	if k, err := r.ReadAt(make([]byte, 1), -1); err == nil || k != 0 {
		t.Errorf("ReadAt at -1 = %d, %v; want an error", k, err)
	}
}

func testBadRefs(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, ref := range []string{"", "garbage", "../../../etc/passwd", "x/../../y", "pg:", "pg:-1", "pg:abc", "\x00"} {
		if r, err := s.Open(ctx, ref); err == nil {
			r.Close()
			t.Errorf("Open(%q) succeeded", ref)
		} else if !errors.Is(err, blob.ErrBadRef) && !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrBadRef or ErrNotFound", ref, err)
		}
	}
	for _, ref := range []string{"", "garbage", "../../../etc/passwd"} {
		if err := s.Remove(ctx, ref); !errors.Is(err, blob.ErrBadRef) {
			t.Errorf("Remove(%q) = %v, want ErrBadRef", ref, err)
		}
	}
	// A well-formed reference of this store that names nothing: take a
	// real one and remove its body.
	ref := put(t, s, []byte("soon gone"))
	if err := s.Remove(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, ref); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open of a removed body = %v, want ErrNotFound", err)
	}
}

func testRemove(t *testing.T, s blob.Store) {
	ctx := context.Background()
	keep := data(7, 300<<10)
	kept := put(t, s, keep)
	ref := put(t, s, data(8, 300<<10))
	if err := s.Remove(ctx, ref); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if r, err := s.Open(ctx, ref); !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Open after Remove = %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, ref); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
	got, err := io.ReadAll(io.NewSectionReader(open(t, s, kept), 0, 1<<30))
	if err != nil || !bytes.Equal(got, keep) {
		t.Errorf("another body after a Remove: %d bytes, %v", len(got), err)
	}
}

func testAbort(t *testing.T, s blob.Store) {
	ctx := context.Background()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data(3, 600<<10)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort() // twice is harmless
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if ref, err := w.Commit(ctx); err == nil {
		t.Errorf("Commit after Abort returned %q", ref)
	}
	// Commit then Abort: the body stays.
	w, err = s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("kept"))
	ref, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
	p := make([]byte, 4)
	if n, err := open(t, s, ref).ReadAt(p, 0); n != 4 || string(p) != "kept" || (err != nil && err != io.EOF) {
		t.Errorf("after Commit and Abort: %q, %v", p[:n], err)
	}
}

func testDistinctRefs(t *testing.T, s blob.Store) {
	seen := map[string]bool{}
	for i := range 20 {
		ref := put(t, s, []byte{byte(i)})
		if seen[ref] {
			t.Fatalf("reference %q made twice", ref)
		}
		seen[ref] = true
	}
	for ref := range seen {
		r := open(t, s, ref)
		if r.Size() != 1 {
			t.Errorf("%q: size %d", ref, r.Size())
		}
	}
}

func testConcurrentReaders(t *testing.T, s blob.Store) {
	const n = 5*256<<10 + 3
	want := data(99, n)
	ref := put(t, s, want)
	shared := open(t, s, ref)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			r := shared
			if g%2 == 1 { // half on their own Reader
				var err error
				if r, err = s.Open(context.Background(), ref); err != nil {
					errs <- err
					return
				}
				defer r.Close()
			}
			rnd := rand.New(rand.NewPCG(uint64(g), 5))
			p := make([]byte, 300<<10)
			for range 20 {
				off := rnd.Int64N(n)
				size := rnd.IntN(len(p))
				k, err := r.ReadAt(p[:size], off)
				if err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(p[:k], want[off:off+int64(k)]) || k != int(min(int64(size), n-off)) {
					errs <- errors.New("concurrent ReadAt returned wrong bytes")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// stream is an io.Reader of n pseudo-random bytes made as they are read.
type stream struct {
	src  *rand.PCG
	left int64
	buf  [8]byte
	nbuf int
}

func newStream(seed uint64, n int64) *stream {
	return &stream{src: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15), left: n}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.left)]
	// Same byte sequence as data(): 8 bytes per Uint64, low byte first.
	for i := range p {
		if s.nbuf == 0 {
			v := s.src.Uint64()
			for j := range 8 {
				s.buf[j] = byte(v >> (8 * j))
			}
			s.nbuf = 8
		}
		p[i] = s.buf[8-s.nbuf]
		s.nbuf--
	}
	s.left -= int64(len(p))
	return len(p), nil
}

// heapWatch samples the live heap while a body streams, to show that
// neither writing nor reading holds the body in memory. HeapInuse after a
// GC at the start is the baseline; the peak of the samples taken every few
// milliseconds is compared with it. Sampling can miss a short spike, but a
// store that buffers the body keeps it for the whole copy, which is what
// this is meant to catch.
type heapWatch struct {
	base, peak uint64
	stop       chan struct{}
	done       sync.WaitGroup
}

func watchHeap() *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h := &heapWatch{base: m.HeapInuse, peak: m.HeapInuse, stop: make(chan struct{})}
	h.done.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				h.peak = max(h.peak, m.HeapInuse)
			}
		}
	})
	return h
}

// growth stops the watch and returns the peak growth over the baseline.
func (h *heapWatch) growth() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak - h.base
}

// maxGrowth is the heap growth allowed while 50 MB stream through: a few
// chunks' worth of buffers and driver state, a fifth of the body.
const maxGrowth = 10 << 20

func testStreamed(t *testing.T, s blob.Store) {
	if testing.Short() {
		t.Skip("50 MB body in -short mode")
	}
	ctx := context.Background()
	wantSum := sha256.New()
	io.Copy(wantSum, newStream(50, BigSize))

	h := watchHeap()
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(w, struct{ io.Reader }{newStream(50, BigSize)}, make([]byte, 32<<10))
	if err != nil || n != BigSize {
		w.Abort()
		t.Fatalf("streaming in: %d bytes, %v", n, err)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := h.growth(); g > maxGrowth {
		t.Errorf("writing %d MB grew the heap by %d MB", BigSize>>20, g>>20)
	} else {
		t.Logf("writing %d MB: heap grew %.1f MB at most", BigSize>>20, float64(g)/(1<<20))
	}

	h = watchHeap()
	r, err := s.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != BigSize {
		t.Fatalf("Size() = %d, want %d", r.Size(), BigSize)
	}
	gotSum := sha256.New()
	n, err = io.CopyBuffer(gotSum, io.NewSectionReader(r, 0, r.Size()), make([]byte, 64<<10))
	if err != nil || n != BigSize {
		t.Fatalf("streaming out: %d bytes, %v", n, err)
	}
	if g := h.growth(); g > maxGrowth {
		t.Errorf("reading %d MB grew the heap by %d MB", BigSize>>20, g>>20)
	} else {
		t.Logf("reading %d MB: heap grew %.1f MB at most", BigSize>>20, float64(g)/(1<<20))
	}
	if !bytes.Equal(gotSum.Sum(nil), wantSum.Sum(nil)) {
		t.Error("the 50 MB body read back differs (SHA-256)")
	}
	if err := s.Remove(ctx, ref); err != nil {
		t.Error(err)
	}
}
