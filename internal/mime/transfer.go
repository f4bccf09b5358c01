package mime

import (
	"io"
	"strings"
)

// This file is the server's one Content-Transfer-Encoding decoder: IMAP
// BINARY, SEARCH BODY/TEXT, the webmail and the preview all read parts
// through it, so that a part decodes to the same octets whichever protocol
// asks.
//
// Decoding is lenient, the way mail clients decode: it never fails on
// content, only an unknown encoding name is something a caller may refuse
// (KnownTransferEncoding). It is also deterministic, whatever the input is
// cut into: IMAP BINARY decodes a part twice (to count, then to send) and
// both passes must agree.
//
// base64 (RFC 2045 6.8): octets outside the alphabet (line ends, spaces,
// garbage) are skipped; "=" ends a quantum, after which a new one may start
// (concatenated encodings exist in the wild); a partial quantum, padded or
// not, decodes as far as its sextets go (2 make one octet, 3 make two), the
// octets it yields being exact even when the input was cut there.
//
// quoted-printable (RFC 2045 6.7): "=XX" escapes (lower-case hex too), soft
// line breaks ("=" before a line end, optionally after trailing blanks),
// and removal of trailing blanks before a line end (rule 3: they were added
// in transport). Malformed escapes are kept literally (note 1). Line ends,
// CRLF or a bare LF, pass unchanged; a bare CR is no line end. The end of
// input counts as a line end, since the line end before a boundary belongs
// to the boundary (RFC 2046 5.1.1): a trailing "=" is a soft break and
// trailing blanks go, but a cut escape ("=4") is kept.

// KnownTransferEncoding reports whether enc names a Content-Transfer-Encoding
// this package decodes: the identity encodings ("" meaning none, "7bit",
// "8bit", "binary"), "base64" and "quoted-printable", in any case. IMAP
// BINARY must refuse the others (NO [UNKNOWN-CTE], RFC 3516 4.3); readers
// that only want text pass them through as they are.
func KnownTransferEncoding(enc string) bool {
	_, ok := transferKind(enc)
	return ok
}

// IdentityEncoding reports whether enc leaves content as it is: no
// encoding, "7bit", "8bit" or "binary". Such content can be sent straight
// from the store, its decoded size being its stored size.
func IdentityEncoding(enc string) bool {
	kind, ok := transferKind(enc)
	return ok && kind == identity
}

type transferEncoding uint8

const (
	identity transferEncoding = iota
	base64Enc
	qpEnc
)

func transferKind(enc string) (transferEncoding, bool) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "7bit", "8bit", "binary":
		return identity, true
	case "base64":
		return base64Enc, true
	case "quoted-printable":
		return qpEnc, true
	}
	return identity, false
}

// maxHold bounds the octets the quoted-printable decoder holds undecided
// between calls (a run of blanks that may turn out to be trailing). A
// longer run is content, not transport padding.
const maxHold = 256

// transferBuf is the size of a TransferReader's read buffer.
const transferBuf = 8 << 10

// transferState is the state of an incremental decoder of one encoding;
// decode appends at most len(src)+maxHold octets, and over a whole input
// the output is never longer than the input.
type transferState struct {
	enc transferEncoding

	// base64: the sextets of the current quantum
	q [4]byte
	n int

	// quoted-printable: what is held undecided
	st   qpState
	hold [maxHold]byte
	nh   int
}

func (d *transferState) reset(enc transferEncoding) {
	d.enc, d.n, d.st, d.nh = enc, 0, qpNormal, 0
}

// decode appends the decoded form of src to dst, carrying state to the next
// call.
func (d *transferState) decode(dst, src []byte) []byte {
	switch d.enc {
	case base64Enc:
		return d.base64(dst, src)
	case qpEnc:
		return d.qp(dst, src)
	}
	return append(dst, src...)
}

// finish appends what the held state decodes to at the end of input, and
// resets the state.
func (d *transferState) finish(dst []byte) []byte {
	switch d.enc {
	case base64Enc:
		return d.base64Flush(dst)
	case qpEnc:
		return d.qpFinish(dst)
	}
	return dst
}

// AppendDecoded appends the decoded form of src, a whole body or a prefix
// of one, in the Content-Transfer-Encoding enc to dst. Unknown encodings
// are copied as they are.
func AppendDecoded(dst, src []byte, enc string) []byte {
	kind, _ := transferKind(enc)
	var d transferState
	d.reset(kind)
	return d.finish(d.decode(dst, src))
}

