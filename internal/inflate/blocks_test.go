package inflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"testing"
)

// bitWriter builds DEFLATE streams by hand, bit by bit, for the cases a
// compressor never writes.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

// bits writes the low n bits of v, least significant first (header
// fields, extra bits).
func (w *bitWriter) bits(v uint64, n uint) *bitWriter {
	w.acc |= (v & (1<<n - 1)) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
	return w
}

// code writes a Huffman code of n bits, most significant first.
func (w *bitWriter) code(c uint64, n uint) *bitWriter {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
	return w
}

func (w *bitWriter) align() *bitWriter {
	if w.nacc > 0 {
		w.bits(0, 8-w.nacc)
	}
	return w
}

func (w *bitWriter) bytes() []byte {
	out := w.out
	if w.nacc > 0 {
		out = append(out, byte(w.acc))
	}
	return out
}

func (w *bitWriter) stored(final bool, data []byte) *bitWriter {
	w.bits(b2u(final), 1).bits(0, 2).align()
	n := uint64(len(data))
	w.bits(n, 16).bits(^n, 16)
	for _, c := range data {
		w.bits(uint64(c), 8)
	}
	return w
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// fixedLitCode writes literal/length symbol s with the fixed code (RFC
// 1951 3.2.6).
func (w *bitWriter) fixedLitCode(s int) *bitWriter {
	switch {
	case s < 144:
		return w.code(uint64(0x30+s), 8)
	case s < 256:
		return w.code(uint64(0x190+s-144), 9)
	case s < 280:
		return w.code(uint64(s-256), 7)
	default:
		return w.code(uint64(0xc0+s-280), 8)
	}
}

func (w *bitWriter) fixedLits(s string) *bitWriter {
	for _, c := range []byte(s) {
		w.fixedLitCode(int(c))
	}
	return w
}

// canonical returns the codes of lengths (RFC 1951 3.2.2).
func canonical(lengths []int) []uint64 {
	var count, next [16]uint64
	for _, l := range lengths {
		if l > 0 {
			count[l]++
		}
	}
	code := uint64(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	codes := make([]uint64, len(lengths))
	for s, l := range lengths {
		if l > 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// dynamic writes a dynamic block header: nlit and ndist code counts, the
// code length code's lengths clLens (by symbol), then the code length
// symbols syms with their extra bits ({symbol, extra} pairs).
func (w *bitWriter) dynamic(final bool, nlit, ndist int, clLens [19]int, syms [][2]int) *bitWriter {
	w.bits(b2u(final), 1).bits(2, 2)
	w.bits(uint64(nlit-257), 5).bits(uint64(ndist-1), 5).bits(19-4, 4)
	for _, s := range clOrder {
		w.bits(uint64(clLens[s]), 3)
	}
	codes := canonical(clLens[:])
	for _, s := range syms {
		w.code(codes[s[0]], uint(clLens[s[0]]))
		switch s[0] {
		case 16:
			w.bits(uint64(s[1]-3), 2)
		case 17:
			w.bits(uint64(s[1]-3), 3)
		case 18:
			w.bits(uint64(s[1]-11), 7)
		}
	}
	return w
}

// clComplete is a complete code length code: 13 symbols of 4 bits and 6
// of 5 (13/16 + 6/32 = 1).
var clComplete = func() (l [19]int) {
	for i := range l {
		l[i] = 4
		if i >= 13 {
			l[i] = 5
		}
	}
	return l
}()

// abcdLits is the literal/length code of abcdBlock: a, b, c, d of 3 bits
// and end-of-block of 1 bit, written with repeat codes 16, 17 and 18.
var abcdSyms = [][2]int{
	{18, 97},        // 0-96: 97 zeros
	{3, 0}, {16, 3}, // a, then b c d the same
	{18, 138}, {17, 10}, {17, 7}, // 101-255: 155 zeros
	{1, 0}, // 256: end of block
	{1, 0}, // one distance code of 1 bit
}

func abcdLengths() []int {
	l := make([]int, 257)
	for c := 'a'; c <= 'd'; c++ {
		l[c] = 3
	}
	l[256] = 1
	return l
}

// expectFlateAgrees runs in through compress/flate too: a test case must
// agree with the decoder Go ships (the differential fuzz target checks
// the same on random input).
func flateResult(in []byte) ([]byte, error) {
	return io.ReadAll(flate.NewReader(bytes.NewReader(in)))
}

func TestBlocks(t *testing.T) {
	lits := abcdLengths()
	abcd := canonical(lits)
	random := mailText(70000, 9)

	cases := []struct {
		name string
		in   []byte
		want string // output; with err, what comes before the error
		err  string // substring of the error; "" for none
	}{
		{name: "stored", in: new(bitWriter).stored(true, []byte("hello")).bytes(), want: "hello"},
		{name: "stored empty then fixed", in: new(bitWriter).stored(false, nil).bits(1, 1).bits(1, 2).fixedLits("hi").fixedLitCode(256).bytes(), want: "hi"},
		{name: "stored 65535", in: new(bitWriter).stored(true, random[:65535]).bytes(), want: string(random[:65535])},
		{name: "fixed", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("abc").fixedLitCode(256).bytes(), want: "abc"},
		{name: "fixed empty", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLitCode(256).bytes(), want: ""},
		{name: "empty fixed block then final stored (a partial flush)", in: new(bitWriter).bits(0, 1).bits(1, 2).fixedLitCode(256).stored(true, []byte("z")).bytes(), want: "z"},
		{name: "length 258 distance 1", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("a").fixedLitCode(285).code(0, 5).fixedLitCode(256).bytes(), want: strings.Repeat("a", 259)},
		{name: "length 227+31 via extra bits", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("ab").fixedLitCode(284).bits(30, 5).code(1, 5).fixedLitCode(256).bytes(), want: "ab" + strings.Repeat("ab", 257)[:257]},
		{name: "distance 32768", in: new(bitWriter).stored(false, random[:32768]).bits(1, 1).bits(1, 2).fixedLitCode(285).code(29, 5).bits(8191, 13).fixedLitCode(256).bytes(), want: string(random[:32768]) + string(random[:258])},
		{name: "distance 32768 after wrapping", in: new(bitWriter).stored(false, random[:40000]).bits(1, 1).bits(1, 2).fixedLitCode(285).code(29, 5).bits(8191, 13).fixedLitCode(256).bytes(), want: string(random[:40000]) + string(random[40000-32768:][:258])},
		{name: "dynamic with repeat codes 16 17 18", in: new(bitWriter).dynamic(true, 257, 1, clComplete, abcdSyms).
			code(abcd['d'], 3).code(abcd['a'], 3).code(abcd['c'], 3).code(abcd['b'], 3).code(abcd[256], 1).bytes(), want: "dacb"},
		{name: "dynamic, a repeat spanning the literal and distance lengths", in: new(bitWriter).dynamic(true, 258, 4, clComplete, [][2]int{
			{18, 97}, {2, 0}, {2, 0}, {18, 138}, {18, 19}, {2, 0}, {16, 5}}).
			code(0, 2).code(1, 2).code(3, 2).code(0, 2).code(2, 2).bytes(), want: "abbbb"},
		{name: "over-subscribed literal code", in: new(bitWriter).dynamic(true, 257, 1, clComplete, [][2]int{
			{18, 97}, {2, 0}, {16, 3}, {18, 138}, {17, 10}, {17, 7}, {1, 0}, {1, 0}}).bytes(), err: "invalid literal/length code"},
		{name: "incomplete literal code", in: new(bitWriter).dynamic(true, 257, 1, clComplete, [][2]int{
			{18, 97}, {3, 0}, {16, 3}, {18, 138}, {17, 10}, {17, 7}, {2, 0}, {1, 0}}).bytes(), err: "invalid literal/length code"},
		{name: "incomplete code length code", in: new(bitWriter).dynamic(true, 257, 1, func() [19]int { l := clComplete; l[18] = 0; return l }(), nil).bytes(), err: "invalid code length code"},
		{name: "over-subscribed code length code", in: new(bitWriter).dynamic(true, 257, 1, func() [19]int { l := clComplete; l[18] = 1; return l }(), nil).bytes(), err: "invalid code length code"},
		{name: "repeat 16 first", in: new(bitWriter).dynamic(true, 257, 1, clComplete, [][2]int{{16, 3}}).bytes(), err: "none before"},
		{name: "repeat past the end", in: new(bitWriter).dynamic(true, 257, 1, clComplete, [][2]int{{18, 138}, {18, 121}}).bytes(), err: "past the last code"},
		{name: "more than 286 literal codes", in: new(bitWriter).bits(1, 1).bits(2, 2).bits(30, 5).bits(0, 5).bits(15, 4).bits(0, 57).bytes(), err: "286"},
		{name: "more than 30 distance codes", in: new(bitWriter).bits(1, 1).bits(2, 2).bits(0, 5).bits(30, 5).bits(15, 4).bits(0, 57).bytes(), err: "30 distance"},
		{name: "truncated dynamic block", in: new(bitWriter).dynamic(false, 257, 1, clComplete, abcdSyms).
			code(abcd['a'], 3).code(abcd['a'], 3).code(abcd[256], 1).bytes(), want: "aa", err: "unexpected EOF"},
		{name: "reserved block type", in: new(bitWriter).bits(1, 1).bits(3, 2).bytes(), err: "reserved"},
		{name: "stored length complement wrong", in: new(bitWriter).bits(1, 1).bits(0, 2).align().bits(5, 16).bits(5, 16).bytes(), err: "complement"},
		{name: "distance before the start", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("ab").fixedLitCode(257).code(2, 5).bytes(), want: "ab", err: "beyond the start"},
		{name: "distance symbol 30", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("ab").fixedLitCode(257).code(30, 5).bytes(), want: "ab", err: "distance symbol"},
		{name: "literal symbol 286", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("ab").fixedLitCode(286).bytes(), want: "ab", err: "literal/length symbol"},
		{name: "truncated in a block", in: new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("abc").bytes(), want: "abc", err: "unexpected EOF"},
		{name: "no final block", in: new(bitWriter).stored(false, []byte("abc")).bytes(), want: "abc", err: "unexpected EOF"},
		{name: "empty input", in: nil, err: "unexpected EOF"},
		{name: "trailing bytes after the final block are not read", in: append(new(bitWriter).stored(true, []byte("end")).bytes(), 0xff, 0xff), want: "end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, src := range []io.Reader{bytes.NewReader(c.in), &oneByteReader{c.in}} {
				got, err := io.ReadAll(NewReader(src))
				if string(got) != c.want {
					t.Errorf("output %q, want %q", clip(got), clip([]byte(c.want)))
				}
				switch {
				case c.err == "" && err != nil:
					t.Errorf("error %v", err)
				case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
					t.Errorf("error %v, want one saying %q", err, c.err)
				}
			}
			fgot, ferr := flateResult(c.in)
			if !bytes.Equal(fgot, []byte(c.want)) || (ferr != nil) != (c.err != "") {
				t.Errorf("compress/flate disagrees: %q, %v", clip(fgot), ferr)
			}
		})
	}
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// Corrupt input is a *CorruptError; the data before it is still read.
func TestCorruptErrorType(t *testing.T) {
	in := new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("ok").fixedLitCode(287).bytes()
	got, err := io.ReadAll(NewReader(bytes.NewReader(in)))
	var ce *CorruptError
	if string(got) != "ok" || !errors.As(err, &ce) {
		t.Fatalf("got %q, %v", got, err)
	}
	// The error sticks.
	r := NewReader(bytes.NewReader(in))
	io.ReadAll(r)
	if _, err := r.Read(make([]byte, 1)); !errors.As(err, &ce) {
		t.Fatalf("second read: %v", err)
	}
}

// Reset reuses a Reader for a new stream.
func TestReset(t *testing.T) {
	r := NewReader(bytes.NewReader(deflate(t, []byte("first"), 6, nil)))
	io.ReadAll(r)
	r.Reset(bytes.NewReader(deflate(t, []byte("second"), 6, nil)))
	got, err := io.ReadAll(r)
	if string(got) != "second" || err != nil {
		t.Fatalf("got %q, %v", got, err)
	}
}
