package search

import (
	"bytes"
	"context"
	"errors"
	"io"

	"mailroom/internal/mime"
)

// textScanner holds the results and buffers of one Match's content
// passes. It is reused across parts, and across Matches through the
// Matcher's pool: memory is fixed whatever the message, and a search over
// many messages does not allocate per message.
type textScanner struct {
	ctx     context.Context
	hit     []bool // per content leaf: found by the header pass
	bodyHit []bool // per content leaf: found by the body pass
	needles [][]byte
	owners  []*node
	ns      needleSet
	fields  fieldReader
	dec     mime.TransferReader
	chunk   []byte
	folded  []byte
	addr    []byte // addressesContain's buffer (folded is in use meanwhile)
}

// headerPass answers every header leaf (opHeader, and the header half of
// opText) in one read of the top-level header.
func (st *matchState) headerPass() error {
	if st.headerDone {
		return nil
	}
	st.headerDone = true
	ts := st.scanner()
	s, err := st.loadStructure()
	if s == nil || err != nil {
		return err
	}
	body, err := st.openBody()
	if err != nil {
		return err
	}
	leaves := st.m.headerLeaves
	left := len(leaves)
	return ts.fields.each(st.ctx, section(body, s.Root.HeaderStart, s.Root.BodyStart), func(name, value []byte) bool {
		// folded is "NAME: VALUE" folded, made on first need; off is
		// where the value starts.
		var folded []byte
		off := -1
		fold := func() {
			if off < 0 {
				ts.folded, off = foldField(ts.folded[:0], name, value)
				folded = ts.folded
			}
		}
		for _, n := range leaves {
			if ts.hit[n.leaf] {
				continue
			}
			var found bool
			switch {
			case n.op == opText:
				fold()
				found = bytes.Contains(folded, n.needle)
			case !bytes.EqualFold(name, n.field):
			case len(n.needle) == 0:
				found = true // HEADER name "": the field is present
			default:
				fold()
				found = bytes.Contains(folded[off:], n.needle)
				if !found && n.addr {
					found = ts.addressesContain(value, n.needle)
				}
			}
			if found {
				ts.hit[n.leaf] = true
				left--
			}
		}
		return left > 0
	})
}

// addressesContain reports whether the addresses of an address field,
// written "Name <mailbox@host>" with comments and folding whitespace
// gone, contain needle: FROM user@example.org finds
// "<user (comment)@ example.org>" (RFC 3501 6.4.4: the envelope's field).
func (ts *textScanner) addressesContain(value, needle []byte) bool {
	found := false
	addressForms(value, func(s string) bool {
		ts.addr = foldString(ts.addr[:0], s)
		found = bytes.Contains(ts.addr, needle)
		return !found
	})
	return found
}

// foldField appends "NAME: value" of a header field, RFC 2047 decoded and
// folded, to dst, and returns it with the offset where the value starts:
// the text HEADER, TEXT and the index compare needles with.
func foldField(dst, name, value []byte) ([]byte, int) {
	dst, _ = appendFold(dst, name, true)
	dst = append(dst, ": "...)
	off := len(dst)
	return foldString(dst, mime.DecodeHeader(string(value))), off
}

// addressForms calls fn with each address of an address field, written
// "Name <mailbox@host>" (or "mailbox@host"), until fn returns false.
func addressForms(value []byte, fn func(string) bool) {
	for _, a := range mime.ParseAddressList(string(value)) {
		if a.GroupStart || a.GroupEnd {
			continue
		}
		s := a.Mailbox + "@" + a.Host
		if a.DecodedName != "" {
			s = a.DecodedName + " <" + s + ">"
		}
		if !fn(s) {
			return
		}
	}
}

// bodyPass answers every body leaf (opBody, and the body half of opText
// when its header half did not match) in one read of the body.
func (st *matchState) bodyPass() error {
	if st.bodyDone {
		return nil
	}
	st.bodyDone = true
	ts := st.scanner()
	ts.needles, ts.owners = ts.needles[:0], ts.owners[:0]
	for _, n := range st.m.bodyLeaves {
		if n.op == opText && ts.hit[n.leaf] {
			continue
		}
		ts.needles = append(ts.needles, n.needle)
		ts.owners = append(ts.owners, n)
	}
	if len(ts.needles) == 0 {
		return nil
	}
	s, err := st.loadStructure()
	if s == nil || err != nil {
		return err
	}
	body, err := st.openBody()
	if err != nil {
		return err
	}
	ns := &ts.ns
	ns.reset(ts.needles)
	err = ts.bodyText(ns, s.Root, body)
	for i, n := range ts.owners {
		ts.bodyHit[n.leaf] = ns.hit[i]
	}
	if err != nil {
		return err
	}
	// TEXT also covers the MIME part headers, which BODY does not: a
	// second, short walk for the TEXT needles still missing.
	ts.needles, ts.owners = ts.needles[:0], ts.owners[:0]
	for _, n := range st.m.bodyLeaves {
		if n.op == opText && !ts.hit[n.leaf] && !ts.bodyHit[n.leaf] {
			ts.needles = append(ts.needles, n.needle)
			ts.owners = append(ts.owners, n)
		}
	}
	if len(ts.needles) == 0 {
		return nil
	}
	ns.reset(ts.needles)
	err = ts.partHeaderText(ns, s.Root, body)
	for i, n := range ts.owners {
		ts.bodyHit[n.leaf] = ns.hit[i]
	}
	return err
}

