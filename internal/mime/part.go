package mime

import (
	"bytes"
	"strings"
)

// Message is the recorded structure of one message.
type Message struct {
	Root *Part
	Size int64
	// Preview is the RFC 8970 preview: at most Limits.PreviewRunes runes of
	// plain text with whitespace collapsed, taken from the first text/plain
	// part that is not an attachment (else the first such text/html part,
	// with tags stripped), transfer-decoded and converted to UTF-8. Parts of
	// attached messages (message/rfc822) are not considered. "" if none.
	Preview string
	Flags   ScanFlags
}

// ScanFlags records properties of the raw input noticed during the scan.
type ScanFlags uint32

const (
	// BareLF: a line ended with LF not preceded by CR.
	BareLF ScanFlags = 1 << iota
	// BareCR: a CR not followed by LF.
	BareCR
	// NULByte: the input contains a NUL byte.
	NULByte
	// EightBit: the input contains a byte >= 0x80.
	EightBit
	// Truncated: a limit was hit (depth, parts or header bytes); the
	// structure is still consistent but less detailed than the input.
	Truncated
	// LongLine: a line is longer than 998 bytes without its line end
	// (RFC 5322 section 2.1.1).
	LongLine
)

var flagNames = []string{"BareLF", "BareCR", "NULByte", "EightBit", "Truncated", "LongLine"}

