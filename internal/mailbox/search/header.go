package search

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
)

// maxFieldBytes bounds what is kept of one unfolded header field (the
// scanner in internal/mime keeps at most 256 KiB of a whole header block;
// one field of that size is already absurd). The rest is skipped.
const maxFieldBytes = 256 << 10

// fieldReader splits a header block into unfolded fields, reading it
// through a fixed buffer whatever its size; a bodyScanner reuses one.
type fieldReader struct {
	br    *bufio.Reader
	field []byte
}

// each calls fn with every field of the header block in r: the name as
// written and the value, unfolded (RFC 5322 2.2.3: line ends removed,
// whitespace kept) and trimmed. It stops at the empty line ending the
// header, at the end of r, or when fn returns false. The slices are only
// valid during the call.
func (fr *fieldReader) each(ctx context.Context, r io.Reader, fn func(name, value []byte) bool) error {
	if fr.br == nil {
		fr.br = bufio.NewReaderSize(r, 16<<10)
	} else {
		fr.br.Reset(r)
	}
	fr.field = fr.field[:0]
	have := false     // field holds a field's start
	lineStart := true // the next byte starts a line
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := fr.br.ReadSlice('\n')
		if len(line) > 0 {
			if lineStart {
				if line[0] == '\n' || line[0] == '\r' && (len(line) == 1 || line[1] == '\n') {
					break // the empty line: end of the header
				}
				if line[0] != ' ' && line[0] != '\t' {
					if have && !emitField(fr.field, fn) {
						return nil
					}
					fr.field, have = fr.field[:0], true
				}
			}
			lineStart = line[len(line)-1] == '\n'
			if lineStart {
				line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
			}
			if room := maxFieldBytes - len(fr.field); room > 0 {
				fr.field = append(fr.field, line[:min(len(line), room)]...)
			}
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			break
		}
		return err
	}
	if have {
		emitField(fr.field, fn)
	}
	return nil
}

// emitField splits a field at its colon and calls fn; a "field" without a
// colon (a continuation line before any field, garbage) is skipped.
func emitField(f []byte, fn func(name, value []byte) bool) bool {
	i := bytes.IndexByte(f, ':')
	if i < 0 {
		return true
	}
	name := bytes.TrimRight(f[:i], " \t")
	return fn(name, bytes.TrimSpace(f[i+1:]))
}
