// Package connbuf buffers a connection's input and output like bufio, but
// holds a buffer only while there is data in it: an empty buffer goes back
// to a pool shared by all connections. A server with 10,000 idle IMAP
// connections then keeps no read or write buffer for any of them; with
// bufio's fixed buffers they would hold 200 MB.
//
// Reads that must wait for the peer wait with a small array inside the
// Reader, so a connection blocked for hours in IDLE costs that array, not a
// pooled buffer.
package connbuf

import (
	"errors"
	"io"
	"sync"
)

const (
	// ReadSize is the size of a Reader's pooled buffer, and so the most
	// Peek can return.
	ReadSize = 4 << 10
	// WriteSize is the size of a Writer's pooled buffer: responses are
	// written to the connection in chunks of this size.
	WriteSize = 16 << 10
	// waitSize is the array a Reader waits for the peer with; most
	// commands fit in it.
	waitSize = 128
)

var (
	readPool  = sync.Pool{New: func() any { b := make([]byte, ReadSize); return &b }}
	writePool = sync.Pool{New: func() any { b := make([]byte, WriteSize); return &b }}
)

// ErrBufferFull is returned by Peek when asked for more than ReadSize bytes.
var ErrBufferFull = errors.New("connbuf: peek beyond the buffer size")

// Reader is a buffered reader, as bufio.Reader, whose buffer is pooled
// while empty. It is not safe for concurrent use.
type Reader struct {
	rd   io.Reader
	buf  *[]byte // nil while empty
	r, w int
	err  error
	wait [waitSize]byte
}

// NewReader returns a Reader reading from rd.
func NewReader(rd io.Reader) *Reader { return &Reader{rd: rd} }

// Reset discards buffered data and makes b read from rd.
func (b *Reader) Reset(rd io.Reader) {
	b.release()
	b.rd, b.r, b.w, b.err = rd, 0, 0, nil
}

// Buffered returns the number of bytes that can be read without waiting.
func (b *Reader) Buffered() int { return b.w - b.r }

func (b *Reader) release() {
	if b.buf != nil {
		readPool.Put(b.buf)
		b.buf = nil
	}
	b.r, b.w = 0, 0
}

