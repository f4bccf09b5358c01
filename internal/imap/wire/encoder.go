package wire

import (
	"fmt"
	"io"
	"mailroom/internal/seqset"
	"strconv"
	"time"
	"unicode/utf8"

	"mailroom/internal/connbuf"
)

// maxQuoted is the longest string written in quoted form by String; longer
// ones go as literals, which clients parse without scanning for escapes and
// which no client line-length limit applies to.
const maxQuoted = 1024

// Encoder writes responses into a buffered writer; the session flushes once
// per command (Flush). Write errors are sticky in the connbuf.Writer, so the
// writing methods return nothing and Flush reports the first failure.
// Methods return the Encoder so that a response reads as one chain:
//
//	e.Raw("* ").Number(n).Raw(" FETCH (UID ").Number(uid).Raw(")").CRLF()
//
// Raw, Atom and Flags write what they are given; the string methods
// (Quoted, String, NString, AString, Mailbox) never break the response
// syntax: what cannot be quoted is sent as a literal.
type Encoder struct {
	w    *connbuf.Writer
	utf8 bool
	buf  [64]byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w *connbuf.Writer) *Encoder { return &Encoder{w: w} }

// SetUTF8 records whether the client enabled UTF8=ACCEPT (RFC 6855): then
// strings may be quoted with UTF-8 in them and mailbox names are sent as
// UTF-8 rather than modified UTF-7.
func (e *Encoder) SetUTF8(on bool) { e.utf8 = on }

// UTF8 reports whether UTF8=ACCEPT is on.
func (e *Encoder) UTF8() bool { return e.utf8 }

// Flush writes the buffered responses to the connection.
func (e *Encoder) Flush() error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("wire: write: %w", err)
	}
	return nil
}

// Raw writes s as it is: protocol text the caller knows to be valid.
func (e *Encoder) Raw(s string) *Encoder {
	_, _ = e.w.WriteString(s)
	return e
}

// RawBytes writes b as it is.
func (e *Encoder) RawBytes(b []byte) *Encoder {
	_, _ = e.w.Write(b)
	return e
}

// Byte writes one byte.
func (e *Encoder) Byte(c byte) *Encoder {
	_ = e.w.WriteByte(c)
	return e
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.Byte(' ') }

// CRLF ends a response line.
func (e *Encoder) CRLF() *Encoder { return e.Raw("\r\n") }

// Atom writes an atom, a flag or a keyword verbatim; the caller knows it to
// be one (names from this package's constants or validated input).
func (e *Encoder) Atom(s string) *Encoder { return e.Raw(s) }

// Number writes a number.
func (e *Encoder) Number(n uint32) *Encoder { return e.Number64(uint64(n)) }

// Number64 writes a number64 or mod-sequence.
func (e *Encoder) Number64(n uint64) *Encoder {
	_, _ = e.w.Write(strconv.AppendUint(e.buf[:0], n, 10))
	return e
}

// NIL writes NIL.
func (e *Encoder) NIL() *Encoder { return e.Raw("NIL") }

// BeginList writes "(".
func (e *Encoder) BeginList() *Encoder { return e.Byte('(') }

// EndList writes ")".
func (e *Encoder) EndList() *Encoder { return e.Byte(')') }

// Quoted writes s as a quoted string, escaping " and \. A string that
// cannot be quoted (CR, LF, NUL; 8-bit without UTF8=ACCEPT; invalid UTF-8)
// is written as a literal instead.
func (e *Encoder) Quoted(s string) *Encoder {
	if !quotable(s, e.utf8) {
		return e.Literal(s)
	}
	_ = e.w.WriteByte('"')
	last := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			_, _ = e.w.WriteString(s[last:i])
			_ = e.w.WriteByte('\\')
			last = i
		}
	}
	_, _ = e.w.WriteString(s[last:])
	_ = e.w.WriteByte('"')
	return e
}

// Literal writes s as a literal: "{n}" CRLF and the octets.
func (e *Encoder) Literal(s string) *Encoder {
	e.literalHeader(int64(len(s)), false)
	return e.Raw(s)
}

// LiteralBytes writes b as a literal.
func (e *Encoder) LiteralBytes(b []byte) *Encoder {
	e.literalHeader(int64(len(b)), false)
	return e.RawBytes(b)
}

// Literal8 writes b as a binary literal "~{n}" CRLF (RFC 3516), for BINARY
// responses whose content holds NUL octets.
func (e *Encoder) Literal8(b []byte) *Encoder {
	e.literalHeader(int64(len(b)), true)
	return e.RawBytes(b)
}

func (e *Encoder) literalHeader(n int64, binary bool) {
	b := e.buf[:0]
	if binary {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "}\r\n"...)
	_, _ = e.w.Write(b)
}

