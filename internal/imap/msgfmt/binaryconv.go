package msgfmt

import (
	"bytes"
	"fmt"
	"io"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// URLFETCH's BINARY (RFC 5524) of a composite part — a message/rfc822
// attachment, a multipart — returns it with every encoded part inside
// decoded: each base64 or quoted-printable leaf's content is replaced by
// its decoded octets and its Content-Transfer-Encoding field by
// "Content-Transfer-Encoding: binary". Everything else (other header
// fields, preambles, boundaries, epilogues) is copied as stored. This is
// what Dovecot sends, and what a client that forwards an attachment it
// cannot decode itself wants. BODYPARTSTRUCTURE asked with BINARY
// describes those octets: sizes and line counts of the converted content,
// the encoding field as stored (as Dovecot does).
//
// The conversion is streamed: a first pass decodes each encoded leaf to
// count its octets and lines, a second sends. Only the rewritten header
// blocks of the encoded leaves are held in memory, each at most
// maxConvHeader octets (a larger one leaves its part as stored).

const maxConvHeader = 64 << 10

// convLeaf is an encoded leaf part that the conversion decodes.
type convLeaf struct {
	p       *mime.Part
	header  []byte // the rewritten header block
	size    int64  // decoded content octets
	lines   int64  // decoded content line ends
	hdrLine int64  // line ends in header
}

// delta is how much the conversion lengthens the stored range of the
// leaf (negative: shortens).
func (l *convLeaf) delta() int64 {
	return int64(len(l.header)) - (l.p.BodyStart - l.p.HeaderStart) + l.size - l.p.BodySize()
}

// binaryConv is the converted form of one part.
type binaryConv struct {
	body   store.Body
	part   *mime.Part // as stored
	leaves []convLeaf // in stored order
	root   *mime.Part // the part described as converted
}

// newBinaryConv prepares the conversion of p, a part of msg.
func newBinaryConv(body store.Body, p *mime.Part) (*binaryConv, error) {
	c := &binaryConv{body: body, part: p}
	var walk func(q *mime.Part, depth int) error
	walk = func(q *mime.Part, depth int) error {
		if depth > maxDepth {
			return nil
		}
		if len(q.Parts) > 0 && (q.IsMultipart() || q.IsMessage()) {
			for _, child := range q.Parts {
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if !mime.KnownTransferEncoding(q.Encoding) || mime.IdentityEncoding(q.Encoding) {
			return nil
		}
		l := convLeaf{p: q}
		if q != p {
			n := q.BodyStart - q.HeaderStart
			if n > maxConvHeader || n <= 0 {
				return nil
			}
			hdr := make([]byte, n)
			if _, err := body.ReadAt(hdr, q.HeaderStart); err != nil && err != io.EOF {
				return fmt.Errorf("msgfmt: read message: %w", err)
			}
			l.header = rewriteCTE(hdr)
			l.hdrLine = int64(bytes.Count(l.header, []byte{'\n'}))
		}
		size, lines, err := countDecoded(body, q)
		if err != nil {
			return err
		}
		l.size, l.lines = size, lines
		c.leaves = append(c.leaves, l)
		return nil
	}
	if err := walk(p, 0); err != nil {
		return nil, err
	}
	c.root = c.copyPart(p, 0)
	return c, nil
}

// countDecoded decodes q's content to count its octets and line ends.
func countDecoded(body store.Body, q *mime.Part) (size, lines int64, err error) {
	r := decodedReader(body, Range{q.BodyStart, q.End}, q.Encoding)
	pbuf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(pbuf)
	for {
		n, rerr := r.Read(*pbuf)
		size += int64(n)
		lines += int64(bytes.Count((*pbuf)[:n], []byte{'\n'}))
		if rerr == io.EOF {
			return size, lines, nil
		}
		if rerr != nil {
			return 0, 0, fmt.Errorf("msgfmt: read message: %w", rerr)
		}
	}
}

// rewriteCTE replaces the Content-Transfer-Encoding field of a header
// block (with its continuation lines) by "binary".
func rewriteCTE(hdr []byte) []byte {
	out := make([]byte, 0, len(hdr))
	skipping := false
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line = hdr[:i+1]
		}
		hdr = hdr[len(line):]
		if skipping && (line[0] == ' ' || line[0] == '\t') {
			continue
		}
		skipping = false
		const name = "content-transfer-encoding:"
		if len(line) >= len(name) && equalFoldASCII(line[:len(name)], name) {
			skipping = true
			eol := "\n"
			if bytes.HasSuffix(line, []byte("\r\n")) {
				eol = "\r\n"
			}
			out = append(out, "Content-Transfer-Encoding: binary"+eol...)
			continue
		}
		out = append(out, line...)
	}
	return out
}

// conv maps a stored offset (a part boundary) to the converted content.
func (c *binaryConv) conv(off int64) int64 {
	for i := range c.leaves {
		if l := &c.leaves[i]; l.p.End <= off && l.p != c.part {
			off += l.delta()
		}
	}
	return off
}

// copyPart describes q as converted: offsets mapped, line counts of the
// decoded leaves.
func (c *binaryConv) copyPart(q *mime.Part, depth int) *mime.Part {
	n := *q
	for i := range c.leaves {
		l := &c.leaves[i]
		if l.p != q {
			continue
		}
		if q == c.part {
			n.End = n.BodyStart + l.size
		} else {
			n.HeaderStart = c.conv(q.HeaderStart)
			n.BodyStart = n.HeaderStart + int64(len(l.header))
			n.End = n.BodyStart + l.size
			n.HeaderLines = l.hdrLine
		}
		n.BodyLines = l.lines
		return &n
	}
	n.HeaderStart, n.BodyStart, n.End = c.conv(q.HeaderStart), c.conv(q.BodyStart), c.conv(q.End)
	for i := range c.leaves {
		l := &c.leaves[i]
		if l.p != c.part && l.p.HeaderStart >= q.BodyStart && l.p.End <= q.End {
			n.BodyLines += l.hdrLine + l.lines - l.p.HeaderLines - l.p.BodyLines
		}
	}
	if depth < maxDepth && len(q.Parts) > 0 {
		n.Parts = make([]*mime.Part, len(q.Parts))
		for i, child := range q.Parts {
			n.Parts[i] = c.copyPart(child, depth+1)
		}
	}
	return &n
}

// reader streams the converted content of the part.
func (c *binaryConv) reader() io.Reader {
	p := c.part
	if len(c.leaves) == 1 && c.leaves[0].p == p {
		return decodedReader(c.body, Range{p.BodyStart, p.End}, p.Encoding)
	}
	var rs []io.Reader
	cursor := p.BodyStart
	for i := range c.leaves {
		l := &c.leaves[i]
		rs = append(rs,
			io.NewSectionReader(c.body, cursor, l.p.HeaderStart-cursor),
			bytes.NewReader(l.header),
			decodedReader(c.body, Range{l.p.BodyStart, l.p.End}, l.p.Encoding))
		cursor = l.p.End
	}
	rs = append(rs, io.NewSectionReader(c.body, cursor, p.End-cursor))
	return io.MultiReader(rs...)
}

// binaryPart resolves the part URLFETCH's BINARY converts: a part number
// (or the whole message); nil for HEADER, TEXT, MIME sections.
func binaryPart(msg *mime.Message, sec *wire.Section) (*mime.Part, bool) {
	if msg == nil || msg.Root == nil || sec != nil && sec.Specifier != "" {
		return nil, false
	}
	var path []int
	if sec != nil {
		path = sec.Part
	}
	return msg.PartAt(path)
}

// WriteURLBinary writes URLFETCH's BINARY data (RFC 5524) of section as a
// literal (literal8 when it holds NUL): a leaf part decoded as FETCH
// BINARY does; a composite part, or the whole message, with every encoded
// part inside decoded (see the top of this file). Other sections are sent
// as FETCH BINARY would. Errors as WriteBinary's.
func WriteURLBinary(e *wire.Encoder, msg *mime.Message, body store.Body, sec *wire.Section, partial *wire.Partial) error {
	p, ok := binaryPart(msg, sec)
	if !ok || len(p.Parts) == 0 || p.End > body.Size() {
		return WriteBinary(e, msg, body, sec, partial)
	}
	c, err := newBinaryConv(body, p)
	if err != nil {
		return err
	}
	size, nul, err := measure(c.reader(), partial)
	if err != nil {
		return err
	}
	off, n := window(size, partial)
	return writeStream(e, c.reader(), off, n, nul)
}

// URLBinaryStructure writes BODYPARTSTRUCTURE of section as converted by
// WriteURLBinary (RFC 5524: the structure of the data BINARY returns), or
// NIL for a section that is not a part. ErrUnknownCTE as WriteBinary.
func URLBinaryStructure(e *wire.Encoder, msg *mime.Message, body store.Body, sec *wire.Section) error {
	p, ok := binaryPart(msg, sec)
	if !ok {
		e.NIL()
		return nil
	}
	if len(p.Parts) == 0 {
		if err := CheckBinary(msg, sec); err != nil {
			return err
		}
	}
	if p.End > body.Size() {
		PartStructure(e, p)
		return nil
	}
	c, err := newBinaryConv(body, p)
	if err != nil {
		return err
	}
	PartStructure(e, c.root)
	return nil
}
