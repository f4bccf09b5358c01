package msgfmt

import (
	"errors"
	"io"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// ErrUnknownCTE is returned for BINARY of a part whose
// Content-Transfer-Encoding this server cannot decode; the session answers
// NO [UNKNOWN-CTE] (RFC 3516 4.3).
var ErrUnknownCTE = errors.New("msgfmt: unknown Content-Transfer-Encoding")

// binarySection resolves BINARY[section] (RFC 3516): the stored range and
// its encoding, "" meaning identity. found is false when the part does not
// exist.
func binarySection(msg *mime.Message, sec *wire.Section) (r Range, enc string, found bool, err error) {
	if msg == nil || msg.Root == nil {
		return Range{}, "", false, nil
	}
	var path []int
	if sec != nil {
		path = sec.Part
	}
	p, ok := msg.PartAt(path)
	if !ok {
		return Range{}, "", false, nil
	}
	switch {
	case len(path) == 0:
		// BINARY[]: the message itself, which has no transfer encoding.
		r = Range{0, msg.Size}
	case p.IsMultipart() || p.IsMessage():
		// Composite types admit only identity encodings (RFC 2045 6.4).
		r = Range{p.BodyStart, p.End}
	default:
		if !mime.KnownTransferEncoding(p.Encoding) {
			return Range{}, "", false, ErrUnknownCTE
		}
		r = Range{p.BodyStart, p.End}
		if !mime.IdentityEncoding(p.Encoding) {
			enc = p.Encoding
		}
	}
	return clampRange(r, msg.Size), enc, true, nil
}

// CheckBinary returns ErrUnknownCTE if BINARY[section] cannot be decoded,
// without I/O. WriteBinary checks the same before writing anything, but a
// session that has begun the FETCH response line by then must check every
// BINARY item first, as the NO [UNKNOWN-CTE] replaces the whole response.
func CheckBinary(msg *mime.Message, sec *wire.Section) error {
	_, _, _, err := binarySection(msg, sec)
	return err
}

// decodedReader returns a reader of range r of body with encoding enc
// undone; each call starts afresh, for the counting and the sending pass,
// which agree as the decoder is deterministic.
func decodedReader(body store.Body, r Range, enc string) io.Reader {
	return mime.NewTransferReader(io.NewSectionReader(body, r.Start, r.Len()), enc)
}

// WriteBinary writes BINARY[section]<partial> (RFC 3516): the part's
// content with its transfer encoding undone, as a literal, or a literal8
// (~{n}) when the octets sent contain NUL. A section that does not exist
// is an empty literal. An unknown encoding returns ErrUnknownCTE before
// anything is written.
//
// The decoded size must be announced before the data, so encoded content
// is decoded twice, streaming: once to count (and look for NUL), once to
// send. Identity-encoded content is sent straight from the store.
//
// Other errors mean the store failed; the literal may have been announced,
// so the session must close the connection.
func WriteBinary(e *wire.Encoder, msg *mime.Message, body store.Body, sec *wire.Section, partial *wire.Partial) error {
	r, enc, found, err := binarySection(msg, sec)
	if err != nil {
		return err
	}
	if !found {
		e.Literal("")
		return nil
	}
	r = clampRange(r, body.Size())
	if enc == "" {
		off, n := window(r.Len(), partial)
		w := Range{r.Start + off, r.Start + off + n}
		nul := false
		if msg.Flags&mime.NULByte != 0 {
			// Only then can the window hold a NUL: look.
			if _, nul, err = measure(io.NewSectionReader(body, w.Start, w.Len()), nil); err != nil {
				return err
			}
		}
		return e.WriteLiteralFrom(n, io.NewSectionReader(body, w.Start, w.Len()), nul)
	}
	size, nul, err := measure(decodedReader(body, r, enc), partial)
	if err != nil {
		return err
	}
	off, n := window(size, partial)
	return writeStream(e, decodedReader(body, r, enc), off, n, nul)
}

// BinarySize returns BINARY.SIZE[section]: the size of the decoded content
// (one counting pass for encoded content). It is 0 for a section that does
// not exist, and ErrUnknownCTE as for WriteBinary.
func BinarySize(msg *mime.Message, body store.Body, sec *wire.Section) (int64, error) {
	r, enc, found, err := binarySection(msg, sec)
	if err != nil || !found {
		return 0, err
	}
	r = clampRange(r, body.Size())
	if enc == "" {
		return r.Len(), nil
	}
	size, _, err := measure(decodedReader(body, r, enc), nil)
	return size, err
}
