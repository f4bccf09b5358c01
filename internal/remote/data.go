package remote

import (
	"bytes"
	"io"
)

// dotWriter applies SMTP transparency to message data (RFC 5321 section
// 4.5.2): a line that begins with "." gets another one. A bare LF becomes
// CRLF, since RFC 5321 section 2.3.8 allows no other line ending and some
// servers reject bare LFs as smuggling attempts. Close ends the data with
// "." on a line of its own, after completing an unterminated last line.
//
// It streams: the message is never held whole.
type dotWriter struct {
	w   io.Writer
	bol bool // at the beginning of a line
	cr  bool // the last byte was CR
}

func (d *dotWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if d.bol && p[0] == '.' {
			if _, err := io.WriteString(d.w, "."); err != nil {
				return n, err
			}
		}
		line := p
		i := bytes.IndexByte(p, '\n')
		if i >= 0 {
			line = p[:i+1]
		}
		var err error
		if i >= 0 && !(i > 0 && p[i-1] == '\r' || i == 0 && d.cr) {
			// A bare LF.
			if _, err = d.w.Write(line[:i]); err == nil {
				_, err = io.WriteString(d.w, "\r\n")
			}
		} else {
			_, err = d.w.Write(line)
		}
		if err != nil {
			return n, err
		}
		d.bol = i >= 0
		d.cr = line[len(line)-1] == '\r'
		n += len(line)
		p = p[len(line):]
	}
	return n, nil
}

// Close writes the end of data indication.
func (d *dotWriter) Close() error {
	term := ".\r\n"
	switch {
	case d.cr:
		term = "\n" + term
	case !d.bol:
		term = "\r\n" + term
	}
	_, err := io.WriteString(d.w, term)
	return err
}
