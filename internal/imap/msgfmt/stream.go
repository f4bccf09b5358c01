package msgfmt

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sync"

	"mailroom/internal/imap/wire"
)

// chunkSize is the read size of the streaming passes: large enough for few
// store reads, small enough to be the whole per-request memory.
const chunkSize = 32 << 10

// chunkPool recycles chunk buffers between responses.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// measure reads r to the end and returns the number of octets and whether
// a NUL octet lies in the window a partial selects (all of it without a
// partial): the two things a literal's announcement depends on. It is the
// first of the two passes over a value whose size is not known in advance.
func measure(r io.Reader, partial *wire.Partial) (size int64, nul bool, err error) {
	lo, hi := int64(0), int64(math.MaxInt64)
	if partial != nil {
		lo = int64(partial.Offset)
		hi = lo + int64(partial.Count)
	}
	pbuf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(pbuf)
	buf := *pbuf
	for {
		n, rerr := r.Read(buf)
		if n > 0 && !nul {
			// The part of this chunk inside [lo, hi).
			a := min(max(lo-size, 0), int64(n))
			b := min(max(hi-size, 0), int64(n))
			nul = bytes.IndexByte(buf[a:b], 0) >= 0
		}
		size += int64(n)
		if rerr == io.EOF {
			return size, nul, nil
		}
		if rerr != nil {
			return size, nul, fmt.Errorf("msgfmt: read message: %w", rerr)
		}
	}
}

// writeStream writes octets [off, off+n) of r as a literal (literal8 when
// binary), r producing the same octets as in the measuring pass.
func writeStream(e *wire.Encoder, r io.Reader, off, n int64, binary bool) error {
	if off > 0 {
		if _, err := io.CopyN(io.Discard, r, off); err != nil {
			// Nothing written yet: the response is still intact.
			return fmt.Errorf("msgfmt: read message: %w", err)
		}
	}
	return e.WriteLiteralFrom(n, r, binary)
}
