package mime

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// mixedMessage builds a multipart/mixed message of roughly size bytes: a
// text/plain and text/html alternative plus base64 attachments.
func mixedMessage(size, attachments int) []byte {
	var b strings.Builder
	b.WriteString(crlf(`Received: from mx.example.com by mailroom; Tue, 1 Jul 2003 10:52:37 +0200
From: "Joe Q. Public" <john.q.public@example.com>
To: Mary Smith <mary@x.test>, jdoe@example.org
Subject: =?utf-8?q?Quarterly_r=C3=A9sults?=
Date: Tue, 1 Jul 2003 10:52:37 +0200
Message-ID: <5678.21-Nov-1997@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_outer_boundary_0123456789"

--=_outer_boundary_0123456789
Content-Type: multipart/alternative; boundary="=_alt_boundary_0123456789"

--=_alt_boundary_0123456789
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

`))
	text := strings.Repeat("Hello Mary, here are the quarterly r=C3=A9sults you asked for.\r\n", 40)
	b.WriteString(text)
	b.WriteString(crlf("\n--=_alt_boundary_0123456789\nContent-Type: text/html; charset=utf-8\n\n"))
	b.WriteString("<html><body>" + strings.Repeat("<p>Hello Mary, here are the results.</p>\r\n", 40) + "</body></html>")
	b.WriteString(crlf("\n--=_alt_boundary_0123456789--\n"))
	rest := size - b.Len()
	for i := range attachments {
		fmt.Fprintf(&b, "\r\n--=_outer_boundary_0123456789\r\nContent-Type: application/octet-stream; name=\"file%d.bin\"\r\n"+
			"Content-Disposition: attachment; filename*=utf-8''file%%E2%%82%%AC%d.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i)
		b.WriteString(b64lines(pattern(max(rest/attachments*3/4, 3))))
	}
	b.WriteString("\r\n--=_outer_boundary_0123456789--\r\n")
	return []byte(b.String())
}

func BenchmarkScan(b *testing.B) {
	for _, bc := range []struct {
		name string
		msg  []byte
	}{
		{"10KB", mixedMessage(10<<10, 1)},
		{"1MB-attachments", mixedMessage(1<<20, 4)},
		{"20MB-attachment", mixedMessage(20<<20, 1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				s := NewScanner(Limits{})
				// delivery writes in buffer-sized chunks
				for i := 0; i < len(bc.msg); i += 32 << 10 {
					s.Write(bc.msg[i:min(i+32<<10, len(bc.msg))])
				}
				if _, err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	m, err := Scan(strings.NewReader(string(mixedMessage(1<<20, 4))), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := m.MarshalBinary()
		var m2 Message
		if err := m2.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBoundedMemory checks that scanning a 20 MB message allocates a small
// fraction of its size: bodies are never buffered.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB input")
	}
	inputs := map[string][]byte{
		"attachment": mixedMessage(20<<20, 1),
		// one 20 MB line with no line end, in a multipart
		"single line": []byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("Q", 20<<20)),
		// one 20 MB header field
		"header line": []byte("Subject: " + strings.Repeat("s", 20<<20) + "\r\n\r\nbody"),
	}
	for name, msg := range inputs {
		t.Run(name, func(t *testing.T) {
			scan := func() {
				s := NewScanner(Limits{})
				for i := 0; i < len(msg); i += 64 << 10 {
					s.Write(msg[i:min(i+64<<10, len(msg))])
				}
				if _, err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			scan() // warm up
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			scan()
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s, %d MB input: %d KB allocated, %.0f allocations", name, len(msg)>>20, alloc>>10, testing.AllocsPerRun(1, scan))
			// Bounded by the limits, not the input: a full header block
			// (256 KiB, grown by doubling, then copied into the field
			// value) or the preview capture (16 KiB), plus small change.
			if alloc > 4*defaultMaxHeaderBytes+64<<10 {
				t.Errorf("allocated %d bytes for a %d byte message", alloc, len(msg))
			}
		})
	}
}