// fill reads at least one more byte into the buffer, or sets b.err.
func (b *Reader) fill() {
	if b.r == b.w {
		// Nothing buffered: give the buffer back and wait with the
		// small array, then take one for what arrived.
		b.release()
		n, err := readSome(b.rd, b.wait[:])
		if n > 0 {
			b.buf = readPool.Get().(*[]byte)
			b.w = copy(*b.buf, b.wait[:n])
		}
		b.err = err
		return
	}
	if b.r > 0 {
		copy(*b.buf, (*b.buf)[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	n, err := readSome(b.rd, (*b.buf)[b.w:])
	b.w += n
	b.err = err
}

// readSome reads into p, retrying a few reads that return nothing.
func readSome(rd io.Reader, p []byte) (int, error) {
	for range 100 {
		n, err := rd.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

func (b *Reader) readErr() error {
	err := b.err
	b.err = nil
	return err
}

// Peek returns the next n bytes without consuming them, waiting for them
// if needed. With fewer than n bytes it returns an error saying why.
func (b *Reader) Peek(n int) ([]byte, error) {
	if n > ReadSize {
		return nil, ErrBufferFull
	}
	for b.w-b.r < n && b.err == nil {
		b.fill()
	}
	if b.w-b.r < n {
		var p []byte
		if b.buf != nil {
			p = (*b.buf)[b.r:b.w]
		}
		return p, b.readErr()
	}
	return (*b.buf)[b.r : b.r+n], nil
}

// Discard skips the next n bytes, reading them if they are not buffered.
func (b *Reader) Discard(n int) (int, error) {
	done := 0
	for {
		k := min(n-done, b.w-b.r)
		b.r += k
		done += k
		if b.r == b.w {
			b.release()
		}
		if done == n {
			return done, nil
		}
		if b.err != nil {
			return done, b.readErr()
		}
		b.fill()
	}
}

// Read reads up to len(p) bytes. Reads as large as the buffer bypass it
// when it is empty, so a long literal streams straight into p.
func (b *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if b.Buffered() > 0 {
			return 0, nil
		}
		return 0, b.readErr()
	}
	if b.r == b.w {
		if b.err != nil {
			return 0, b.readErr()
		}
		if len(p) >= ReadSize {
			b.release()
			return b.rd.Read(p)
		}
		b.fill()
		if b.r == b.w {
			return 0, b.readErr()
		}
	}
	n := copy(p, (*b.buf)[b.r:b.w])
	b.r += n
	if b.r == b.w {
		b.release()
	}
	return n, nil
}

// Writer is a buffered writer, as bufio.Writer, whose buffer is pooled
// after each Flush. Write errors are sticky: once one happened, writes are
// dropped and Flush returns it. It is not safe for concurrent use.
type Writer struct {
	wr  io.Writer
	buf *[]byte // nil while empty
	n   int
	err error
}

// NewWriter returns a Writer writing to wr.
func NewWriter(wr io.Writer) *Writer { return &Writer{wr: wr} }

// Reset discards unflushed data and any error and makes b write to wr.
func (b *Writer) Reset(wr io.Writer) {
	b.release()
	b.wr, b.err = wr, nil
}

// Buffered returns the number of bytes written but not yet flushed.
func (b *Writer) Buffered() int { return b.n }

func (b *Writer) release() {
	if b.buf != nil {
		writePool.Put(b.buf)
		b.buf = nil
	}
	b.n = 0
}

func (b *Writer) space() []byte {
	if b.buf == nil {
		b.buf = writePool.Get().(*[]byte)
	}
	return (*b.buf)[b.n:]
}

// Flush writes the buffered data and gives the buffer back to the pool.
func (b *Writer) Flush() error {
	b.flush()
	b.release()
	return b.err
}

// flush writes what is buffered, keeping the buffer for more.
func (b *Writer) flush() {
	if b.err != nil || b.n == 0 {
		return
	}
	n, err := b.wr.Write((*b.buf)[:b.n])
	if err == nil && n < b.n {
		err = io.ErrShortWrite
	}
	if err != nil {
		b.err = err
		return
	}
	b.n = 0
}

// Write implements io.Writer.
func (b *Writer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && b.err == nil {
		if b.n == 0 && len(p) >= WriteSize {
			// Big and nothing buffered: no point copying it.
			n, err := b.wr.Write(p)
			written += n
			b.err = err
			return written, err
		}
		k := copy(b.space(), p)
		b.n += k
		written += k
		p = p[k:]
		if len(p) > 0 {
			b.flush()
		}
	}
	return written, b.err
}

// WriteString writes s.
func (b *Writer) WriteString(s string) (int, error) {
	written := 0
	for len(s) > 0 && b.err == nil {
		k := copy(b.space(), s)
		b.n += k
		written += k
		s = s[k:]
		if len(s) > 0 {
			b.flush()
		}
	}
	return written, b.err
}

// WriteByte writes c.
func (b *Writer) WriteByte(c byte) error {
	if b.err != nil {
		return b.err
	}
	if b.n == WriteSize {
		b.flush()
		if b.err != nil {
			return b.err
		}
	}
	b.space()[0] = c
	b.n++
	return nil
}

// ReadFrom copies r to the writer through the buffer, so that a message
// body read from a file goes out in WriteSize chunks.
func (b *Writer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	empty := 0
	for b.err == nil {
		if b.n == WriteSize {
			b.flush()
			continue
		}
		n, err := r.Read(b.space())
		b.n += n
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty == 100 {
			return total, io.ErrNoProgress
		}
	}
	return total, b.err
}
