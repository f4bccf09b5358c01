package emailprops

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"mailroom/internal/mime"
)

// EmailBodyValue is RFC 8621 4.1.4's EmailBodyValue.
type EmailBodyValue struct {
	Value             string `json:"value"`
	IsEncodingProblem bool   `json:"isEncodingProblem"`
	IsTruncated       bool   `json:"isTruncated"`
}

// MaxBodyValueBytes bounds a body value when the client sets no
// maxBodyValueBytes (0): the RFC would have the whole part, but one JSON
// string of a 50 MB part is no use to anyone and a risk to the server, so
// longer values are cut here and reported as truncated.
const MaxBodyValueBytes = 16 << 20

// BodyValue decodes p's content to a body value (RFC 8621 4.1.4): the
// transfer encoding and the charset undone through the mime package's
// decoders, CRLF turned into LF, invalid octets replaced by U+FFFD. It is
// cut to at most maxBytes octets of UTF-8 (MaxBodyValueBytes if maxBytes
// <= 0 or larger) on a character boundary, and for text/html not inside a
// tag (the RFC's SHOULD); IsTruncated says it was cut. IsEncodingProblem
// is set for an unknown transfer encoding or charset, for malformed
// base64 or quoted-printable, and for octets the charset does not define,
// all as far as the part was read: reading stops once the value is full.
// Only the part's bytes up to that point are read.
func BodyValue(r io.ReaderAt, p *mime.Part, maxBytes int) (EmailBodyValue, error) {
	if maxBytes <= 0 || maxBytes > MaxBodyValueBytes {
		maxBytes = MaxBodyValueBytes
	}
	var v EmailBodyValue
	if !mime.KnownTransferEncoding(p.Encoding) {
		v.IsEncodingProblem = true
	}
	cs, _ := p.Param("charset")
	enc, known := mime.LookupCharset(cs)
	if !known {
		v.IsEncodingProblem = true
	}
	chk := newEncChecker(p.Encoding)
	raw := io.Reader(io.NewSectionReader(r, p.BodyStart, p.BodySize()))
	if chk != nil {
		raw = &checkReader{r: raw, c: chk}
	}
	var src io.Reader = mime.NewTransferReader(raw, p.Encoding)
	if enc != nil {
		src = enc.NewDecoder().Reader(src)
	}

	// Read LF-normalised text until it holds more than maxBytes octets
	// (plus a character's worth, to cut on a boundary) or the part ends.
	want := maxBytes + utf8.UTFMax
	out := make([]byte, 0, min(want, int(min(p.BodySize(), int64(want)))+64))
	chunk := make([]byte, 32<<10)
	pendingCR := false
	more := false
	for {
		n, err := src.Read(chunk)
		out, pendingCR = appendLF(out, chunk[:n], pendingCR)
		if len(out) > want {
			more = true
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return v, fmt.Errorf("emailprops: read part at %d: %w", p.BodyStart, err)
		}
	}
	if pendingCR && !more {
		out = append(out, '\r')
	}
	if chk != nil && !more && chk.end() {
		v.IsEncodingProblem = true
	}
	if chk != nil && chk.bad {
		v.IsEncodingProblem = true
	}
	if enc != nil && bytes.Contains(out, []byte("\uFFFD")) {
		// A legacy charset's decoder writes U+FFFD for octets it does not
		// define; such charsets cannot encode U+FFFD themselves.
		v.IsEncodingProblem = true
	}
	cut := len(out)
	if more || cut > maxBytes {
		cut = runeCut(out, maxBytes)
		v.IsTruncated = true
	}
	s := string(out[:cut])
	if !utf8.ValidString(s) {
		v.IsEncodingProblem = true
		s = strings.ToValidUTF8(s, "\uFFFD")
		if len(s) > maxBytes {
			s = string(s[:runeCut([]byte(s), maxBytes)])
			v.IsTruncated = true
		}
	}
	if v.IsTruncated && p.Type == "text" && p.Subtype == "html" {
		if lt := strings.LastIndexByte(s, '<'); lt >= 0 && lt > strings.LastIndexByte(s, '>') {
			s = s[:lt]
		}
	}
	v.Value = s
	return v, nil
}

// runeCut returns the largest n <= max at which b can be cut without
// splitting a UTF-8 sequence.
func runeCut(b []byte, max int) int {
	if max >= len(b) {
		return len(b)
	}
	n := max
	for n > 0 && n > max-utf8.UTFMax && !utf8.RuneStart(b[n]) {
		n--
	}
	if !utf8.RuneStart(b[n]) {
		return max // not UTF-8 here anyway: cut where asked
	}
	return n
}

// appendLF appends src to dst with every CRLF turned into LF. A CR at the
// end of src may be the first half of a CRLF: it is held (pending) for
// the next call.
func appendLF(dst, src []byte, pendingCR bool) ([]byte, bool) {
	for len(src) > 0 {
		if pendingCR {
			if src[0] != '\n' {
				dst = append(dst, '\r')
			}
			pendingCR = false
		}
		i := bytes.IndexByte(src, '\r')
		if i < 0 {
			return append(dst, src...), false
		}
		dst = append(dst, src[:i]...)
		src = src[i+1:]
		if len(src) == 0 {
			return dst, true
		}
		if src[0] != '\n' {
			dst = append(dst, '\r')
		}
	}
	return dst, pendingCR
}

// PartReader streams the content of p with its transfer encoding undone,
// charset untouched: the octets of the part's blob (RFC 8621 4.1.4's blobId
// names "the raw octets of the contents of the part after decoding any
// known Content-Transfer-Encoding"). An unknown encoding reads as is.
func PartReader(r io.ReaderAt, p *mime.Part) io.Reader {
	return mime.NewTransferReader(io.NewSectionReader(r, p.BodyStart, p.BodySize()), p.Encoding)
}

// previewRunes is RFC 8621's bound on preview: "MUST NOT be more than 256
// characters in length".
const previewRunes = 256

// Preview is the preview property (RFC 8621 4.1.4). The scanner's
// Message.Preview, made at delivery from the first text part that is not
// an attachment (HTML stripped, white space collapsed), is what the RFC
// asks for, and is used when present. A structure without one (a
// message with no text part, or decoded from storage without it) falls
// back to the first text/* part of textBody, read at most 16 KiB deep.
func Preview(r io.ReaderAt, m *mime.Message) string {
	if m == nil {
		return ""
	}
	if m.Preview != "" {
		return mime.PlainText(m.Preview, false, previewRunes)
	}
	l, err := lists(m)
	if err != nil {
		return ""
	}
	for _, n := range l.text {
		if n.p.Type != "text" {
			continue
		}
		v, err := BodyValue(r, n.p, 16<<10)
		if err != nil {
			return ""
		}
		return mime.PlainText(v.Value, n.p.Subtype == "html", previewRunes)
	}
	return ""
}
