// Package inflate decompresses a raw DEFLATE stream (RFC 1951) and hands
// out every byte it has decoded before it waits for more input.
//
// Go's compress/flate (and klauspost/compress) return decoded data only
// at a stored block, a full window or the final block. A peer that ends
// its writes with zlib's Z_PARTIAL_FLUSH (a block's end-of-block code
// followed by an empty fixed block, not byte-aligned), as mbsync does over
// IMAP COMPRESS=DEFLATE, leaves them waiting for input that only comes
// after the reply they have not yet seen the command for. This Reader is
// a resumable state machine instead: when the input runs dry mid-stream it
// returns what it has, and it resumes at the exact bit it stopped at.
//
// Memory is bounded: the 32 KiB window (which doubles as the output
// buffer), a 4 KiB input buffer and the Huffman tables. Work per Read is
// bounded too: at most a window of output and an input buffer of input.
package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	winSize  = 1 << 15 // the largest distance (RFC 1951 3.2.5)
	inSize   = 4 << 10
	maxMatch = 258
	litRoot  = 10
	distRoot = 8
	clRoot   = 7
)

// CorruptError reports input that is not valid DEFLATE.
type CorruptError struct {
	Offset int64 // input offset near which it was found
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("inflate: corrupt input near byte %d: %s", e.Offset, e.Reason)
}

type state uint8

const (
	stHeader    state = iota // next: a block header
	stStoredLen              // next: a stored block's LEN and NLEN
	stStored                 // in a stored block's data
	stDynamic                // next: a dynamic block's code lengths
	stCodes                  // in a Huffman-coded block
	stCopy                   // in a match the window had no room for
	stEnd                    // after the final block
)

// Reader decompresses a raw DEFLATE stream. It is not safe for concurrent
// use.
type Reader struct {
	src    io.Reader
	srcErr error // sticky error of src, io.EOF included
	err    error // sticky error of the stream, io.EOF after the final block

	// Input: in[ip:iend] is unread; the bit buffer bb holds nb bits
	// taken from the bytes before ip. Bits of bb above nb are the next
	// input bits or zero, never anything else, so that ORing the next
	// byte in at nb is always right.
	in       [inSize]byte
	ip, iend int
	inBase   int64 // stream offset of in[0]
	bb       uint64
	nb       uint

	// Output: win[rpos:wpos] is decoded and not yet read. The window
	// fills up to winSize and starts again at 0 once all of it is read;
	// before that, history wraps to its end (full says there is one).
	win        [winSize]byte
	rpos, wpos int
	full       bool

	state         state
	final         bool
	storedLeft    int
	copyLen       int
	copyDist      int
	hl, hd        *huffman
	lit, dist, cl huffman
	lens          [286 + 30]uint8
}

// NewReader returns a Reader decompressing the raw DEFLATE stream of src.
func NewReader(src io.Reader) *Reader {
	r := new(Reader)
	r.Reset(src)
	return r
}

// Reset makes r decompress a new stream read from src.
func (r *Reader) Reset(src io.Reader) {
	r.src, r.srcErr, r.err = src, nil, nil
	r.ip, r.iend, r.inBase, r.bb, r.nb = 0, 0, 0, 0, 0
	r.rpos, r.wpos, r.full = 0, 0, false
	r.state, r.final = stHeader, false
}

// Read returns decoded bytes. It returns as soon as it has any: it reads
// from src only when nothing decoded is waiting, and then decodes all the
// input src gave before returning.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if r.rpos < r.wpos {
			n := copy(p, r.win[r.rpos:r.wpos])
			r.rpos += n
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		if r.wpos == winSize {
			r.rpos, r.wpos, r.full = 0, 0, true
		}
		if r.decode() {
			continue
		}
		// decode needs input and has produced nothing.
		if r.srcErr != nil {
			r.err = r.srcErr
			if r.err == io.EOF {
				r.err = io.ErrUnexpectedEOF
			}
			continue
		}
		r.fill()
	}
}

