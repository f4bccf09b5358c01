package connbuf

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReaderMatchesBufio runs the same random Peek/Discard/Read sequence on
// a Reader and a bufio.Reader over readers that return data in odd pieces,
// and wants the same bytes and errors from both.
func TestReaderMatchesBufio(t *testing.T) {
	data := make([]byte, 200_000)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	wraps := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	for name, wrap := range wraps {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, 1))
			ours := NewReader(wrap(bytes.NewReader(data)))
			ref := bufio.NewReaderSize(wrap(bytes.NewReader(data)), ReadSize)
			for step := 0; ; step++ {
				var a, b []byte
				var ea, eb error
				switch rng.IntN(3) {
				case 0:
					n := 1 + rng.IntN(ReadSize)
					a, ea = ours.Peek(n)
					b, eb = ref.Peek(n)
					if ea == nil {
						ours.Discard(n)
						ref.Discard(n)
					}
				case 1:
					n := rng.IntN(3 * ReadSize)
					var na, nb int
					na, ea = ours.Discard(n)
					nb, eb = ref.Discard(n)
					if na != nb {
						t.Fatalf("%s/%d step %d: Discard(%d) = %d, bufio %d", name, seed, step, n, na, nb)
					}
				case 2:
					p := make([]byte, 1+rng.IntN(2*ReadSize))
					n, err := io.ReadFull(ours, p)
					a, ea = p[:n], err
					q := make([]byte, len(p))
					n, err = io.ReadFull(ref, q)
					b, eb = q[:n], err
				}
				if !bytes.Equal(a, b) || (ea == nil) != (eb == nil) {
					t.Fatalf("%s/%d step %d: got %d bytes, %v; bufio %d bytes, %v", name, seed, step, len(a), ea, len(b), eb)
				}
				if ea != nil {
					break
				}
			}
		}
	}
}

func TestReaderHoldsNoBufferWhenEmpty(t *testing.T) {
	r := NewReader(strings.NewReader("a1 NOOP\r\na2 NOOP\r\n"))
	line, err := r.Peek(9)
	if err != nil || string(line) != "a1 NOOP\r\n" {
		t.Fatalf("Peek = %q, %v", line, err)
	}
	if r.buf == nil {
		t.Fatal("no buffer while holding data")
	}
	r.Discard(9)
	if r.buf == nil || r.Buffered() != 9 {
		t.Fatal("the second command was not kept buffered")
	}
	r.Discard(9)
	if r.buf != nil || r.Buffered() != 0 {
		t.Fatal("the buffer was kept after everything was read")
	}
	if _, err := r.Peek(1); err != io.EOF {
		t.Fatalf("Peek at end = %v, want io.EOF", err)
	}
	if r.buf != nil {
		t.Fatal("a buffer was taken for nothing")
	}
	if _, err := r.Peek(ReadSize + 1); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("Peek beyond ReadSize = %v", err)
	}
}

func TestWriterMatchesBufio(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		var got, want bytes.Buffer
		ours, ref := NewWriter(&got), bufio.NewWriterSize(&want, WriteSize)
		for range 300 {
			chunk := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(3*WriteSize/2))
			switch rng.IntN(5) {
			case 0:
				ours.WriteString(chunk)
				ref.WriteString(chunk)
			case 1:
				ours.Write([]byte(chunk))
				ref.Write([]byte(chunk))
			case 2:
				ours.WriteByte('x')
				ref.WriteByte('x')
			case 3:
				ours.ReadFrom(iotest.HalfReader(strings.NewReader(chunk)))
				ref.ReadFrom(iotest.HalfReader(strings.NewReader(chunk)))
			case 4:
				if err := ours.Flush(); err != nil {
					t.Fatal(err)
				}
				ref.Flush()
				if ours.buf != nil {
					t.Fatal("the buffer was kept after Flush")
				}
			}
		}
		ours.Flush()
		ref.Flush()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("seed %d: %d bytes written, bufio %d", seed, got.Len(), want.Len())
		}
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("broken pipe")
	}
	f.after--
	return len(p), nil
}

func TestWriterErrorsAreSticky(t *testing.T) {
	w := NewWriter(&failWriter{after: 1})
	w.WriteString("first")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	w.WriteString("second")
	if err := w.Flush(); err == nil {
		t.Fatal("Flush after a failed write reported nothing")
	}
	if _, err := w.WriteString("third"); err == nil {
		t.Fatal("a write after the failure succeeded")
	}
	if err := w.Flush(); err == nil {
		t.Fatal("the error was forgotten")
	}
}
