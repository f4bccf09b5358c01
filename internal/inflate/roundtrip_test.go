package inflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mailText is deterministic mail-like text: headers, words from a small
// vocabulary with some non-ASCII, quoted replies, base64 lines.
func mailText(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the meeting quarterly report please find attached regards " +
		"thanks invoice schedule Montag Bericht für réunion équipe プロジェクト 会議 " +
		"project deadline tomorrow review draft budget approved client server mailbox")
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "From: user%d@example.test\r\nTo: team%d@example.test\r\nSubject: Re: %s %s\r\n"+
			"Message-ID: <%d.%d@example.test>\r\nDate: Mon, %d Dec 2026 10:%02d:00 +0000\r\n\r\n",
			rng.IntN(50), rng.IntN(9), words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.Int64(), rng.IntN(1000), 1+rng.IntN(28), rng.IntN(60))
		for range 5 + rng.IntN(30) {
			if rng.IntN(6) == 0 {
				b.WriteString("> ")
			}
			for range 3 + rng.IntN(12) {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			b.WriteString("\r\n")
		}
		if rng.IntN(4) == 0 {
			raw := make([]byte, 57*(1+rng.IntN(20)))
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			enc := []byte(strings.ToUpper(hex.EncodeToString(raw)))
			for len(enc) > 0 {
				k := min(76, len(enc))
				b.Write(enc[:k])
				b.WriteString("\r\n")
				enc = enc[k:]
			}
		}
	}
	return b.Bytes()[:n]
}

func deflate(t testing.TB, data []byte, level int, chunks []int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		c = min(c, len(data))
		w.Write(data[:c])
		data = data[c:]
		w.Flush() // sync flush
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

// readAll reads r with reads of varying sizes.
func readAll(r io.Reader, sizes []int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 1<<16)
	for i := 0; ; i++ {
		n, err := r.Read(buf[:sizes[i%len(sizes)]])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// oneByteReader gives its input a byte per Read, so the decoder stops
// and resumes at every possible place.
type oneByteReader struct{ b []byte }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

// Every level of compress/flate, with and without sync flushes, read in
// reads of many sizes and from input arriving a byte at a time.
func TestRoundTripFlate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"empty":  nil,
		"one":    []byte("x"),
		"mail":   mailText(300<<10, 1),
		"random": random,
		"zeros":  make([]byte, 200<<10),
		"mixed":  append(append(mailText(40<<10, 2), random[:40<<10]...), mailText(40<<10, 3)...),
	}
	levels := []int{flate.HuffmanOnly, flate.DefaultCompression, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for name, data := range inputs {
		for _, level := range levels {
			for _, chunks := range [][]int{nil, {1, 100, 5000, 70000, 3}} {
				t.Run(fmt.Sprintf("%s/level%d/flushes%d", name, level, len(chunks)), func(t *testing.T) {
					z := deflate(t, data, level, chunks)
					got, err := readAll(NewReader(bytes.NewReader(z)), []int{1 << 16, 1, 13, 4096, 300})
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("got %d bytes, err %v; want %d bytes", len(got), err, len(data))
					}
					if level == 6 || level == 1 {
						got, err = io.ReadAll(NewReader(&oneByteReader{z}))
						if err != nil || !bytes.Equal(got, data) {
							t.Fatalf("byte at a time: got %d bytes, err %v; want %d bytes", len(got), err, len(data))
						}
					}
				})
			}
		}
	}
}

type flushPoint struct {
	end int    // stream offset where the flush ended
	msg []byte // the text written before it
}

// partialFlush reads the Z_PARTIAL_FLUSH fixtures of testdata/gen_partial.py.
func partialFlush(t *testing.T, level int) ([]byte, []flushPoint) {
	t.Helper()
	stream, err := os.ReadFile(fmt.Sprintf("testdata/partial_flush_%d.bin", level))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/partial_flush.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pts []flushPoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		lv, _ := strconv.Atoi(fs[0])
		end, _ := strconv.Atoi(fs[1])
		msg, err := hex.DecodeString(fs[2])
		if err != nil {
			t.Fatal(err)
		}
		if lv == level {
			pts = append(pts, flushPoint{end, msg})
		}
	}
	if len(pts) == 0 {
		t.Fatal("no flush points")
	}
	return stream, pts
}

// zlib's Z_PARTIAL_FLUSH (what mbsync sends): every command is readable
// once the bytes up to its flush have arrived, while the writer stays
// open — the stream has no final block, and the next byte never comes
// until the reply has been seen.
func TestPartialFlushPipe(t *testing.T) {
	for _, level := range []int{1, 6, 9} {
		t.Run(fmt.Sprint("level", level), func(t *testing.T) {
			stream, pts := partialFlush(t, level)
			pr, pw := io.Pipe()
			r := NewReader(pr)
			ack := make(chan struct{})
			go func() {
				prev := 0
				for _, p := range pts {
					pw.Write(stream[prev:p.end])
					prev = p.end
					<-ack // the "reply": nothing more is written before it
				}
				pw.Close()
			}()
			buf := make([]byte, 1000)
			for i, p := range pts {
				got := make([]byte, 0, len(p.msg))
				deadline := time.AfterFunc(5*time.Second, func() { pw.CloseWithError(fmt.Errorf("timed out waiting for command %d", i)) })
				for len(got) < len(p.msg) {
					n, err := r.Read(buf[:min(len(buf), len(p.msg)-len(got))])
					got = append(got, buf[:n]...)
					if err != nil {
						t.Fatalf("command %d: %v after %q", i, err, got)
					}
				}
				deadline.Stop()
				if !bytes.Equal(got, p.msg) {
					t.Fatalf("command %d: got %q, want %q", i, got, p.msg)
				}
				ack <- struct{}{}
			}
			if n, err := r.Read(buf); n != 0 || err != io.ErrUnexpectedEOF {
				t.Fatalf("at the end of a stream without a final block: %d, %v", n, err)
			}
		})
	}
}

// compress/flate's own Flush (a sync flush, an empty stored block) on an
// open stream: the data before it is readable at once as well.
func TestSyncFlushPipe(t *testing.T) {
	pr, pw := io.Pipe()
	fw, _ := flate.NewWriter(pw, flate.BestSpeed)
	r := NewReader(pr)
	msgs := []string{"a1 LOGIN ann secret\r\n", "a2 SELECT INBOX\r\n", strings.Repeat("a3 NOOP\r\n", 500)}
	go func() {
		for _, m := range msgs {
			fw.Write([]byte(m))
			fw.Flush()
		}
	}()
	for _, m := range msgs {
		got := make([]byte, len(m))
		if _, err := io.ReadFull(r, got); err != nil || string(got) != m {
			t.Fatalf("got %q, %v; want %q", got, err, m)
		}
	}
	pw.Close()
}
