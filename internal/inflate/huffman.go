package inflate

// Canonical Huffman decoding tables (RFC 1951 section 3.2.2).
//
// A table is looked up with the next bits of the input, least significant
// first: DEFLATE packs a Huffman code starting with its most significant
// bit, so each code is stored bit-reversed. The first 1<<root entries are
// indexed by the next root bits; a code longer than root bits goes through
// a link entry to a sub-table indexed by the bits after the root. Entries:
//
//	bits 0-3  code length (leaf) or sub-table index bits (link); 0 = no code
//	bit  4    link
//	bits 8-   symbol (leaf) or sub-table offset in t (link)
//
// An entry of 0 is a bit pattern no code starts with: possible only in the
// two incomplete codes RFC 1951 decoders accept, an empty code and a single
// one-bit code.

const (
	entryLen  = 0xf
	entryLink = 0x10
	maxBits   = 15 // longest code (RFC 1951 3.2.7)
)

type huffman struct {
	t     []uint32
	root  uint
	empty bool // no symbol has a code: every lookup is an error
}

// build makes h decode the code whose length per symbol is lengths[sym]
// (0: the symbol has no code). It reports whether the lengths form a code
// a decoder accepts: complete (every bit string starts a code), empty, or
// one code of length 1 — what zlib accepts for distance codes and
// Go's compress/flate for every code.
func (h *huffman) build(lengths []uint8, root uint) bool {
	var count [maxBits + 1]int
	total := 0
	for _, l := range lengths {
		if l > maxBits {
			return false
		}
		if l > 0 {
			count[l]++
			total++
		}
	}
	left := 1
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false // over-subscribed
		}
	}
	if left > 0 && total != 0 && !(total == 1 && count[1] == 1) {
		return false // incomplete
	}
	h.root, h.empty = root, total == 0
	size := 1 << root
	if cap(h.t) < size {
		h.t = make([]uint32, size, size*2)
	}
	h.t = h.t[:size]
	clear(h.t)
	if total == 0 {
		return true
	}

	// First codes of each length (RFC 1951 3.2.2 step 2).
	var next [maxBits + 2]int
	code := 0
	for l := 1; l <= maxBits; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	codes := next

	// Sub-table sizes: the longest code under each root prefix.
	var subBits [1 << 10]uint8 // root is at most 10
	mask := size - 1
	for _, l := range lengths {
		if uint(l) <= root {
			if l > 0 {
				codes[l]++
			}
			continue
		}
		rev := reverse(codes[l], uint(l))
		codes[l]++
		p := rev & mask
		subBits[p] = max(subBits[p], l-uint8(root))
	}
	for p := range size {
		if b := subBits[p]; b > 0 {
			off := len(h.t)
			h.t = append(h.t, make([]uint32, 1<<b)...)
			h.t[p] = uint32(off)<<8 | entryLink | uint32(b)
		}
	}

	codes = next
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		rev := reverse(codes[l], uint(l))
		codes[l]++
		e := uint32(sym)<<8 | uint32(l)
		if uint(l) <= root {
			for i := rev; i < size; i += 1 << l {
				h.t[i] = e
			}
			continue
		}
		link := h.t[rev&mask]
		off, b := int(link>>8), int(link&entryLen)
		step := 1 << (uint(l) - root)
		for i := rev >> root; i < 1<<b; i += step {
			h.t[off+i] = e
		}
	}
	return true
}

// reverse returns the low n bits of c in reverse order.
func reverse(c int, n uint) int {
	r := 0
	for range n {
		r = r<<1 | c&1
		c >>= 1
	}
	return r
}

// lookup returns the leaf entry the bits in b start with (bits above the
// ones read from the input may be anything: the caller checks the entry's
// length against the count of real bits).
func (h *huffman) lookup(b uint64) uint32 {
	e := h.t[b&(1<<h.root-1)]
	if e&entryLink != 0 {
		e = h.t[uint64(e>>8)+(b>>h.root)&(1<<(e&entryLen)-1)]
	}
	return e
}

// The fixed codes of RFC 1951 section 3.2.6, built once: they are never
// written after init.
var fixedLit, fixedDist = buildFixed()

func buildFixed() (*huffman, *huffman) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	lit, dist := new(huffman), new(huffman)
	if !lit.build(l[:], litRoot) || !dist.build(d[:], distRoot) {
		panic("inflate: fixed codes do not build")
	}
	return lit, dist
}

// Lengths and distances (RFC 1951 section 3.2.5): base value and count
// of extra bits per symbol.
var (
	lenBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// Order of the code length code's lengths (RFC 1951 section 3.2.7).
var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
