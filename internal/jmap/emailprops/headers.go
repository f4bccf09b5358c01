package emailprops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"mailroom/internal/mime"
)

// Header is one header field as JMAP's EmailHeader (RFC 8621 section
// 4.1.3): the field name as it appears in the message and the value in Raw
// form.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// DefaultHeaderLimit is the header bytes Headers reads when given a limit
// of 0 or less: the scanner's default MaxHeaderBytes, so a header block
// the scanner parsed in full is read in full here too.
const DefaultHeaderLimit = 256 << 10

// ErrHeaderTruncated is returned, together with the fields that fit, when
// a header block is longer than the limit. Callers serving JMAP may ignore
// it: the fields returned are complete, only later ones are missing.
var ErrHeaderTruncated = errors.New("emailprops: header longer than the limit, later fields dropped")

// Headers returns the header fields of p in message order, reading only
// [HeaderStart, BodyStart) and at most limit bytes of it (DefaultHeaderLimit
// if limit <= 0). Values are in Raw form (RFC 8621 4.1.2.1): everything
// after the colon up to, not including, the line end that ends the field,
// with the line ends of folding kept. Octets that are not UTF-8 are
// replaced by U+FFFD, as a JSON string cannot carry them. Lines that are
// not fields (no colon, such as an mbox "From " line) are skipped. When
// the header is longer than limit, the fields wholly inside the limit are
// returned with ErrHeaderTruncated.
func Headers(r io.ReaderAt, p *mime.Part, limit int) ([]Header, error) {
	if p == nil {
		return nil, nil
	}
	if limit <= 0 {
		limit = DefaultHeaderLimit
	}
	size := p.HeaderSize()
	truncated := false
	if size > int64(limit) {
		size, truncated = int64(limit), true
	}
	if size <= 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	n, err := r.ReadAt(buf, p.HeaderStart)
	if err != nil && !(err == io.EOF && n == len(buf)) {
		return nil, fmt.Errorf("emailprops: read header at %d: %w", p.HeaderStart, err)
	}
	hs := splitFields(buf, truncated)
	if truncated {
		return hs, ErrHeaderTruncated
	}
	return hs, nil
}

// splitFields splits a header block into fields. cut says the block was
// cut short, so that its last field may be incomplete and is dropped
// unless the empty line ending the header was seen. A field's value
// collects its lines with their line ends; the last line end is dropped
// when the field ends, so folding stays exactly as it was.
func splitFields(b []byte, cut bool) []Header {
	var hs []Header
	var name string
	var value []byte
	have := false
	flush := func() {
		if have {
			v := trimEOL(value)
			hs = append(hs, Header{Name: name, Value: validUTF8(string(v))})
		}
		have = false
	}
	for len(b) > 0 {
		line, rest, complete := nextLine(b)
		b = rest
		body := trimEOL(line)
		if len(body) == 0 && complete {
			flush()
			return hs // the empty line ending the header
		}
		if !complete && cut {
			// A cut line starting a new field ends the previous one; a
			// cut continuation line leaves it incomplete.
			if len(body) > 0 && body[0] != ' ' && body[0] != '\t' {
				flush()
			}
			have = false
			break
		}
		if len(body) > 0 && (body[0] == ' ' || body[0] == '\t') {
			if have {
				value = append(value, line...)
			}
			continue
		}
		flush()
		i := bytes.IndexByte(body, ':')
		if i <= 0 {
			continue
		}
		n := bytes.TrimRight(body[:i], " \t") // RFC 5322 4.5.3 obs-optional
		if len(n) == 0 || !validName(n) {
			continue
		}
		name, value, have = string(n), append(value[:0], line[i+1:]...), true
	}
	if cut {
		have = false // the next line, past the limit, may continue it
	}
	flush()
	return hs
}

func nextLine(b []byte) (line, rest []byte, complete bool) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:], true
	}
	return b, nil, false
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// validName: RFC 5322 ftext, printable US-ASCII except colon.
func validName(n []byte) bool {
	for _, c := range n {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