// fill reads more input, keeping the unread bytes and the whole bytes of
// the bit buffer (a stored block gives those back).
func (r *Reader) fill() {
	keep := r.ip - int(r.nb>>3)
	if keep > 0 {
		copy(r.in[:], r.in[keep:r.iend])
		r.inBase += int64(keep)
		r.ip -= keep
		r.iend -= keep
	}
	if r.iend == len(r.in) {
		// No unit of the format is anywhere near this long (a dynamic
		// header is at most 600 bytes): decode never asks for more
		// with a full buffer.
		r.srcErr = errors.New("inflate: internal error: input buffer full")
		return
	}
	for range 100 {
		n, err := r.src.Read(r.in[r.iend:])
		r.iend += n
		if err != nil {
			r.srcErr = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.srcErr = io.ErrNoProgress
}

func (r *Reader) corrupt(reason string) {
	r.err = &CorruptError{Offset: r.inBase + int64(r.ip) - int64(r.nb>>3), Reason: reason}
}

// decode decodes from the buffered input until the window is full, the
// stream ends or fails (r.err), or it needs more input. It reports
// whether it got anywhere: false means it needs input and has decoded
// nothing since the last Read.
func (r *Reader) decode() bool {
	start := r.wpos
	for r.err == nil && r.wpos < winSize {
		var ok bool
		switch r.state {
		case stHeader:
			ok = r.blockHeader()
		case stStoredLen:
			ok = r.storedLen()
		case stStored:
			ok = r.stored()
		case stDynamic:
			ok = r.dynamic()
		case stCodes:
			ok = r.codes()
		case stCopy:
			r.copyMatch()
			ok = true
		case stEnd:
			r.err = io.EOF
			ok = true
		}
		if !ok {
			return r.wpos > start
		}
	}
	return true
}

// more moves input bytes into the bit buffer until it holds n bits; it
// reports false if the input ran out first.
func (r *Reader) more(n uint) bool {
	for r.nb < n {
		if r.ip == r.iend {
			return false
		}
		r.bb |= uint64(r.in[r.ip]) << r.nb
		r.ip++
		r.nb += 8
	}
	return true
}

func (r *Reader) take(n uint) uint32 {
	v := uint32(r.bb & (1<<n - 1))
	r.bb >>= n
	r.nb -= n
	return v
}

func (r *Reader) endBlock() {
	if r.final {
		r.state = stEnd
	} else {
		r.state = stHeader
	}
}

func (r *Reader) blockHeader() bool {
	if !r.more(3) {
		return false
	}
	h := r.take(3)
	r.final = h&1 == 1
	switch h >> 1 {
	case 0:
		// Stored: skip to the byte boundary, and give the bit buffer's
		// whole bytes back to the input, where LEN starts.
		r.take(r.nb & 7)
		r.ip -= int(r.nb >> 3)
		r.bb, r.nb = 0, 0
		r.state = stStoredLen
	case 1:
		r.hl, r.hd = fixedLit, fixedDist
		r.state = stCodes
	case 2:
		r.state = stDynamic
	default:
		r.corrupt("reserved block type 3")
	}
	return true
}

func (r *Reader) storedLen() bool {
	if r.iend-r.ip < 4 {
		return false
	}
	b := r.in[r.ip : r.ip+4]
	n := int(binary.LittleEndian.Uint16(b))
	if uint16(n) != ^binary.LittleEndian.Uint16(b[2:]) {
		r.corrupt("stored block length does not match its complement")
		return true
	}
	r.ip += 4
	r.storedLeft = n
	r.state = stStored
	if n == 0 {
		r.endBlock()
	}
	return true
}

func (r *Reader) stored() bool {
	if r.ip == r.iend {
		return false
	}
	n := min(r.storedLeft, r.iend-r.ip, winSize-r.wpos)
	copy(r.win[r.wpos:], r.in[r.ip:r.ip+n])
	r.ip += n
	r.wpos += n
	r.storedLeft -= n
	if r.storedLeft == 0 {
		r.endBlock()
	}
	return true
}

// dynamic reads a dynamic block's code definitions (RFC 1951 3.2.7) as
// one unit: if the input ends inside them, it rewinds to the block's
// start and waits for more.
func (r *Reader) dynamic() bool {
	ip, bb, nb := r.ip, r.bb, r.nb
	ok, bad := r.readCodes()
	if bad != "" {
		r.corrupt(bad)
		return true
	}
	if !ok {
		r.ip, r.bb, r.nb = ip, bb, nb
		return false
	}
	r.hl, r.hd = &r.lit, &r.dist
	r.state = stCodes
	return true
}

// readCodes builds r.lit and r.dist from the input. ok false: the input
// ran out; bad: why the definitions are invalid.
func (r *Reader) readCodes() (ok bool, bad string) {
	if !r.more(14) {
		return false, ""
	}
	nlit := int(r.take(5)) + 257
	ndist := int(r.take(5)) + 1
	nclen := int(r.take(4)) + 4
	if nlit > 286 {
		return true, "more than 286 literal/length codes"
	}
	if ndist > 30 {
		return true, "more than 30 distance codes"
	}
	var cl [19]uint8
	for i := range nclen {
		if !r.more(3) {
			return false, ""
		}
		cl[clOrder[i]] = uint8(r.take(3))
	}
	if !r.cl.build(cl[:], clRoot) {
		return true, "invalid code length code"
	}
	lens := r.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		sym, st := r.symbol(&r.cl)
		switch st {
		case symShort:
			return false, ""
		case symBad:
			return true, "invalid code length symbol"
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return true, "repeat of a code length with none before"
			}
			if !r.more(2) {
				return false, ""
			}
			rep, val = 3+int(r.take(2)), lens[i-1]
		case 17:
			if !r.more(3) {
				return false, ""
			}
			rep = 3 + int(r.take(3))
		default: // 18
			if !r.more(7) {
				return false, ""
			}
			rep = 11 + int(r.take(7))
		}
		if i+rep > len(lens) {
			return true, "code length repeat past the last code"
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if !r.lit.build(lens[:nlit], litRoot) {
		return true, "invalid literal/length code"
	}
	if !r.dist.build(lens[nlit:], distRoot) {
		return true, "invalid distance code"
	}
	return true, ""
}

const (
	symOK = iota
	symShort
	symBad
)

// symbol decodes one symbol of h, moving input bytes into the bit buffer
// as far as it needs to.
func (r *Reader) symbol(h *huffman) (int, int) {
	for {
		e := h.lookup(r.bb)
		n := uint(e & entryLen)
		if n != 0 && n <= r.nb {
			r.bb >>= n
			r.nb -= n
			return int(e >> 8), symOK
		}
		// No code (e == 0) occurs only in a code that is empty or has
		// one 1-bit code, so one real bit settles it.
		if n == 0 && (h.empty || r.nb >= 1) {
			return 0, symBad
		}
		if r.ip == r.iend {
			return 0, symShort
		}
		r.bb |= uint64(r.in[r.ip]) << r.nb
		r.ip++
		r.nb += 8
	}
}

// codes decodes a Huffman-coded block's symbols until the block ends, the
// window is full, or the input runs out.
func (r *Reader) codes() bool {
	r.fastCodes()
	for r.err == nil && r.state == stCodes && r.wpos < winSize {
		ip, bb, nb := r.ip, r.bb, r.nb
		ok := r.codeUnit()
		if !ok {
			r.ip, r.bb, r.nb = ip, bb, nb
			return false
		}
	}
	return true
}

// codeUnit decodes one literal, end of block, or length and distance,
// and reports false (having consumed an unspecified part of it) if the
// input ends inside it.
func (r *Reader) codeUnit() bool {
	sym, st := r.symbol(r.hl)
	switch {
	case st == symShort:
		return false
	case st == symBad:
		r.corrupt("invalid literal/length code")
		return true
	case sym < 256:
		r.win[r.wpos] = byte(sym)
		r.wpos++
		return true
	case sym == 256:
		r.endBlock()
		return true
	case sym >= 286:
		r.corrupt("invalid literal/length symbol")
		return true
	}
	sym -= 257
	n := uint(lenExtra[sym])
	if !r.more(n) {
		return false
	}
	length := int(lenBase[sym]) + int(r.take(n))
	dsym, st := r.symbol(r.hd)
	switch {
	case st == symShort:
		return false
	case st == symBad:
		r.corrupt("invalid distance code")
		return true
	case dsym >= 30:
		r.corrupt("invalid distance symbol")
		return true
	}
	n = uint(distExtra[dsym])
	if !r.more(n) {
		return false
	}
	dist := int(distBase[dsym]) + int(r.take(n))
	if !r.full && dist > r.wpos {
		r.corrupt("distance beyond the start of the output")
		return true
	}
	r.copyLen, r.copyDist = length, dist
	r.copyMatch()
	return true
}

// fastCodes decodes symbols while the input holds 8 bytes and the window
// room for a longest match, so that neither needs checking per symbol: a
// refill gives at least 56 bits and a length/distance pair takes at most
// 15+5+15+13 = 48.
func (r *Reader) fastCodes() {
	hl, hd := r.hl, r.hd
	bb, nb, ip := r.bb, r.nb, r.ip
	win := &r.win
	wpos := r.wpos
	for r.iend-ip >= 8 && wpos <= winSize-maxMatch {
		if nb < 48 {
			bb |= binary.LittleEndian.Uint64(r.in[ip:]) << nb
			ip += int((63 - nb) >> 3)
			nb |= 56
		}
		e := hl.lookup(bb)
		n := uint(e & entryLen)
		if n == 0 {
			r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
			r.corrupt("invalid literal/length code")
			return
		}
		bb >>= n
		nb -= n
		sym := int(e >> 8)
		if sym < 256 {
			win[wpos] = byte(sym)
			wpos++
			continue
		}
		if sym == 256 {
			r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
			r.endBlock()
			return
		}
		if sym >= 286 {
			r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
			r.corrupt("invalid literal/length symbol")
			return
		}
		sym -= 257
		n = uint(lenExtra[sym])
		length := int(lenBase[sym]) + int(bb&(1<<n-1))
		bb >>= n
		nb -= n
		e = hd.lookup(bb)
		n = uint(e & entryLen)
		dsym := int(e >> 8)
		if n == 0 || dsym >= 30 {
			r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
			if n == 0 {
				r.corrupt("invalid distance code")
			} else {
				r.corrupt("invalid distance symbol")
			}
			return
		}
		bb >>= n
		nb -= n
		n = uint(distExtra[dsym])
		dist := int(distBase[dsym]) + int(bb&(1<<n-1))
		bb >>= n
		nb -= n
		if dist > wpos {
			if !r.full {
				r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
				r.corrupt("distance beyond the start of the output")
				return
			}
			r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
			r.copyLen, r.copyDist = length, dist
			r.copyMatch()
			wpos = r.wpos
			continue
		}
		src := wpos - dist
		if dist >= length {
			copy(win[wpos:wpos+length], win[src:src+length])
			wpos += length
			continue
		}
		end := wpos + length
		for wpos < end {
			wpos += copy(win[wpos:end], win[src:wpos])
		}
	}
	r.bb, r.nb, r.ip, r.wpos = bb, nb, ip, wpos
}

// copyMatch copies as much of the pending match as the window has room
// for; the rest waits in stCopy until the reader has made room.
func (r *Reader) copyMatch() {
	n := min(r.copyLen, winSize-r.wpos)
	r.copyLen -= n
	for n > 0 {
		src := r.wpos - r.copyDist
		var c int
		if src < 0 {
			// From the end of the window: the previous round.
			src += winSize
			c = copy(r.win[r.wpos:r.wpos+min(n, winSize-src)], r.win[src:])
		} else {
			c = copy(r.win[r.wpos:r.wpos+n], r.win[src:r.wpos])
		}
		r.wpos += c
		n -= c
	}
	if r.copyLen > 0 {
		r.state = stCopy
	} else {
		r.state = stCodes
	}
}
