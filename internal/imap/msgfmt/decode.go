package msgfmt

import (
	"fmt"
	"io"
)

// transferDecoder undoes a Content-Transfer-Encoding incrementally, in
// pieces cut anywhere. Decoding is lenient and never fails: BINARY must
// send something for the mail that exists, and the two passes over a value
// (count, then send) must agree, which a deterministic decoder guarantees.
type transferDecoder interface {
	// decode appends the decoded form of src to dst, carrying state to the
	// next call. It appends at most len(src)+maxHold octets.
	decode(dst, src []byte) []byte
	// finish appends what the held state decodes to at the end of input.
	finish(dst []byte) []byte
}

// maxHold bounds the octets a decoder holds undecided between calls (a run
// of whitespace that may turn out to be trailing).
const maxHold = 256

// newDecoder returns the decoder for a lower-case Content-Transfer-Encoding:
// nil for the identity encodings, ok false for unknown ones.
func newDecoder(enc string) (d transferDecoder, ok bool) {
	switch enc {
	case "", "7bit", "8bit", "binary":
		return nil, true
	case "base64":
		return &base64Decoder{}, true
	case "quoted-printable":
		return &qpDecoder{}, true
	}
	return nil, false
}

// decodingReader is an io.Reader of the decoded form of src.
type decodingReader struct {
	src io.Reader
	dec transferDecoder
	in  []byte
	out []byte
	pos int
	err error // io.EOF once src ended and the decoder finished
}

func newDecodingReader(src io.Reader, dec transferDecoder) *decodingReader {
	return &decodingReader{
		src: src,
		dec: dec,
		in:  make([]byte, chunkSize),
		out: make([]byte, 0, chunkSize+maxHold),
	}
}

func (r *decodingReader) Read(p []byte) (int, error) {
	for r.pos == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		n, err := r.src.Read(r.in)
		r.out = r.dec.decode(r.out[:0], r.in[:n])
		r.pos = 0
		switch {
		case err == io.EOF:
			r.out = r.dec.finish(r.out)
			r.err = io.EOF
		case err != nil:
			r.err = fmt.Errorf("msgfmt: read message: %w", err)
		}
	}
	n := copy(p, r.out[r.pos:])
	r.pos += n
	return n, nil
}

// base64Decoder decodes base64 (RFC 2045 6.8), skipping every octet
// outside the alphabet (line ends, and the garbage RFC 2045 says to
// ignore). '=' ends a quantum, so that concatenated encodings decode; a
// partial quantum at the end decodes as far as its octets go.
type base64Decoder struct {
	q [4]byte // sextets of the current quantum
	n int
}

func (d *base64Decoder) decode(dst, src []byte) []byte {
	for _, c := range src {
		v, ok := sextet(c)
		if !ok {
			if c == '=' {
				dst = d.finish(dst)
			}
			continue
		}
		d.q[d.n] = v
		d.n++
		if d.n == 4 {
			dst = append(dst, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
			d.n = 0
		}
	}
	return dst
}

func (d *base64Decoder) finish(dst []byte) []byte {
	switch d.n {
	case 2:
		dst = append(dst, d.q[0]<<2|d.q[1]>>4)
	case 3:
		dst = append(dst, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.n = 0
	return dst
}

func sextet(c byte) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26, true
	case '0' <= c && c <= '9':
		return c - '0' + 52, true
	case c == '+':
		return 62, true
	case c == '/':
		return 63, true
	}
	return 0, false
}

// qpState is what the quoted-printable decoder holds undecided.
type qpState uint8

const (
	qpNormal  qpState = iota
	qpSpace           // hold: a run of SP/HTAB, trailing if a line end follows
	qpSpaceCR         // hold: SP/HTAB run and CR
	qpEq              // hold: "="
	qpEqHex           // hold: "=" and one hex digit
	qpEqSpace         // hold: "=" and SP/HTAB: a soft line break if a line end follows
	qpEqCR            // hold: "=", maybe SP/HTAB, and CR
)

// qpDecoder decodes quoted-printable (RFC 2045 6.7): =XX escapes, soft line
// breaks ("=" before a line end, after optional trailing whitespace), and
// removal of trailing whitespace before a line end (rule 3: it was added in
// transport). Malformed escapes are kept literally. Line ends (CRLF or a
// bare LF) pass as they are.
type qpDecoder struct {
	st   qpState
	hold [maxHold]byte
	n    int
}

func (d *qpDecoder) decode(dst, src []byte) []byte {
	for _, c := range src {
		dst = d.byte(dst, c)
	}
	return dst
}

func (d *qpDecoder) byte(dst []byte, c byte) []byte {
	switch d.st {
	case qpNormal:
		return d.normal(dst, c)
	case qpSpace, qpEqSpace:
		switch c {
		case ' ', '\t':
			if d.n >= len(d.hold)-1 { // keep room for a CR
				// An absurdly long run is content, not transport padding.
				dst = d.release(dst)
				d.st = qpSpace
			}
			d.push(c)
			return dst
		case '\r':
			if d.st == qpSpace {
				d.st = qpSpaceCR
			} else {
				d.st = qpEqCR
			}
			d.push(c)
			return dst
		case '\n':
			soft := d.st == qpEqSpace
			d.drop() // trailing whitespace
			if soft {
				return dst
			}
			return append(dst, c)
		}
	case qpSpaceCR:
		if c == '\n' {
			d.drop() // trailing whitespace
			return append(dst, '\r', '\n')
		}
	case qpEq:
		switch {
		case isHex(c):
			d.st = qpEqHex
			d.push(c)
			return dst
		case c == ' ' || c == '\t':
			d.st = qpEqSpace
			d.push(c)
			return dst
		case c == '\r':
			d.st = qpEqCR
			d.push(c)
			return dst
		case c == '\n':
			d.drop() // soft line break
			return dst
		}
	case qpEqHex:
		if isHex(c) {
			b := unhex(d.hold[1])<<4 | unhex(c)
			d.drop()
			return append(dst, b)
		}
	case qpEqCR:
		if c == '\n' {
			d.drop() // soft line break
			return dst
		}
	}
	// c does not continue what is held, which is therefore content.
	return d.normal(d.release(dst), c)
}

// normal handles c with nothing held.
func (d *qpDecoder) normal(dst []byte, c byte) []byte {
	switch c {
	case '=':
		d.st = qpEq
		d.push(c)
		return dst
	case ' ', '\t':
		d.st = qpSpace
		d.push(c)
		return dst
	}
	return append(dst, c)
}

// finish resolves what is held at the end of the part. The line end after
// the last line belongs to the following boundary (RFC 2046 5.1.1), so the
// end of input is a line end: trailing whitespace goes, and "=" there is a
// soft line break.
func (d *qpDecoder) finish(dst []byte) []byte {
	switch d.st {
	case qpSpaceCR:
		dst = append(dst, '\r')
	case qpEqHex:
		dst = append(dst, d.hold[:d.n]...)
	}
	d.drop()
	return dst
}

// push holds c; callers make sure there is room.
func (d *qpDecoder) push(c byte) {
	d.hold[d.n] = c
	d.n++
}

// release appends the held octets to dst as content.
func (d *qpDecoder) release(dst []byte) []byte {
	dst = append(dst, d.hold[:d.n]...)
	d.drop()
	return dst
}

// drop forgets the held octets.
func (d *qpDecoder) drop() {
	d.n = 0
	d.st = qpNormal
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
