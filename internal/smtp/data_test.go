package smtp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCRLFOnly(t *testing.T) {
	good := []string{"", "a\r\nb\r\n", "no newline", "\r\n\r\n", "x\r\n.\r\n"}
	for _, s := range good {
		out, err := io.ReadAll(&crlfOnly{r: iotest.OneByteReader(strings.NewReader(s))})
		if err != nil || string(out) != s {
			t.Errorf("%q: %q %v", s, out, err)
		}
	}
	bad := []string{"a\nb", "a\rb", "a\r\r\n", "\n", "end\r", "a\r\n.\n", "x\n.\r\n"}
	for _, s := range bad {
		if _, err := io.ReadAll(&crlfOnly{r: iotest.OneByteReader(strings.NewReader(s))}); !errors.Is(err, errBareLineEnd) {
			t.Errorf("%q: %v, want errBareLineEnd", s, err)
		}
		if _, err := io.ReadAll(&crlfOnly{r: strings.NewReader(s)}); !errors.Is(err, errBareLineEnd) {
			t.Errorf("%q in one read: %v, want errBareLineEnd", s, err)
		}
	}
}

func TestReadHeader(t *testing.T) {
	msg := "From: a@example.test\r\nSubject: folded\r\n  subject\r\n\r\nbody\r\n"
	hdr, rest, err := readHeader(iotest.HalfReader(strings.NewReader(msg)), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rest)
	if string(hdr)+string(body) != msg || !strings.HasSuffix(string(hdr), "\r\n\r\n") {
		t.Fatalf("split %q | %q", hdr, body)
	}
	if v, ok := headerField(hdr, "subject"); !ok || v != "folded subject" {
		t.Fatalf("Subject = %q %v", v, ok)
	}
	if _, ok := headerField(hdr, "Date"); ok {
		t.Fatal("found a Date that is not there")
	}
	if _, _, err := readHeader(strings.NewReader(strings.Repeat("X: y\r\n", 1000)+"\r\n"), 1<<10); !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("huge header: %v", err)
	}
	// No blank line at all: everything is header.
	hdr, rest, err = readHeader(strings.NewReader("Subject: only\r\n"), 1<<10)
	if body, _ := io.ReadAll(rest); err != nil || string(hdr) != "Subject: only\r\n" || len(body) != 0 {
		t.Fatalf("header-only: %q %q %v", hdr, body, err)
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte("From: a@b\r\n\r\nbody"), "from")
	f.Add([]byte("\r\n\r\n"), "date")
	f.Add([]byte("X: \r\n\t\r\n"), "x")
	f.Fuzz(func(t *testing.T, data []byte, field string) {
		hdr, rest, err := readHeader(&crlfOnly{r: bytes.NewReader(data)}, 4096)
		if err != nil {
			return
		}
		body, err := io.ReadAll(rest)
		if err != nil {
			return
		}
		if !bytes.Equal(append(append([]byte{}, hdr...), body...), data) {
			t.Fatalf("header+body != input")
		}
		headerField(hdr, field)
	})
}
