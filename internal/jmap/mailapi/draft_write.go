package mailapi

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
)

// errAttachmentsTooLarge: the blobs of one Email exceed
// maxSizeAttachmentsPerEmail.
var errAttachmentsTooLarge = errors.New("the attachments exceed maxSizeAttachmentsPerEmail")

// maxAttachmentBytes is the account capability maxSizeAttachmentsPerEmail.
const maxAttachmentBytes = 50 << 20

// blobOpener opens a blob's content for writing it into a message.
type blobOpener func(blobID string) (io.ReadCloser, error)

// draftWriter writes a draft as an RFC 5322 message.
type draftWriter struct {
	w        *bufio.Writer
	open     blobOpener
	boundary func() string
	blobSize int64
}

// newBoundary is a random multipart boundary. "=_" cannot occur in
// base64 or at the start of a quoted-printable line, and 96 random bits
// make a collision with a text or message part's line vanishingly rare.
func newBoundary() string {
	var b [12]byte
	rand.Read(b[:])
	return "=_mr" + hex.EncodeToString(b[:])
}

// write writes the message. Contents are streamed: a blob is read as it
// is encoded, never held whole.
func (d *draft) write(w io.Writer, open blobOpener, boundary func() string) error {
	if boundary == nil {
		boundary = newBoundary
	}
	dw := &draftWriter{w: bufio.NewWriterSize(w, 32<<10), open: open, boundary: boundary}
	var h strings.Builder
	for _, f := range d.header {
		foldField(&h, f)
	}
	foldField(&h, field{name: "MIME-Version", value: "1.0"})
	if _, err := dw.w.WriteString(h.String()); err != nil {
		return err
	}
	if err := dw.part(d.root); err != nil {
		return err
	}
	return dw.w.Flush()
}

// encoding is how a leaf's content is written.
type encoding int

const (
	enc7bit encoding = iota
	encQP
	encBase64
	enc8bit // message/rfc822 from a blob: RFC 2046 §5.2.1 forbids encoding it
)

var encodingNames = [...]string{"7bit", "quoted-printable", "base64", "8bit"}

// textValue is a bodyValues value with CRLF line ends, as a message has
// them (values come with LF, RFC 8621 §4.1.4).
func textValue(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "\n")
	return strings.ReplaceAll(v, "\n", "\r\n")
}

// valueEncoding: 7bit for short-lined ASCII, else quoted-printable.
func valueEncoding(v string) encoding {
	line := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\n':
			line = 0
			continue
		case c >= 0x80 || c == 0 || (c < 0x20 && c != '\t' && c != '\r'):
			return encQP
		}
		if line++; line > 998 {
			return encQP
		}
	}
	return enc7bit
}

// part writes one entity: its Content-* fields, then its content.
func (dw *draftWriter) part(p *draftPart) error {
	var h strings.Builder
	var content string
	enc := enc7bit
	params := map[string]string{}
	switch {
	case p.multipart():
		params["boundary"] = dw.boundary()
	case p.value != nil:
		content = textValue(*p.value)
		enc = valueEncoding(content)
		if strings.HasPrefix(p.typ, "text/") {
			params["charset"] = "utf-8"
		}
	default:
		switch {
		case p.typ == "message/rfc822":
			enc = enc8bit
		case strings.HasPrefix(p.typ, "text/"):
			enc = encQP
		default:
			enc = encBase64
		}
		if p.charset != "" && strings.HasPrefix(p.typ, "text/") {
			params["charset"] = p.charset
		}
	}
	if p.name != nil && !p.multipart() {
		params["name"] = cleanText(*p.name)
	}
	foldField(&h, field{name: "Content-Type", value: formatMediaType(p.typ, params)})
	if enc != enc7bit {
		foldField(&h, field{name: "Content-Transfer-Encoding", value: encodingNames[enc]})
	}
	for _, f := range p.fields {
		foldField(&h, f)
	}
	h.WriteString("\r\n")
	if _, err := dw.w.WriteString(h.String()); err != nil {
		return err
	}
	if p.multipart() {
		b := params["boundary"]
		for i, sp := range p.subParts {
			sep := "\r\n--" + b + "\r\n"
			if i == 0 {
				sep = "--" + b + "\r\n"
			}
			if _, err := dw.w.WriteString(sep); err != nil {
				return err
			}
			if err := dw.part(sp); err != nil {
				return err
			}
		}
		_, err := dw.w.WriteString("\r\n--" + b + "--\r\n")
		return err
	}
	if p.value != nil {
		return writeEncoded(dw.w, strings.NewReader(content), enc)
	}
	r, err := dw.open(p.blobID)
	if err != nil {
		return fmt.Errorf("open blob %s: %w", p.blobID, err)
	}
	defer r.Close()
	lr := &countingReader{r: r, n: &dw.blobSize}
	if err := writeEncoded(dw.w, lr, enc); err != nil {
		return err
	}
	if dw.blobSize > maxAttachmentBytes {
		return errAttachmentsTooLarge
	}
	return nil
}

// countingReader adds what it reads to *n and stops just past the limit.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	if *c.n > maxAttachmentBytes {
		return 0, errAttachmentsTooLarge
	}
	n, err := c.r.Read(b)
	*c.n += int64(n)
	return n, err
}

// writeEncoded copies r to w in the encoding.
func writeEncoded(w io.Writer, r io.Reader, enc encoding) error {
	switch enc {
	case encQP:
		qw := quotedprintable.NewWriter(w)
		if _, err := io.Copy(qw, r); err != nil {
			return err
		}
		return qw.Close()
	case encBase64:
		lw := &lineWrapper{w: w}
		bw := base64.NewEncoder(base64.StdEncoding, lw)
		if _, err := io.Copy(bw, r); err != nil {
			return err
		}
		return bw.Close()
	}
	_, err := io.Copy(w, r)
	return err
}

// lineWrapper breaks base64 into 76-character lines (RFC 2045 §6.8).
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return n, err
			}
			l.col = 0
		}
		k := min(76-l.col, len(b))
		m, err := l.w.Write(b[:k])
		n += m
		l.col += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}