// textSink receives the text BODY searches, unit by unit (a part, a
// header field): the evaluator's needleSet scans it, the index's
// docBuilder keeps it. One walk feeds both, so that what the index holds
// is what the evaluator would scan.
type textSink interface {
	io.Writer
	// boundary ends a unit: no match may span it.
	boundary()
	// done tells the walk to stop early.
	done() bool
}

// bodyText feeds the body text of the message to sink: the header fields
// of attached messages and the decoded text leaf parts, in order.
func (ts *textScanner) bodyText(sink textSink, root *mime.Part, body io.ReaderAt) error {
	var err error
	root.Walk(func(p *mime.Part) bool {
		if p != root && p.Envelope != nil {
			// An attached message's header is text of the outer body.
			err = ts.headerText(sink, section(body, p.HeaderStart, p.BodyStart))
		}
		if err == nil && len(p.Parts) == 0 && p.Type == "text" {
			err = ts.partText(sink, p, body)
		}
		return err == nil && !sink.done()
	})
	return err
}

// partHeaderText feeds what TEXT searches beyond the top-level header
// and the body text: RFC 9051 6.4.4 has TEXT match "the header (including
// MIME header fields)", and BODY "the body", which Dovecot and we take as
// the text of the parts, not their MIME headers. So: the header fields of
// every MIME part below the root, inside attached messages too, decoded
// like top-level fields (RFC 2047); and the values of the Content-Type and
// Content-Disposition parameters of every part, the root included, RFC
// 2231 assembled and decoded and RFC 2047 decoded (mailers put encoded
// words in name="..."), so that a file name matches as a user sees it.
// An attached message's own header is body text already (bodyText) and
// is not fed again.
func (ts *textScanner) partHeaderText(sink textSink, root *mime.Part, body io.ReaderAt) error {
	var err error
	root.Walk(func(p *mime.Part) bool {
		if p != root && p.Envelope == nil {
			err = ts.headerText(sink, section(body, p.HeaderStart, p.BodyStart))
		}
		if err == nil {
			paramText(sink, p.Params)
			paramText(sink, p.DispositionParams)
		}
		return err == nil && !sink.done()
	})
	return err
}

// paramText feeds the decoded values of MIME parameters, one unit each.
func paramText(sink textSink, params []mime.Param) {
	for _, p := range params {
		if sink.done() {
			return
		}
		sink.boundary()
		sink.Write([]byte(mime.DecodeHeader(p.Value)))
		sink.boundary()
	}
}

// headerText feeds the fields of a header block to ns, RFC 2047 decoded,
// one field at a time.
func (ts *textScanner) headerText(ns textSink, r io.Reader) error {
	return ts.fields.each(ts.ctx, r, func(name, value []byte) bool {
		ns.boundary()
		ns.Write(name)
		ns.Write([]byte(": "))
		ns.Write([]byte(mime.DecodeHeader(string(value))))
		ns.boundary()
		return !ns.done()
	})
}

// partText feeds a text part's content to ns: transfer-decoded, converted
// to UTF-8, in chunks.
func (ts *textScanner) partText(ns textSink, p *mime.Part, body io.ReaderAt) error {
	src := &ioErrReader{r: section(body, p.BodyStart, p.End)}
	// An unknown transfer encoding is searched as it is, and text in an
	// unknown charset as bytes: ASCII still matches.
	ts.dec.Reset(src, p.Encoding)
	cs, _ := p.Param("charset")
	r := mime.CharsetReader(cs, &ts.dec)
	if ts.chunk == nil {
		ts.chunk = make([]byte, chunkSize)
	}
	ns.boundary()
	defer ns.boundary()
	for !ns.done() {
		if err := ts.ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(ts.chunk)
		ns.Write(ts.chunk[:n])
		if err != nil {
			// Only the store's errors count: a decoder that gives up on
			// malformed content just ends the part.
			return src.err
		}
	}
	return nil
}

// ioErrReader remembers the error of the underlying reader, other than
// io.EOF, so that I/O failures can be told from decoding trouble.
type ioErrReader struct {
	r   io.Reader
	err error
}

func (r *ioErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// section is body[start:end], empty when the recorded offsets make no
// sense (a corrupt structure must not fail or panic a search).
func section(body io.ReaderAt, start, end int64) io.Reader {
	if start < 0 || end < start {
		start, end = 0, 0
	}
	return io.NewSectionReader(body, start, end-start)
}
