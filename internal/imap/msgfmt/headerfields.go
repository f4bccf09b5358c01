package msgfmt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// fieldBufSize is the line buffer of the HEADER.FIELDS filter. Longer lines
// pass through in pieces; only a field name must fit (a longer name is
// taken as matching no requested field).
const fieldBufSize = 4096

// fieldFilter reads a header block and yields only the lines of the
// selected fields (or, with not, of the other fields), continuation lines
// included, up to the empty line ending the header; then an empty line
// (RFC 9051 6.4.5: the subset "includes the blank line"). Lines pass
// unchanged, in message order. It never holds more than a buffer, however
// long the lines or the header.
type fieldFilter struct {
	br      *bufio.Reader
	fields  []string
	not     bool
	keep    bool   // the current field is selected
	midLine bool   // the last piece read did not end its line
	ended   bool   // the output so far ends with a line end (or is empty)
	done    bool   // the end of the header was reached
	err     error  // sticky read error
	pending []byte // output not yet returned; may alias br's buffer
}

func newFieldFilter(r io.Reader, fields []string, not bool) *fieldFilter {
	return &fieldFilter{br: bufio.NewReaderSize(r, fieldBufSize), fields: fields, not: not, ended: true}
}

func (f *fieldFilter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if f.done {
			return 0, io.EOF
		}
		f.step()
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// step reads the next piece of a line (a whole line when it fits the
// buffer) and queues it if its field is selected.
func (f *fieldFilter) step() {
	if !f.midLine {
		head, err := f.br.Peek(2)
		if err != nil && !errors.Is(err, io.EOF) {
			f.err = fmt.Errorf("msgfmt: read header: %w", err)
			return
		}
		if len(head) == 0 || head[0] == '\n' || head[0] == '\r' && (len(head) == 1 || head[1] == '\n') {
			// The empty line, or the end of an unterminated header.
			f.finish()
			return
		}
		if head[0] != ' ' && head[0] != '\t' {
			f.keep = f.selected()
		}
	}
	piece, err := f.br.ReadSlice('\n')
	f.midLine = errors.Is(err, bufio.ErrBufferFull)
	if f.keep && len(piece) > 0 {
		f.pending = piece
		f.ended = piece[len(piece)-1] == '\n'
	}
	switch {
	case err == nil || f.midLine:
	case errors.Is(err, io.EOF):
		if len(f.pending) == 0 {
			f.finish()
		}
		// else the next step peeks nothing and finishes
	default:
		f.err = fmt.Errorf("msgfmt: read header: %w", err)
	}
}

// finish queues the empty line that ends the output, preceded by a line end
// if the last selected line had none (an unterminated header).
func (f *fieldFilter) finish() {
	f.done = true
	if f.ended {
		f.pending = []byte("\r\n")
	} else {
		f.pending = []byte("\r\n\r\n")
	}
}

// selected reports whether the field starting at the current line is to be
// kept. Its name is what precedes the colon, without trailing whitespace
// (RFC 5322 obs-optional allows "Subject :"); a line without a colon names
// no field.
func (f *fieldFilter) selected() bool {
	line, _ := f.br.Peek(fieldBufSize)
	var name []byte
	for i, c := range line {
		if c == ':' {
			name = line[:i]
			break
		}
		if c == '\n' {
			break
		}
	}
	for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
		name = name[:len(name)-1]
	}
	match := false
	if len(name) > 0 {
		for _, fl := range f.fields {
			if equalFoldASCII(name, fl) {
				match = true
				break
			}
		}
	}
	return match != f.not
}

// equalFoldASCII compares a field name case-insensitively in ASCII (field
// names are ASCII; no Unicode folding may make two names equal).
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
