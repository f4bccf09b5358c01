package dsn

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"io"
	"runtime"
	"testing"
)

// generated is a message of size octets made up as it is read, so that the
// test itself holds none of it.
type generated struct {
	size, off int64
	header    []byte
}

var bodyLine = []byte("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")

func (g *generated) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.size-g.off)]
	for i := range p {
		o := g.off + int64(i)
		if o < int64(len(g.header)) {
			p[i] = g.header[o]
		} else {
			p[i] = bodyLine[(o-int64(len(g.header)))%int64(len(bodyLine))]
		}
	}
	g.off += int64(len(p))
	return len(p), nil
}

// tail is an io.Writer that hashes what it is given, counts it, and keeps
// its last octets, so that a report's end can be checked without keeping
// the report.
type tail struct {
	n    int64
	h    hash.Hash
	last []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	t.h.Write(p)
	t.last = append(t.last, p...)
	if len(t.last) > 1024 {
		t.last = append(t.last[:0], t.last[len(t.last)-1024:]...)
	}
	return len(p), nil
}

// TestStreaming writes reports about a 20 MB message, whole and as its
// header, and checks that what Write allocates is far below the message's
// size: the message is copied through, not held.
func TestStreaming(t *testing.T) {
	const size = 20 << 20
	header := []byte("From: a@example.org\r\nSubject: a big one\r\n\r\n")
	for _, ret := range []string{"FULL", "HDRS"} {
		r := failedReport()
		r.Return = ret
		r.MaxFull = 64 << 20
		out := &tail{h: sha256.New(), last: make([]byte, 0, 2048)}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := Write(out, r, &generated{size: size, header: header}, size)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("RET=%s: %v", ret, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("RET=%s: %d octets written, %d allocated", ret, out.n, alloc)
		if alloc > 1<<20 {
			t.Errorf("RET=%s: Write allocated %d octets for a message of %d", ret, alloc, size)
		}
		switch ret {
		case "FULL":
			if out.n < size {
				t.Errorf("RET=FULL: %d octets written, less than the message", out.n)
			}
			// The message's last octets, then the closing boundary.
			all := &tail{h: sha256.New()}
			io.Copy(all, &generated{size: size, header: header})
			want := append(all.last[len(all.last)-100:], "\r\n--=_"...)
			if !bytes.Contains(out.last, want) {
				t.Errorf("RET=FULL: the report does not end with the message: %q", out.last)
			}
		case "HDRS":
			if out.n > 8<<10 {
				t.Errorf("RET=HDRS: %d octets written", out.n)
			}
		}
		if !bytes.HasSuffix(out.last, []byte("--\r\n")) {
			t.Errorf("RET=%s: the report does not end with its closing boundary: %q", ret, out.last)
		}
	}
}

// TestStreamingContent writes a report about a 4 MB message and checks,
// with go-message, that the message is returned byte for byte.
func TestStreamingContent(t *testing.T) {
	const size = 4 << 20
	header := []byte("From: a@example.org\r\nSubject: a big one\r\n\r\n")
	r := failedReport()
	r.Return = "FULL"
	r.MaxFull = size
	var out bytes.Buffer
	if err := Write(&out, r, &generated{size: size, header: header}, size); err != nil {
		t.Fatal(err)
	}
	p, _ := mustParse(t, out.Bytes())
	want, _ := io.ReadAll(&generated{size: size, header: header})
	if !bytes.Equal(p.parts[2].body, want) {
		t.Errorf("returned %d octets, not the %d of the message", len(p.parts[2].body), len(want))
	}
}
