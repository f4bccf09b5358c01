package search

import "bytes"

// chunkSize is how much text is folded and searched at a time; with the
// carry it bounds the stream matcher's memory.
const chunkSize = 32 << 10

// needleSet searches a stream of UTF-8 text for several folded needles at
// once. The stream is fed by Write in chunks of any size; a needle that
// straddles two chunks is found because the last len(longest)-1 folded
// bytes of each chunk are searched again with the next one.
type needleSet struct {
	needles [][]byte // folded, non-empty
	hit     []bool
	left    int // needles not found yet
	keep    int // bytes of carry: the longest needle's length - 1
	buf     []byte
	carry   int    // buf[:carry] is the carry from the previous chunk
	pend    []byte // an incomplete UTF-8 sequence ending the last chunk
	in      []byte // pend and the next chunk, joined
}

// reset starts a search for needles, keeping the buffers.
func (s *needleSet) reset(needles [][]byte) {
	s.needles, s.left, s.keep = needles, len(needles), 0
	s.hit = append(s.hit[:0], make([]bool, len(needles))...)
	for _, n := range needles {
		s.keep = max(s.keep, len(n)-1)
	}
	s.buf, s.carry, s.pend = s.buf[:0], 0, s.pend[:0]
}

// done reports whether every needle was found: the caller may stop.
func (s *needleSet) done() bool { return s.left == 0 }

// Write folds and searches p. It never fails.
func (s *needleSet) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.left > 0 {
		k := min(len(p), chunkSize)
		s.feed(p[:k], false)
		p = p[k:]
	}
	return n, nil
}

// feed folds one chunk (at most chunkSize bytes) after the carry and
// searches the result. Unless final, an incomplete UTF-8 sequence at the
// end waits in pend for the next chunk.
func (s *needleSet) feed(p []byte, final bool) {
	src := p
	if len(s.pend) > 0 {
		s.in = append(append(s.in[:0], s.pend...), p...)
		src = s.in
	}
	s.buf = s.buf[:s.carry]
	var used int
	s.buf, used = appendFold(s.buf, src, final)
	s.pend = append(s.pend[:0], src[used:]...) // at most utf8.UTFMax-1 bytes
	s.search()
}

func (s *needleSet) search() {
	for i, n := range s.needles {
		if !s.hit[i] && bytes.Contains(s.buf, n) {
			s.hit[i] = true
			s.left--
		}
	}
	// Keep the tail for matches that continue in the next chunk.
	if c := min(s.keep, len(s.buf)); c > 0 {
		copy(s.buf, s.buf[len(s.buf)-c:])
		s.carry = c
	} else {
		s.carry = 0
	}
}

// boundary ends a unit of text (a part, a header field): what follows is
// not a continuation, so no match may span it.
func (s *needleSet) boundary() {
	if len(s.pend) > 0 && s.left > 0 {
		s.feed(nil, true)
	}
	s.pend = s.pend[:0]
	s.carry = 0
	s.buf = s.buf[:0]
}