// WriteLiteralFrom writes a literal of n octets read from r (a message body
// from the store), without holding it in memory. If r ends early or fails,
// the response is broken — n octets were announced — and the session must
// close the connection; the error says so.
func (e *Encoder) WriteLiteralFrom(n int64, r io.Reader, binary bool) error {
	e.literalHeader(n, binary)
	got, err := io.CopyN(e.w, r, n)
	if err != nil {
		return fmt.Errorf("wire: literal of %d octets broken after %d: %w", n, got, err)
	}
	return nil
}

// String writes s in the best string form: quoted when it can be and is not
// too long, else a literal (CR, LF or NUL; 8-bit text before UTF8=ACCEPT;
// over 1024 octets).
func (e *Encoder) String(s string) *Encoder {
	if len(s) <= maxQuoted && quotable(s, e.utf8) {
		return e.Quoted(s)
	}
	return e.Literal(s)
}

// NString writes NIL for "" and else s as String: for ENVELOPE and
// BODYSTRUCTURE fields, where an absent value is NIL.
func (e *Encoder) NString(s string) *Encoder {
	if s == "" {
		return e.NIL()
	}
	return e.String(s)
}

// AString writes s as an atom when it is a valid one (and not NIL, which
// would read as nil where an nstring is also possible), else as String.
func (e *Encoder) AString(s string) *Encoder {
	if isAStringAtom(s) {
		return e.Raw(s)
	}
	return e.String(s)
}

// Flags writes a parenthesised flag list, e.g. (\Seen $Forwarded).
func (e *Encoder) Flags(flags []string) *Encoder {
	_ = e.w.WriteByte('(')
	for i, f := range flags {
		if i > 0 {
			_ = e.w.WriteByte(' ')
		}
		_, _ = e.w.WriteString(f)
	}
	_ = e.w.WriteByte(')')
	return e
}

// SeqSet writes a sequence set in its text form.
func (e *Encoder) SeqSet(s SeqSet) *Encoder {
	for i, r := range s {
		if i > 0 {
			_ = e.w.WriteByte(',')
		}
		_, _ = e.w.Write(seqset.AppendNumber(e.buf[:0], r.Start))
		if r.Stop != r.Start {
			_ = e.w.WriteByte(':')
			_, _ = e.w.Write(seqset.AppendNumber(e.buf[:0], r.Stop))
		}
	}
	return e
}

// DateTime writes an IMAP date-time, "02-Jan-2006 15:04:05 -0700" in double
// quotes, in t's own zone.
func (e *Encoder) DateTime(t time.Time) *Encoder {
	b := append(e.buf[:0], '"')
	b = t.AppendFormat(b, "02-Jan-2006 15:04:05 -0700")
	b = append(b, '"')
	_, _ = e.w.Write(b)
	return e
}

// Mailbox writes a mailbox name: UTF-8 once the client enabled
// UTF8=ACCEPT, else modified UTF-7 (RFC 3501 5.1.3), as a quoted string (or
// a literal when needed).
func (e *Encoder) Mailbox(name string) *Encoder {
	if !e.utf8 {
		name = EncodeMUTF7(name)
	}
	return e.String(name)
}

// FetchKey writes the response name of a FETCH item ("BODY[HEADER]<0>"),
// as AppendFetchKey does, straight into the writer.
func (e *Encoder) FetchKey(it *FetchItem) *Encoder {
	e.Raw(it.Name)
	s := it.Section
	if s == nil {
		return e
	}
	e.Byte('[')
	for i, p := range s.Part {
		if i > 0 {
			e.Byte('.')
		}
		e.Number64(uint64(p))
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			e.Byte('.')
		}
		e.Raw(s.Specifier)
		if s.Not {
			e.Raw(".NOT")
		}
		if s.Specifier == "HEADER.FIELDS" {
			e.Raw(" (")
			for i, f := range s.Fields {
				if i > 0 {
					e.Byte(' ')
				}
				if isAStringAtom(f) {
					e.Raw(f)
				} else {
					e.String(f)
				}
			}
			e.Byte(')')
		}
	}
	e.Byte(']')
	if it.Partial != nil {
		e.Byte('<').Number(it.Partial.Offset).Byte('>')
	}
	return e
}

// quotable reports whether s can be a quoted string: no NUL, CR or LF, and
// 8-bit octets only as valid UTF-8 when utf8 is on (RFC 9051 QUOTED-CHAR,
// RFC 6855).
func quotable(s string, utf8ok bool) bool {
	high := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0 || c == '\r' || c == '\n':
			return false
		case c >= 0x80:
			if !utf8ok {
				return false
			}
			high = true
		}
	}
	return !high || utf8.ValidString(s)
}

// appendQuoted appends s quoted, escaping " and \; s must be quotable.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// isAStringAtom reports whether s can be sent as an astring's atom form.
func isAStringAtom(s string) bool {
	if s == "" || equalFoldASCII(s, "NIL") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return false
		}
	}
	return true
}