// TransferReader streams the decoded form of a body through fixed buffers
// (about 16 KiB), whatever the body's size. A zero TransferReader is ready
// for Reset; resetting reuses the buffers, so a loop over many parts does
// not allocate per part.
type TransferReader struct {
	src  io.Reader
	dec  transferState
	in   []byte
	out  []byte
	pos  int
	err  error // the source's error, returned once out is drained
	done bool  // dec finished, after the source's io.EOF
}

// NewTransferReader returns a reader of src with the Content-Transfer-
// Encoding enc undone. An unknown encoding reads as the identity: callers
// that must refuse one ask KnownTransferEncoding first.
func NewTransferReader(src io.Reader, enc string) *TransferReader {
	r := new(TransferReader)
	r.Reset(src, enc)
	return r
}

// Reset makes r read src with enc undone, as NewTransferReader.
func (r *TransferReader) Reset(src io.Reader, enc string) {
	kind, _ := transferKind(enc)
	r.src, r.pos, r.err, r.done = src, 0, nil, false
	r.dec.reset(kind)
	r.out = r.out[:0]
	if kind != identity && r.in == nil {
		r.in = make([]byte, transferBuf)
		r.out = make([]byte, 0, transferBuf+maxHold)
	}
}

// Read reads decoded octets. Errors of the source other than io.EOF are
// returned as they are (after the octets decoded before them): the caller
// knows what it was reading.
func (r *TransferReader) Read(p []byte) (int, error) {
	if r.dec.enc == identity {
		return r.src.Read(p)
	}
	for r.pos == len(r.out) {
		if r.err != nil {
			if r.err != io.EOF || r.done {
				return 0, r.err
			}
			r.out, r.pos, r.done = r.dec.finish(r.out[:0]), 0, true
			continue
		}
		n, err := r.src.Read(r.in)
		r.out, r.pos = r.dec.decode(r.out[:0], r.in[:n]), 0
		r.err = err
	}
	n := copy(p, r.out[r.pos:])
	r.pos += n
	return n, nil
}

// b64Values maps base64 alphabet octets to their values; others are 0xFF.
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

func (d *transferState) base64(dst, src []byte) []byte {
	for _, c := range src {
		v := b64Values[c]
		if v == 0xFF {
			if c == '=' {
				dst = d.base64Flush(dst)
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

// base64Flush emits the octets of a partial quantum: a lone sextet holds
// no whole octet and yields nothing.
func (d *transferState) base64Flush(dst []byte) []byte {
	switch d.n {
	case 2:
		dst = append(dst, d.q[0]<<2|d.q[1]>>4)
	case 3:
		dst = append(dst, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.n = 0
	return dst
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

func (d *transferState) qp(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		if d.st == qpNormal {
			// Copy the run of plain text up to the next octet that may
			// start something at once.
			j := i
			for j < len(src) && src[j] != '=' && src[j] != ' ' && src[j] != '\t' {
				j++
			}
			dst = append(dst, src[i:j]...)
			if j == len(src) {
				break
			}
			i = j
		}
		dst = d.qpByte(dst, src[i])
	}
	return dst
}

func (d *transferState) qpByte(dst []byte, c byte) []byte {
	switch d.st {
	case qpNormal:
		return d.qpNormal(dst, c)
	case qpSpace, qpEqSpace:
		switch c {
		case ' ', '\t':
			if d.nh >= len(d.hold)-1 { // keep room for a CR
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
			d.drop() // trailing blanks
			if soft {
				return dst
			}
			return append(dst, c)
		}
	case qpSpaceCR:
		if c == '\n' {
			d.drop() // trailing blanks
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
	return d.qpNormal(d.release(dst), c)
}

// qpNormal handles c with nothing held.
func (d *transferState) qpNormal(dst []byte, c byte) []byte {
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

// qpFinish resolves what is held at the end of input, a line end: trailing
// blanks go and "=" is a soft line break, but a cut escape and a bare CR
// are content.
func (d *transferState) qpFinish(dst []byte) []byte {
	switch d.st {
	case qpSpaceCR:
		dst = append(dst, '\r')
	case qpEqHex:
		dst = append(dst, d.hold[:d.nh]...)
	}
	d.drop()
	return dst
}

// push holds c; callers make sure there is room.
func (d *transferState) push(c byte) {
	d.hold[d.nh] = c
	d.nh++
}

// release appends the held octets to dst as content.
func (d *transferState) release(dst []byte) []byte {
	dst = append(dst, d.hold[:d.nh]...)
	d.drop()
	return dst
}

// drop forgets the held octets.
func (d *transferState) drop() {
	d.nh = 0
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
