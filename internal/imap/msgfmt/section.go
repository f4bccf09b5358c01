package msgfmt

import (
	"bytes"
	"fmt"
	"io"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// Range is a byte range [Start, End) of the stored message.
type Range struct{ Start, End int64 }

// Len is the number of octets in r.
func (r Range) Len() int64 { return r.End - r.Start }

// SectionRange resolves BODY[section] (RFC 9051 6.4.5) against msg to the
// range of stored bytes it designates; ok is false when the section does
// not exist. A nil sec is BODY[] (the whole message), the section of
// RFC822; RFC822.HEADER and RFC822.TEXT are the sections HEADER and TEXT.
//
//   - BODY[]: the whole message. BODY[HEADER] and BODY[TEXT]: the top-level
//     header (with the empty line ending it) and body.
//   - BODY[n...]: the body of the part mime.Message.PartAt finds; BODY[1] of
//     a message that is not multipart is its body.
//   - BODY[n.MIME]: that part's MIME header (for part 1 of a message that is
//     not multipart, the message header).
//   - BODY[n.HEADER] and BODY[n.TEXT]: header and body of the message
//     encapsulated in a message/rfc822 part n; nothing for other parts.
//   - HEADER.FIELDS[.NOT]: the header block that WriteSection filters.
//
// The range is clamped to [0, msg.Size], so a damaged structure cannot send
// a reader outside the message.
func SectionRange(msg *mime.Message, sec *wire.Section) (r Range, ok bool) {
	if msg == nil || msg.Root == nil {
		return Range{}, false
	}
	if sec == nil {
		sec = &wire.Section{}
	}
	p, ok := msg.PartAt(sec.Part)
	if !ok {
		return Range{}, false
	}
	switch sec.Specifier {
	case "":
		if len(sec.Part) == 0 {
			r = Range{0, msg.Size}
		} else {
			r = Range{p.BodyStart, p.End}
		}
	case "MIME":
		if len(sec.Part) == 0 {
			return Range{}, false // the grammar forbids it; be safe anyway
		}
		r = Range{p.HeaderStart, p.BodyStart}
	case "HEADER", "HEADER.FIELDS", "TEXT":
		if len(sec.Part) > 0 {
			// n.HEADER and n.TEXT address the message inside a
			// message/rfc822 part.
			if !p.IsMessage() {
				return Range{}, false
			}
			p = p.Parts[0]
		}
		if sec.Specifier == "TEXT" {
			r = Range{p.BodyStart, p.End}
		} else {
			r = Range{p.HeaderStart, p.BodyStart}
		}
	default:
		return Range{}, false
	}
	return clampRange(r, msg.Size), true
}

// clampRange keeps r within [0, size] with Start <= End.
func clampRange(r Range, size int64) Range {
	size = max(size, 0)
	r.Start = min(max(r.Start, 0), size)
	r.End = min(max(r.End, r.Start), size)
	return r
}

// WriteSection writes the value of BODY[section]<partial> as a literal,
// streamed from body; sec nil or empty is BODY[] (RFC822), HEADER is
// RFC822.HEADER, TEXT is RFC822.TEXT. A section that does not exist is an
// empty literal. HEADER.FIELDS and HEADER.FIELDS.NOT select the header
// lines of the named fields (case-insensitively, with their continuation
// lines, in message order) and end with an empty line. The partial
// <offset.count> is taken from the extracted value; an offset past its end
// gives an empty literal.
//
// An error means the literal could not be completed (the store failed
// while its size was already sent): the session must close the connection.
func WriteSection(e *wire.Encoder, msg *mime.Message, body store.Body, sec *wire.Section, partial *wire.Partial) error {
	r, ok := SectionRange(msg, sec)
	if !ok {
		e.Literal("")
		return nil
	}
	// The structure and the stored bytes are separate records: never
	// announce octets the body does not hold.
	r = clampRange(r, body.Size())
	nuls := msg.Flags&mime.NULByte != 0
	if sec != nil && sec.Specifier == "HEADER.FIELDS" {
		open := func() io.Reader {
			return newFieldFilter(sectionReader(body, r, nuls), sec.Fields, sec.Not)
		}
		if r.Len() <= chunkSize {
			// A header that fits one chunk is filtered once, into memory,
			// rather than once to measure and once to write: clients ask
			// for a few fields of every message in a list.
			buf := chunkPool.Get().(*[]byte)
			defer chunkPool.Put(buf)
			n, err := io.ReadFull(open(), (*buf)[:chunkSize])
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				return fmt.Errorf("msgfmt: read message: %w", err)
			}
			off, k := window(int64(n), partial)
			return e.WriteLiteralFrom(k, bytes.NewReader((*buf)[off:off+k]), false)
		}
		size, _, err := measure(open(), nil)
		if err != nil {
			return err
		}
		off, n := window(size, partial)
		return writeStream(e, open(), off, n, false)
	}
	off, n := window(r.Len(), partial)
	return e.WriteLiteralFrom(n, sectionReader(body, Range{r.Start + off, r.Start + off + n}, nuls), false)
}

// sectionReader reads r from body. With nuls (the message holds NUL
// octets, which no literal may carry) each NUL reads as 0x80, as Dovecot
// sends them: the size does not change, so RFC822.SIZE stays true.
func sectionReader(body store.Body, r Range, nuls bool) io.Reader {
	sr := io.NewSectionReader(body, r.Start, r.Len())
	if nuls {
		return nulReplacer{sr}
	}
	return sr
}

// nulReplacer replaces NUL octets by 0x80.
type nulReplacer struct{ r io.Reader }

func (n nulReplacer) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	for i, c := range p[:k] {
		if c == 0 {
			p[i] = 0x80
		}
	}
	return k, err
}

// window applies a partial <offset.count> to a value of size octets: the
// offset and length of the part to send. Without a partial it is all of
// it; an offset at or past the end gives nothing.
func window(size int64, p *wire.Partial) (off, n int64) {
	if p == nil {
		return 0, size
	}
	off = min(int64(p.Offset), size)
	return off, min(int64(p.Count), size-off)
}
