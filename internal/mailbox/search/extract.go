package search

import (
	"bytes"
	"context"
	"io"
	"unicode/utf8"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// MaxIndexedBody bounds the folded body text kept in the index for one
// message. A longer body is not indexed (TextDoc.BodyComplete false):
// BODY and TEXT are then answered for that message by reading it, as
// before the index; its header fields are still indexed.
const MaxIndexedBody = 4 << 20

// IndexText extracts the searchable text of a message for the full-text
// index: the text Match scans, folded the same way, one column per
// field (see store.TextDoc). It walks the message with the evaluator's
// own code (headerPass's field splitting and folding, bodyPass's walks),
// so that a needle found in a column is exactly a match of the
// corresponding key. Units (a header field, an address, a part) are
// separated by '\n', and NUL and invalid UTF-8 become '\n' too: a needle
// with neither never matches across units, and the store only ever holds
// valid UTF-8.
func IndexText(ctx context.Context, s *mime.Message, body io.ReaderAt) (*store.TextDoc, error) {
	doc := &store.TextDoc{BodyComplete: true}
	if s == nil || s.Root == nil {
		return doc, nil
	}
	ts := &textScanner{ctx: ctx}
	if err := headerDoc(ctx, &ts.fields, section(body, s.Root.HeaderStart, s.Root.BodyStart), doc); err != nil {
		return nil, err
	}
	// The MIME part headers, which TEXT searches and BODY does not, go
	// into the header column: TEXT consults it, and HEADER only narrows
	// with it (the evaluator confirms on the top-level header), so the
	// extra text changes no answer. Cut like the body, they make the body
	// unindexed: TEXT is then answered by reading the message.
	ph := &docBuilder{limit: MaxIndexedBody}
	if err := ts.partHeaderText(ph, s.Root, body); err != nil {
		return nil, err
	}
	ph.boundary()
	b := &docBuilder{limit: MaxIndexedBody}
	if err := ts.bodyText(b, s.Root, body); err != nil {
		return nil, err
	}
	b.boundary()
	if b.over || ph.over {
		doc.BodyComplete = false
		return doc, nil
	}
	doc.Header += string(ph.buf)
	doc.Body = string(b.buf)
	return doc, nil
}

// PrefixText is IndexText of a per-copy header prefix
// (store.Target.HeaderPrefix): header fields only.
func PrefixText(ctx context.Context, prefix []byte) (*store.TextDoc, error) {
	doc := &store.TextDoc{BodyComplete: true}
	var fr fieldReader
	if err := headerDoc(ctx, &fr, bytes.NewReader(prefix), doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// headerDoc fills the header columns of doc from a header block, as
// headerPass reads it: "NAME: value" per field for HEADER and TEXT; the
// value, and for address fields each address, for FROM, TO, CC, BCC and
// SUBJECT.
func headerDoc(ctx context.Context, fr *fieldReader, r io.Reader, doc *store.TextDoc) error {
	var hdr, from, to, cc, bcc, subj docBuilder
	var folded, addr []byte
	err := fr.each(ctx, r, func(name, value []byte) bool {
		var off int
		folded, off = foldField(folded[:0], name, value)
		hdr.unit(folded)
		var col *docBuilder
		isAddr := true
		switch {
		case bytes.EqualFold(name, []byte("from")):
			col = &from
		case bytes.EqualFold(name, []byte("to")):
			col = &to
		case bytes.EqualFold(name, []byte("cc")):
			col = &cc
		case bytes.EqualFold(name, []byte("bcc")):
			col = &bcc
		case bytes.EqualFold(name, []byte("subject")):
			col, isAddr = &subj, false
		default:
			return true
		}
		col.unit(folded[off:])
		if isAddr {
			addressForms(value, func(s string) bool {
				addr = foldString(addr[:0], s)
				col.unit(addr)
				return true
			})
		}
		return true
	})
	if err != nil {
		return err
	}
	doc.Header, doc.From, doc.To, doc.Cc, doc.Bcc, doc.Subject =
		string(hdr.buf), string(from.buf), string(to.buf), string(cc.buf), string(bcc.buf), string(subj.buf)
	return nil
}

// docBuilder collects folded text, unit by unit, for the index: a
// textSink, fed by the same walk as the evaluator's needleSet.
type docBuilder struct {
	buf   []byte
	start int    // where the current unit starts in buf
	pend  []byte // an incomplete UTF-8 sequence ending the last Write
	in    []byte
	limit int // 0: none
	over  bool
}

// Write folds p into the current unit.
func (b *docBuilder) Write(p []byte) (int, error) {
	n := len(p)
	if b.over {
		return n, nil
	}
	src := p
	if len(b.pend) > 0 {
		b.in = append(append(b.in[:0], b.pend...), p...)
		src = b.in
	}
	var used int
	b.buf, used = appendFold(b.buf, src, false)
	b.pend = append(b.pend[:0], src[used:]...)
	if b.limit > 0 && len(b.buf) > b.limit {
		b.over = true
	}
	return n, nil
}

func (b *docBuilder) done() bool { return b.over }

// boundary ends the current unit, as needleSet.boundary does: the
// incomplete sequence left is kept as it is (and cleaned below).
func (b *docBuilder) boundary() {
	if b.over {
		return
	}
	if len(b.pend) > 0 {
		b.buf = append(b.buf, b.pend...)
		b.pend = b.pend[:0]
	}
	if len(b.buf) == b.start {
		return
	}
	clean(b.buf[b.start:])
	b.buf = append(b.buf, '\n')
	b.start = len(b.buf)
}

// unit adds one already folded unit.
func (b *docBuilder) unit(folded []byte) {
	b.buf = append(b.buf, folded...)
	b.boundary()
}

// clean replaces NUL and every byte of invalid UTF-8 by '\n', in place:
// a valid needle without '\n' never matches across them, in the
// evaluator (which leaves them as they are) or in the index.
func clean(p []byte) {
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				p[i] = '\n'
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 {
			p[i] = '\n'
			i++
			continue
		}
		i += size
	}
}