func (f ScanFlags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	if rest := f &^ (1<<len(flagNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x")
		b.WriteString(strings.ToLower(hexString(uint64(rest))))
	}
	return b.String()
}

func hexString(v uint64) string {
	const digits = "0123456789ABCDEF"
	var buf [16]byte
	i := len(buf)
	for {
		i--
		buf[i] = digits[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return string(buf[i:])
}

// Part is one MIME entity: the root of a message, a child of a multipart,
// or the encapsulated message of a message/rfc822 part.
type Part struct {
	// HeaderStart is the offset of the part's header; BodyStart the offset
	// just after the empty line ending the header (== End if the header is
	// not terminated, == HeaderStart if the part has no header at all); End
	// the offset just past the body, excluding the line end that belongs to
	// a following boundary line.
	HeaderStart int64
	BodyStart   int64
	End         int64
	// HeaderLines counts the lines of [HeaderStart, BodyStart), including
	// the empty line; a last line without line end counts. BodyLines is
	// IMAP body-fld-lines: the number of line ends (LF) in [BodyStart,
	// End), so a body whose last line has no line end (as every part
	// before a boundary: that CRLF is the boundary's) counts one line
	// fewer than it shows. That is how Dovecot and Cyrus count, so a
	// client sees the same BODYSTRUCTURE whichever server it talks to.
	HeaderLines int64
	BodyLines   int64

	// Type and Subtype are lower case. Without a Content-Type field they
	// are text/plain, or message/rfc822 in a multipart/digest; a malformed
	// Content-Type gives text/plain. Params holds only the parameters that
	// are present (no implied charset=us-ascii).
	Type, Subtype string
	Params        []Param

	ID          string // Content-ID, raw
	Description string // Content-Description, raw
	Encoding    string // Content-Transfer-Encoding, lower case, default "7bit"
	MD5         string // Content-MD5, raw

	Disposition       string // lower case, "" if absent
	DispositionParams []Param
	Language          []string
	Location          string
	// Filename is the decoded UTF-8 file name from the disposition's
	// filename (RFC 2231 and RFC 2047 decoded) or else the Content-Type
	// name parameter; "" if none.
	Filename string

	// Envelope is set for the root part and for the root part of every
	// encapsulated message (the child of a message/rfc822 part).
	Envelope *Envelope

	// Parts: for a multipart, its children in order; for a message/rfc822
	// (or message/global) part, exactly one child, the encapsulated
	// message's root part. A message/rfc822 part has no child when it was
	// not parsed (a limit was hit, or its transfer encoding is base64 or
	// quoted-printable); a multipart has none when no boundary line was
	// found (or it had no usable boundary, or a limit was hit).
	Parts []*Part
}

// Param is one parameter of a Content-Type or Content-Disposition field.
type Param struct{ Name, Value string }

// Param returns the value of the named Content-Type parameter (name in lower
// case) and whether it is present.
func (p *Part) Param(name string) (string, bool) { return lookupParam(p.Params, name) }

// DispositionParam is Param for Content-Disposition parameters.
func (p *Part) DispositionParam(name string) (string, bool) {
	return lookupParam(p.DispositionParams, name)
}

func lookupParam(ps []Param, name string) (string, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// IsMultipart reports whether p has multipart children.
func (p *Part) IsMultipart() bool { return p.Type == "multipart" && len(p.Parts) > 0 }

// IsMessage reports whether p is a message/rfc822 (or message/global) part
// with a parsed encapsulated message.
func (p *Part) IsMessage() bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global") && len(p.Parts) == 1
}

// PartAt resolves an IMAP section part number (RFC 3501 section 6.4.5,
// RFC 9051 section 6.4.5) such as 2.1.3, given as []int{2, 1, 3}.
//
// The rule: every message has parts numbered from 1. If the message's root
// is a multipart, its parts are the multipart's children; otherwise the
// message has exactly one part, part 1, which is its body (the root Part
// itself is returned for it). Within a part, the sub-parts are the children
// of a multipart, and for a message/rfc822 part, the parts of the
// encapsulated message by the same rule: so for a message/rfc822 part 2,
// 2.1 is the first child of the inner message if that one is multipart, or
// else the inner message's body (its root Part). A leaf has no sub-parts.
// The empty path is the root (the whole message). A multipart without
// children counts as a leaf.
//
// The returned Part's [BodyStart, End) is the content of BODY[section];
// [HeaderStart, BodyStart) is BODY[section.MIME] (for part 1 of a
// non-multipart message that is the message header).
func (m *Message) PartAt(path []int) (*Part, bool) {
	if m == nil || m.Root == nil {
		return nil, false
	}
	cur := m.Root
	list := messageParts(m.Root)
	for _, n := range path {
		if n < 1 || n > len(list) {
			return nil, false
		}
		cur = list[n-1]
		list = subParts(cur)
	}
	return cur, true
}

// messageParts lists the numbered parts of a message whose root is root.
func messageParts(root *Part) []*Part {
	if root.IsMultipart() {
		return root.Parts
	}
	return []*Part{root}
}

// subParts lists the numbered sub-parts of a part.
func subParts(p *Part) []*Part {
	switch {
	case p.IsMultipart():
		return p.Parts
	case p.IsMessage():
		return messageParts(p.Parts[0])
	}
	return nil
}

// Walk calls fn for p and all its descendants in depth-first pre-order
// (document order), stopping early when fn returns false.
func (p *Part) Walk(fn func(*Part) bool) bool {
	if !fn(p) {
		return false
	}
	for _, c := range p.Parts {
		if !c.Walk(fn) {
			return false
		}
	}
	return true
}

// HeaderSize is the size of [HeaderStart, BodyStart).
func (p *Part) HeaderSize() int64 { return p.BodyStart - p.HeaderStart }

// BodySize is the size of [BodyStart, End): IMAP body-fld-octets.
func (p *Part) BodySize() int64 { return p.End - p.BodyStart }

// Prepend makes m describe prefix+message: prefix (whole header lines,
// such as the trace fields delivery adds to one copy) becomes part of the
// top-level header, and every offset moves by its length.
func (m *Message) Prepend(prefix []byte) {
	n := int64(len(prefix))
	if n == 0 {
		return
	}
	var walk func(p *Part)
	walk = func(p *Part) {
		p.HeaderStart += n
		p.BodyStart += n
		p.End += n
		for _, c := range p.Parts {
			walk(c)
		}
	}
	if m.Root != nil {
		walk(m.Root)
		m.Root.HeaderStart = 0
		m.Root.HeaderLines += int64(bytes.Count(prefix, []byte("\n")))
	}
	m.Size += n
}
