package wire

import (
	"io"
	"testing"
	"time"

	"mailroom/internal/connbuf"
)

// repeatReader returns the same line forever, so a benchmark reads through
// one Decoder without re-creating readers.
type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

const thunderbirdFetch = "a123 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n"

func BenchmarkDecodeFetchLine(b *testing.B) {
	d := NewDecoder(connbuf.NewReader(&repeatReader{line: []byte(thunderbirdFetch)}), Limits{}, nil)
	b.SetBytes(int64(len(thunderbirdFetch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.ReadTag(); err != nil {
			b.Fatal(err)
		}
		d.ExpectSP()
		d.ReadAtom()
		d.ExpectSP()
		d.ReadAtom()
		d.ExpectSP()
		if _, _, err := d.ReadSequenceSet(); err != nil {
			b.Fatal(err)
		}
		d.ExpectSP()
		items, err := d.ReadFetchItems()
		if err != nil || len(items) != 4 {
			b.Fatal(err)
		}
		if err := d.ExpectCRLF(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeFetchResponse(b *testing.B) {
	w := connbuf.NewWriter(io.Discard)
	e := NewEncoder(w)
	date := time.Date(2024, 3, 7, 9, 15, 2, 0, time.FixedZone("", 3600))
	flags := []string{`\Seen`, "$Forwarded"}
	b.ReportAllocs()
	for b.Loop() {
		e.Raw("* ").Number(4711).Raw(" FETCH (UID ").Number(98765).
			Raw(" FLAGS ").Flags(flags).
			Raw(" RFC822.SIZE ").Number(44827).
			Raw(" INTERNALDATE ").DateTime(date).
			Raw(" ENVELOPE (").String("Thu, 07 Mar 2024 09:15:02 +0100").SP().
			String(`Re: the "quarterly" report`).SP().
			Raw("((").String("Alice Example").Raw(" NIL ").String("alice").SP().String("example.org").Raw(")) ").
			Raw("((").String("Alice Example").Raw(" NIL ").String("alice").SP().String("example.org").Raw(")) ").
			Raw("((").String("Alice Example").Raw(" NIL ").String("alice").SP().String("example.org").Raw(")) ").
			Raw("((NIL NIL ").String("bob").SP().String("example.net").Raw(")) ").
			NString("").SP().NString("").SP().
			NString("<1@example.org>").SP().NString("<2@example.org>").
			Raw("))").CRLF()
		if w.Buffered() > 3000 {
			w.Flush()
		}
	}
}
