package mailexport

import (
	"bufio"
	"bytes"
	"io"
)

// copyLines copies a stored message (CRLF line endings) to w with LF line
// endings, as Maildir and mbox files have them on Unix and as
// mailimport reads them back (it makes every bare LF a CRLF again). A
// bare CR stays. With mboxrd set, a line that starts with ">*From " gets
// one more ">" (the mboxrd escape, which the reader undoes exactly). It
// reports the bytes written and whether the last one was a LF.
//
// br is a reused buffer (64 KiB): a line longer than it is copied in
// pieces, so memory stays bounded whatever the message.
func copyLines(w *bufio.Writer, r io.Reader, br *bufio.Reader, mboxrd bool) (n int64, endsLF bool, err error) {
	br.Reset(r)
	lineStart := true
	heldCR := false // a piece ended in CR: a LF may follow in the next one
	var last byte
	put := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		k, err := w.Write(b)
		n += int64(k)
		last = b[len(b)-1]
		return err
	}
	for {
		piece, rerr := br.ReadSlice('\n')
		if rerr != nil && rerr != bufio.ErrBufferFull && rerr != io.EOF {
			return n, false, rerr
		}
		if heldCR {
			heldCR = false
			if len(piece) > 0 && piece[0] == '\n' {
				if err := put([]byte{'\n'}); err != nil {
					return n, false, err
				}
				piece = piece[1:]
				lineStart = true
			} else if err := put([]byte{'\r'}); err != nil {
				return n, false, err
			}
		}
		if len(piece) > 0 {
			if lineStart && mboxrd && isFromLine(piece) {
				if err := put([]byte{'>'}); err != nil {
					return n, false, err
				}
			}
			switch {
			case bytes.HasSuffix(piece, []byte("\r\n")):
				if err := put(piece[:len(piece)-2]); err != nil {
					return n, false, err
				}
				if err := put([]byte{'\n'}); err != nil {
					return n, false, err
				}
				lineStart = true
			case rerr == bufio.ErrBufferFull && piece[len(piece)-1] == '\r':
				heldCR = true
				if err := put(piece[:len(piece)-1]); err != nil {
					return n, false, err
				}
				lineStart = false
			default:
				if err := put(piece); err != nil {
					return n, false, err
				}
				lineStart = piece[len(piece)-1] == '\n'
			}
		}
		if rerr == io.EOF {
			if heldCR {
				if err := put([]byte{'\r'}); err != nil {
					return n, false, err
				}
			}
			return n, n > 0 && last == '\n', nil
		}
	}
}

// isFromLine: ">*From " at the start of a line, the lines mboxrd escapes.
func isFromLine(b []byte) bool {
	b = bytes.TrimLeft(b, ">")
	return bytes.HasPrefix(b, []byte("From "))
}
