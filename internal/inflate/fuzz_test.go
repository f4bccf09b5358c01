package inflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"os"
	"testing"
)

// readCapped reads r to its end or to 4 MiB, whichever comes first
// (DEFLATE expands up to 1032:1; the cap keeps a fuzz run fast).
func readCapped(r io.Reader) ([]byte, error) {
	var out bytes.Buffer
	_, err := io.CopyN(&out, r, 4<<20)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return out.Bytes(), err
}

func seedCorpus(f *testing.F) {
	for _, level := range []int{flate.HuffmanOnly, 0, 1, 6, 9} {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, level)
		w.Write(mailText(3000, uint64(level+10)))
		w.Flush()
		w.Write([]byte("a1 NOOP\r\n"))
		w.Close()
		f.Add(b.Bytes())
	}
	for _, level := range []int{1, 6, 9} {
		z, err := os.ReadFile("testdata/partial_flush_" + string(rune('0'+level)) + ".bin")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(z[:300])
	}
	lits := abcdLengths()
	abcd := canonical(lits)
	f.Add(new(bitWriter).dynamic(true, 257, 1, clComplete, abcdSyms).code(abcd['d'], 3).code(abcd[256], 1).bytes())
	f.Add(new(bitWriter).bits(1, 1).bits(1, 2).fixedLits("a").fixedLitCode(285).code(0, 5).fixedLitCode(256).bytes())
	f.Add(new(bitWriter).stored(false, []byte("abc")).bits(1, 1).bits(1, 2).fixedLitCode(286).bytes())
	f.Add([]byte{})
}

// FuzzDifferential: on any input, the output and whether it is an error
// agree with compress/flate, and the Reader never panics. Input is read
// whole and a byte at a time (every resumption point).
func FuzzDifferential(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := readCapped(flate.NewReader(bytes.NewReader(in)))
		got, err := readCapped(NewReader(bytes.NewReader(in)))
		agree(t, got, err, want, werr)
		got2, err2 := readCapped(NewReader(&oneByteReader{in}))
		if !bytes.Equal(got, got2) || (err == nil) != (err2 == nil) {
			t.Fatalf("byte at a time: %d bytes, err %v; at once %d bytes, err %v", len(got2), err2, len(got), err)
		}
	})
}

// agree checks our result against compress/flate's. One difference is
// allowed, on input that ends mid-stream (both fail with
// io.ErrUnexpectedEOF): compress/flate reads as many bits as the
// end-of-block code has before it decodes any literal/length symbol, so
// it holds back the symbols in the last few bits of a truncated stream;
// this Reader returns every complete symbol (an IMAP peer's command must
// not wait for bits that are not coming). Its output then extends
// compress/flate's.
func agree(t *testing.T, got []byte, err error, want []byte, werr error) {
	t.Helper()
	if (err != nil) != (werr != nil) {
		t.Fatalf("got %d bytes, err %v; compress/flate %d bytes, err %v", len(got), err, len(want), werr)
	}
	if bytes.Equal(got, want) {
		return
	}
	if werr == io.ErrUnexpectedEOF && bytes.HasPrefix(got, want) {
		return
	}
	t.Fatalf("got %d bytes, err %v; compress/flate %d bytes, err %v", len(got), err, len(want), werr)
}

// FuzzRoundTrip: whatever compress/flate writes, at any level and with
// sync flushes anywhere, reads back the same.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("a1 LOGIN ann secret\r\na2 SELECT INBOX\r\n"), int8(6), uint16(7))
	f.Add(mailText(5000, 3), int8(1), uint16(1000))
	f.Add(bytes.Repeat([]byte{0}, 70000), int8(9), uint16(0))
	f.Add([]byte{}, int8(-2), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, level int8, every uint16) {
		lv := (int(level)%12+12)%12 - 2 // -2 (HuffmanOnly) to 9
		var chunks []int
		if every > 0 {
			for n := 0; n < len(data); n += int(every) {
				chunks = append(chunks, int(every))
			}
		}
		z := deflate(t, data, lv, chunks)
		got, err := io.ReadAll(NewReader(bytes.NewReader(z)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("level %d: got %d bytes, %v; want %d", lv, len(got), err, len(data))
		}
	})
}
