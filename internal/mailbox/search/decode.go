package search

import (
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message/charset"
)

// Content-Transfer-Encoding and charset decoding of body parts, as streams:
// a part of any size is decoded through fixed buffers. Decoding is
// lenient, as search must be: whatever can be decoded is searched, and
// malformed input never fails a SEARCH.

// decoder undoes a transfer encoding incrementally. decode appends the
// output for src to dst (at most len(src)+2 bytes); flush appends what a
// pending partial sequence stands for at the end of input.
type decoder interface {
	decode(dst, src []byte) []byte
	flush(dst []byte) []byte
}

// decodeReader reads src through a decoder. Its buffers are fixed; a
// bodyScanner reuses one per Match.
type decodeReader struct {
	src    io.Reader
	dec    decoder
	raw    []byte
	out    []byte
	off    int
	err    error
	flushd bool
}

func (r *decodeReader) reset(src io.Reader, dec decoder) {
	if r.raw == nil {
		r.raw = make([]byte, 8<<10)
		r.out = make([]byte, 0, 8<<10+4)
	}
	r.src, r.dec, r.off, r.err, r.flushd = src, dec, 0, nil, false
	r.out = r.out[:0]
}

func (r *decodeReader) Read(p []byte) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			if r.flushd {
				return 0, r.err
			}
			r.flushd = true
			r.out, r.off = r.dec.flush(r.out[:0]), 0
			continue
		}
		n, err := r.src.Read(r.raw)
		r.out, r.off = r.dec.decode(r.out[:0], r.raw[:n]), 0
		r.err = err
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

// b64Values maps base64 alphabet bytes to their values; others are 0xFF.
var b64Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// base64Decoder skips bytes outside the alphabet (line ends, garbage) and
// treats "=" as the end of a quantum, after which a new one may start:
// concatenated base64 blobs exist in the wild.
type base64Decoder struct {
	acc uint32
	n   int // sextets in acc
}

func (d *base64Decoder) decode(dst, src []byte) []byte {
	for _, c := range src {
		v := b64Values[c]
		if v == 0xFF {
			if c == '=' {
				dst = d.flush(dst)
			}
			continue
		}
		d.acc = d.acc<<6 | uint32(v)
		d.n++
		if d.n == 4 {
			dst = append(dst, byte(d.acc>>16), byte(d.acc>>8), byte(d.acc))
			d.acc, d.n = 0, 0
		}
	}
	return dst
}

// flush emits the bytes of a partial quantum: 2 sextets make one byte, 3
// make two.
func (d *base64Decoder) flush(dst []byte) []byte {
	switch d.n {
	case 2:
		dst = append(dst, byte(d.acc>>4))
	case 3:
		dst = append(dst, byte(d.acc>>10), byte(d.acc>>2))
	}
	d.acc, d.n = 0, 0
	return dst
}

// qpDecoder decodes quoted-printable as a state machine, so that escapes
// and soft line breaks may straddle reads. Malformed escapes are kept
// literally (RFC 2045 6.7 note 1).
type qpDecoder struct {
	state qpState
	hi    byte // the first hex digit of an escape (qpHex)
}

type qpState uint8

const (
	qpText   qpState = iota
	qpEq             // after "="
	qpHex            // after "=" and one hex digit
	qpSoftWS         // after "=" and whitespace: a soft break with trailing blanks, or junk
	qpSoftCR         // after "=" [blanks] CR
)

func (d *qpDecoder) decode(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch d.state {
		case qpText:
			if c == '=' {
				d.state = qpEq
				continue
			}
			// Copy the run of plain text up to the next escape at once.
			j := bytes.IndexByte(src[i:], '=')
			if j < 0 {
				j = len(src) - i
			}
			dst = append(dst, src[i:i+j]...)
			i += j - 1
		case qpEq:
			switch {
			case isHex(c):
				d.hi, d.state = c, qpHex
			case c == '\n':
				d.state = qpText
			case c == '\r':
				d.state = qpSoftCR
			case c == ' ' || c == '\t':
				d.state = qpSoftWS
			default:
				dst = append(dst, '=')
				d.state = qpText
				i-- // c is ordinary text
			}
		case qpHex:
			d.state = qpText
			if isHex(c) {
				dst = append(dst, unhex(d.hi)<<4|unhex(c))
			} else {
				dst = append(dst, '=', d.hi)
				i--
			}
		case qpSoftWS:
			switch c {
			case ' ', '\t':
			case '\r':
				d.state = qpSoftCR
			case '\n':
				d.state = qpText
			default:
				// "= x": not a soft break; the blanks shrink to one.
				dst = append(dst, '=', ' ')
				d.state = qpText
				i--
			}
		case qpSoftCR:
			d.state = qpText
			if c != '\n' {
				i-- // "=CR" without LF: a soft break all the same
			}
		}
	}
	return dst
}

func (d *qpDecoder) flush(dst []byte) []byte {
	switch d.state {
	case qpEq:
		dst = append(dst, '=')
	case qpHex:
		dst = append(dst, '=', d.hi)
	}
	d.state = qpText
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// isUTF8Charset reports charsets whose bytes are searched as they are. An
// absent charset is taken as UTF-8 rather than US-ASCII: 8-bit bodies
// without a label are UTF-8 far more often than not.
func isUTF8Charset(cs string) bool {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968":
		return true
	}
	return false
}

// charsetReader converts r from cs to UTF-8. An unknown charset leaves the
// bytes as they are: ASCII text still matches.
func charsetReader(cs string, r io.Reader) io.Reader {
	if isUTF8Charset(cs) {
		return r
	}
	cr, err := charset.Reader(strings.ToLower(strings.TrimSpace(cs)), r)
	if err != nil {
		return r
	}
	return cr
}
