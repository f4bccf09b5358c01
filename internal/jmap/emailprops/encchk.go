package emailprops

import (
	"io"
	"strings"
)

// The mime package's transfer decoder is lenient by design: it decodes
// what it can and never fails, which is right for reading mail but hides
// what JMAP must report as isEncodingProblem. encChecker watches the raw
// octets the decoder reads and notes, without decoding anything, whether
// they are malformed base64 or quoted-printable.

type encKind uint8

const (
	encBase64 encKind = iota + 1
	encQP
)

// qp states
const (
	qpNormal  uint8 = iota
	qpEq            // after "="
	qpEqHex         // after "=" and one hex digit
	qpEqBlank       // after "=" and blanks, which only a line end may follow
)

type encChecker struct {
	kind encKind
	bad  bool

	// base64
	sextets int  // in the current quantum
	padding bool // "=" seen since the last sextet

	// quoted-printable
	qp uint8
}

// newEncChecker returns a checker for enc, or nil if enc has nothing to
// check (identity encodings; unknown ones are reported separately).
func newEncChecker(enc string) *encChecker {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return &encChecker{kind: encBase64}
	case "quoted-printable":
		return &encChecker{kind: encQP}
	}
	return nil
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func (c *encChecker) write(b []byte) {
	if c.bad {
		return
	}
	switch c.kind {
	case encBase64:
		for _, x := range b {
			switch {
			case isB64(x):
				// A sextet after padding starts a new encoding, as
				// concatenated parts have; the decoder reads it too.
				c.padding = false
				c.sextets = (c.sextets + 1) % 4
			case x == '=':
				if !c.padding {
					if c.sextets < 2 {
						c.bad = true
						return
					}
					c.sextets, c.padding = 0, true
				}
			case x == ' ' || x == '\t' || x == '\r' || x == '\n':
			default:
				c.bad = true
				return
			}
		}
	case encQP:
		for _, x := range b {
			switch c.qp {
			case qpNormal:
				if x == '=' {
					c.qp = qpEq
				}
			case qpEq:
				switch {
				case isHexDigit(x):
					c.qp = qpEqHex
				case x == '\r' || x == '\n':
					c.qp = qpNormal
				case x == ' ' || x == '\t':
					c.qp = qpEqBlank
				default:
					c.bad = true
					return
				}
			case qpEqHex:
				if !isHexDigit(x) {
					c.bad = true
					return
				}
				c.qp = qpNormal
			case qpEqBlank:
				switch x {
				case ' ', '\t':
				case '\r', '\n':
					c.qp = qpNormal
				default:
					c.bad = true
					return
				}
			}
		}
	}
}

// end reports whether the input, having ended, was malformed: a base64
// quantum of one sextet (no octet in it), or a cut "=X" escape. A final
// "=" is a soft line break before the boundary's line end.
func (c *encChecker) end() bool {
	switch c.kind {
	case encBase64:
		return c.bad || c.sextets == 1
	case encQP:
		return c.bad || c.qp == qpEqHex
	}
	return c.bad
}

// checkReader passes r's octets to a checker as they are read.
type checkReader struct {
	r io.Reader
	c *encChecker
}

func (cr *checkReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.c.write(p[:n])
	return n, err
}
