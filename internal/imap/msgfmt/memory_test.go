package msgfmt

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"math/rand"
	"runtime"
	"strconv"
	"testing"

	"mailroom/internal/connbuf"
	"mailroom/internal/imap/wire"
)

// literalSink checks a literal written to it without keeping it: it parses
// the "{n}\r\n" (or "~{n}\r\n") header and hashes the octets after it.
type literalSink struct {
	head []byte
	body int64
	sum  hash.Hash
}

func (s *literalSink) Write(p []byte) (int, error) {
	n := len(p)
	if i := bytes.Index(s.head, []byte("\r\n")); i < 0 {
		s.head = append(s.head, p...)
		i = bytes.Index(s.head, []byte("\r\n"))
		if i < 0 {
			return n, nil
		}
		p = s.head[i+2:]
		s.head = s.head[:i+2]
	}
	s.body += int64(len(p))
	s.sum.Write(p)
	return n, nil
}

// allocated returns the bytes allocated while fn runs.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A 20 MB attachment is streamed: BINARY (decoded twice), BINARY.SIZE and
// BODY[n] allocate a bounded amount, far below its size.
func TestLargeAttachmentBoundedMemory(t *testing.T) {
	size := 20 << 20
	if testing.Short() {
		size = 2 << 20
	}
	data := make([]byte, size)
	rand.New(rand.NewSource(4)).Read(data)
	encoded := b64Lines(data, 76)
	raw := []byte("From: big@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		encoded + "\r\n--B--\r\n")
	m := scanBytes(t, raw)
	want := sha256.Sum256(data)
	const limit = 512 << 10

	sink := &literalSink{sum: sha256.New()}
	e := wire.NewEncoder(connbuf.NewWriter(sink))
	var err error
	n := allocated(func() {
		err = WriteBinary(e, m.msg, m.body, sec("", 2), nil)
		_ = e.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(sink.head) != "~{"+strconv.Itoa(size)+"}\r\n" && string(sink.head) != "{"+strconv.Itoa(size)+"}\r\n" {
		t.Fatalf("literal header %q", sink.head)
	}
	if sink.body != int64(size) || !bytes.Equal(sink.sum.Sum(nil), want[:]) {
		t.Fatalf("decoded %d octets, content differs: %v", sink.body, !bytes.Equal(sink.sum.Sum(nil), want[:]))
	}
	t.Logf("BINARY[2] of %d MB: %d KiB allocated", size>>20, n>>10)
	if n > limit {
		t.Errorf("BINARY allocated %d bytes", n)
	}

	n = allocated(func() {
		var got int64
		got, err = BinarySize(m.msg, m.body, sec("", 2))
		if got != int64(size) {
			t.Errorf("BinarySize = %d", got)
		}
	})
	if err != nil || n > limit {
		t.Errorf("BinarySize: %v, %d bytes allocated", err, n)
	}

	sink = &literalSink{sum: sha256.New()}
	e = wire.NewEncoder(connbuf.NewWriter(sink))
	n = allocated(func() {
		err = WriteSection(e, m.msg, m.body, sec("", 2), nil)
		_ = e.Flush()
	})
	wantRaw := sha256.Sum256([]byte(encoded))
	if err != nil || sink.body != int64(len(encoded)) || !bytes.Equal(sink.sum.Sum(nil), wantRaw[:]) {
		t.Fatalf("BODY[2]: %v, %d octets", err, sink.body)
	}
	if n > limit {
		t.Errorf("BODY[2] allocated %d bytes", n)
	}
}
