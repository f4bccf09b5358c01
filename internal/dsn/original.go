package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// head is the start of the original message, up to the end of its header
// section or a limit, as read before anything is written.
type head struct {
	raw      []byte // the octets read, as they were
	lines    int    // len(raw[:lines]) are complete lines
	complete bool   // raw ends with the empty line that ends the header section
	eof      bool   // the message ended within raw
	eightBit bool   // raw has an octet above 127
}

// readHead reads the header section of the message in br, stopping at the
// empty line that ends it, at the end of the message or once limit octets
// have been read, whichever comes first. What it has read is in raw, and
// no more: the rest of the message is still in br.
func readHead(br *bufio.Reader, limit int) (head, error) {
	var h head
	for len(h.raw) < limit {
		chunk, err := br.ReadSlice('\n')
		h.raw = append(h.raw, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			// A line longer than the buffer: read on.
			continue
		case err == io.EOF:
			h.eof = true
		case err != nil:
			return h, err
		}
		if h.eof {
			break
		}
		line := h.raw[h.lines:]
		h.lines = len(h.raw)
		if bytes.Equal(line, []byte("\r\n")) || bytes.Equal(line, []byte("\n")) {
			h.complete = true
			break
		}
	}
	for _, c := range h.raw {
		if c >= 0x80 {
			h.eightBit = true
			break
		}
	}
	return h, nil
}

// section returns the header section to return as text/rfc822-headers:
// the fields, and the empty line that ends them. A header section cut at
// the limit ends with its last complete line; a message that ends within
// its header section ends with its last line, given a line end.
func (h head) section() []byte {
	switch {
	case h.complete:
		return h.raw
	case h.eof:
		s := append([]byte(nil), h.raw...)
		if len(s) > 0 && s[len(s)-1] != '\n' {
			s = append(s, "\r\n"...)
		}
		return append(s, "\r\n"...)
	}
	return append(append([]byte(nil), h.raw[:h.lines]...), "\r\n"...)
}

// crlfWriter writes to w what is written to it with every line end made
// CRLF: a bare LF or a bare CR becomes CRLF, so that the returned message
// cannot end a line of the notification in a way RFC 5322 §2.3 forbids.
// A message that already has CRLF line ends passes unchanged.
type crlfWriter struct {
	w   *bufio.Writer
	cr  bool // the last octet was a CR whose LF has not come yet
	err error
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := len(p)
	for len(p) > 0 {
		if c.cr {
			c.cr = false
			if p[0] == '\n' {
				c.w.WriteByte('\n')
				p = p[1:]
				continue
			}
			c.w.WriteByte('\n')
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			c.w.Write(p)
			break
		}
		c.w.Write(p[:i])
		if p[i] == '\r' {
			c.w.WriteByte('\r')
			c.cr = true
		} else {
			c.w.WriteString("\r\n")
		}
		p = p[i+1:]
	}
	// bufio.Writer keeps its first error and returns it from every call;
	// an empty Write asks for it without writing.
	if _, err := c.w.Write(nil); err != nil {
		c.err = err
		return 0, err
	}
	return n, nil
}

// Close ends a last bare CR with its LF.
func (c *crlfWriter) Close() error {
	if c.cr && c.err == nil {
		c.cr = false
		c.w.WriteByte('\n')
	}
	if _, err := c.w.Write(nil); err != nil {
		return err
	}
	return c.err
}
