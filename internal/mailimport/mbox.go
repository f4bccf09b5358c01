// Package mailimport brings existing mail into an account: readers of mbox
// files and Maildir trees, and the import loop that stages every message
// from a stream and delivers batches of them in one store transaction,
// recording its progress so an interrupted import resumes where it
// stopped (see docs/operations.md, "Moving mail in").
package mailimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/store"
)

// MboxFormat is how "From " lines inside messages were escaped.
type MboxFormat int

// The mbox variants. mboxcl2 is decided per message (a Content-Length
// that lands on the next separator); these two say how the others are
// un-escaped.
const (
	// MboxO: a body line "From " was written ">From "; only that is undone.
	MboxO MboxFormat = iota
	// MboxRD: every ">*From " line got one more ">"; one is taken off.
	MboxRD
)

func (f MboxFormat) String() string {
	if f == MboxRD {
		return "mboxrd"
	}
	return "mboxo"
}

// ErrTruncated: the source ended inside a message (in its header, or
// without the final newline every mbox writer ends a message with).
var ErrTruncated = errors.New("message truncated at the end of the file")

// DetectMboxFormat reads an mbox once: mboxrd if a line ">>From " appears
// (only mboxrd writers produce those from ordinary ">From " text), else
// mboxo. Bounded memory: lines are looked at by their start only.
func DetectMboxFormat(r io.Reader) (MboxFormat, error) {
	lr := lineReader{br: bufio.NewReaderSize(r, 64<<10)}
	for {
		b, start, err := lr.next()
		if start && bytes.HasPrefix(b, []byte(">>From ")) {
			return MboxRD, nil
		}
		if err == io.EOF {
			return MboxO, nil
		}
		if err != nil {
			return MboxO, fmt.Errorf("detect mbox format: %w", err)
		}
	}
}

// Skip is a part of a source that was not imported, and why.
type Skip struct {
	Offset int64 // in an mbox; -1 in a Maildir
	Bytes  int64
	Where  string // the Maildir file, "" in an mbox
	Reason string
}

// MboxMessage is one message of an mbox. Body streams it, converted to
// CRLF line endings, without the separator line and the status fields;
// it is valid until the next call of Next. Flags and Keywords are known
// once Body has been read to its end.
type MboxMessage struct {
	Offset   int64 // of its "From " line
	Date     time.Time
	Flags    store.Flags
	Keywords []string
	Body     io.Reader
	// CL2: the body was taken by its consistent Content-Length, as is.
	CL2 bool

	r *MboxReader
}

// End is the offset just after the message: where the next one starts.
// Known once Body has been read to its end.
func (m *MboxMessage) End() int64 { return m.r.end }

// MboxReader reads the messages of an mbox one by one, in bounded memory.
type MboxReader struct {
	ra     io.ReaderAt
	size   int64
	format MboxFormat
	lr     lineReader

	sep      []byte // the separator line the last body ended at
	sepAt    int64
	cur      *msgReader
	end      int64
	skips    []Skip
	garbage  int // index in skips of the garbage being read, -1 if none
	finished bool
}

// NewMboxReader reads the mbox ra of size bytes from offset start, which
// must be 0 or the start of a "From " line.
func NewMboxReader(ra io.ReaderAt, start, size int64, format MboxFormat) *MboxReader {
	return &MboxReader{
		ra: ra, size: size, format: format, garbage: -1,
		lr: lineReader{br: bufio.NewReaderSize(io.NewSectionReader(ra, start, size-start), 64<<10), pos: start},
	}
}

// Skipped lists what was not a message (text before the first separator,
// between a Content-Length body and the next separator).
func (r *MboxReader) Skipped() []Skip { return r.skips }

// Next returns the next message, or io.EOF after the last.
func (r *MboxReader) Next() (*MboxMessage, error) {
	if r.cur != nil {
		if _, err := io.Copy(io.Discard, r.cur); err != nil && !errors.Is(err, ErrTruncated) {
			return nil, err
		}
		r.cur = nil
	}
	for r.sep == nil {
		if r.finished {
			return nil, io.EOF
		}
		at := r.lr.pos
		b, start, err := r.lr.next()
		if start && !r.lr.mid && isSeparator(b) {
			r.sep, r.sepAt = append([]byte(nil), b...), at
			r.garbage = -1
			break
		}
		if len(b) > 0 && !(start && !r.lr.mid && isBlank(b)) && r.garbage < 0 {
			r.skips = append(r.skips, Skip{Offset: at, Reason: "not part of a message (no \"From \" line before it)"})
			r.garbage = len(r.skips) - 1
		}
		if r.garbage >= 0 {
			r.skips[r.garbage].Bytes = r.lr.pos - r.skips[r.garbage].Offset
		}
		if err == io.EOF {
			r.finished = true
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("read mbox: %w", err)
		}
	}
	m := &MboxMessage{Offset: r.sepAt, Date: separatorDate(r.sep), r: r}
	r.sep = nil
	r.cur = &msgReader{r: r, m: m, contentLength: -1}
	m.Body = r.cur
	return m, nil
}

// msgReader streams one message: header lines (the status fields taken
// out, their flags kept), then the body, un-escaped, CRLF line endings.
type msgReader struct {
	r             *MboxReader
	m             *MboxMessage
	out           []byte
	buf           []byte // out's backing array, reused
	chunk         []byte // for Content-Length bodies
	inBody        bool
	cl2Left       int64
	contentLength int64
	dropField     bool // in a status field's continuation lines
	field         string
	heldBlank     bool // a blank line that may be the separator's
	prevCR        bool // the last piece ended in CR
	err           error
}

func (mr *msgReader) Read(p []byte) (int, error) {
	for len(mr.out) == 0 && mr.err == nil {
		mr.out = mr.buf[:0]
		mr.step()
		mr.buf = mr.out[:0]
	}
	n := copy(p, mr.out)
	mr.out = mr.out[n:]
	if len(mr.out) == 0 && mr.err != nil {
		return n, mr.err
	}
	return n, nil
}

// emit appends a piece of a line with its LF made CRLF.
func (mr *msgReader) emit(b []byte) {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		cr := mr.prevCR && len(b) == 1 || len(b) >= 2 && b[len(b)-2] == '\r'
		if !cr {
			mr.out = append(mr.out, b[:len(b)-1]...)
			mr.out = append(mr.out, '\r', '\n')
			mr.prevCR = false
			return
		}
	}
	mr.out = append(mr.out, b...)
	mr.prevCR = len(b) > 0 && b[len(b)-1] == '\r'
}

func (mr *msgReader) finish(err error) {
	mr.r.end = mr.r.lr.pos
	if mr.r.sep != nil {
		mr.r.end = mr.r.sepAt
	}
	if err == nil {
		err = io.EOF
	}
	mr.err = err
}

func (mr *msgReader) step() {
	r := mr.r
	if mr.cl2Left > 0 {
		if mr.chunk == nil {
			mr.chunk = make([]byte, 32<<10)
		}
		buf := mr.chunk[:min(mr.cl2Left, int64(len(mr.chunk)))]
		n, err := io.ReadFull(r.lr.br, buf)
		r.lr.pos += int64(n)
		mr.cl2Left -= int64(n)
		// Line endings only; nothing else of a Content-Length body changes.
		for len(buf[:n]) > 0 {
			i := bytes.IndexByte(buf[:n], '\n')
			if i < 0 {
				mr.emit(buf[:n])
				break
			}
			mr.emit(buf[:i+1])
			buf, n = buf[i+1:], n-i-1
		}
		if err != nil {
			mr.finish(ErrTruncated)
			return
		}
		if mr.cl2Left == 0 {
			r.lr.mid = false
			mr.finish(nil) // Next skips the blank line before the separator
		}
		return
	}
	at := r.lr.pos
	b, start, err := r.lr.next()
	whole := start && !r.lr.mid
	if err != nil && err != io.EOF {
		mr.finish(fmt.Errorf("read mbox: %w", err))
		return
	}
	if len(b) == 0 && err == io.EOF {
		if !mr.inBody {
			mr.finish(ErrTruncated)
			return
		}
		mr.finish(nil) // a held blank line belonged to the separator
		return
	}
	if err == io.EOF && b[len(b)-1] != '\n' {
		mr.finish(ErrTruncated)
		return
	}
	if !mr.inBody {
		mr.header(b, start, whole, at)
		return
	}
	if whole && isSeparator(b) {
		r.sep, r.sepAt = append([]byte(nil), b...), at
		mr.finish(nil)
		return
	}
	if mr.heldBlank {
		mr.emit([]byte("\n"))
		mr.heldBlank = false
	}
	if whole && isBlank(b) {
		mr.heldBlank = true
		return
	}
	if start {
		b = unescape(b, r.format)
	}
	mr.emit(b)
}

// header handles one piece of a header line.
func (mr *msgReader) header(b []byte, start, whole bool, at int64) {
	r := mr.r
	if !start || len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		if mr.dropField {
			mr.statusValue(string(b))
			return
		}
		mr.emit(b)
		return
	}
	mr.dropField = false
	if whole && isBlank(b) {
		mr.inBody = true
		mr.emit(b)
		if cl := mr.contentLength; cl >= 0 && r.consistent(r.lr.pos, cl) {
			mr.m.CL2 = true
			mr.cl2Left = cl
			if cl == 0 {
				mr.finish(nil)
			}
		}
		return
	}
	name, value, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		mr.emit(b)
		return
	}
	mr.field = strings.ToLower(string(bytes.TrimSpace(name)))
	switch mr.field {
	case "status", "x-status", "x-keywords", "x-uid", "x-imap", "x-imapbase":
		mr.dropField = true
		mr.statusValue(string(value))
		return
	case "content-length":
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64); err == nil && n >= 0 {
			mr.contentLength = n
		}
	}
	mr.emit(b)
}

// statusValue reads (part of) a status field's value into the flags.
func (mr *msgReader) statusValue(v string) {
	m := mr.m
	switch mr.field {
	case "status":
		if strings.ContainsRune(v, 'R') {
			m.Flags |= store.FlagSeen
		}
	case "x-status":
		for _, c := range v {
			switch c {
			case 'A':
				m.Flags |= store.FlagAnswered
			case 'F':
				m.Flags |= store.FlagFlagged
			case 'T':
				m.Flags |= store.FlagDraft
			case 'D':
				m.Flags |= store.FlagDeleted
			}
		}
	case "x-keywords":
		for _, k := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n' }) {
			if store.ValidKeyword(k) {
				m.Keywords = append(m.Keywords, k)
			}
		}
	}
}

// consistent reports whether a body of n bytes from at ends the message:
// at the end of the file, or before a separator (after a blank line).
func (r *MboxReader) consistent(at, n int64) bool {
	end := at + n
	if end == r.size {
		return true
	}
	if end > r.size {
		return false
	}
	var buf [7]byte
	k, _ := r.ra.ReadAt(buf[:], end)
	b := buf[:k]
	return bytes.HasPrefix(b, []byte("From ")) || bytes.HasPrefix(b, []byte("\nFrom ")) ||
		bytes.HasPrefix(b, []byte("\r\nFrom ")) || (k == 1 && b[0] == '\n' && end+1 == r.size)
}

func isBlank(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}

// unescape undoes the mbox escaping of one line start.
func unescape(b []byte, f MboxFormat) []byte {
	switch f {
	case MboxRD:
		i := 0
		for i < len(b) && b[i] == '>' {
			i++
		}
		if i > 0 && bytes.HasPrefix(b[i:], []byte("From ")) {
			return b[1:]
		}
	default:
		if bytes.HasPrefix(b, []byte(">From ")) {
			return b[1:]
		}
	}
	return b
}

// isSeparator: "From " then a sender and a date, as mutt decides, so an
// unescaped "From the desk of…" body line does not split a message.
func isSeparator(b []byte) bool {
	return bytes.HasPrefix(b, []byte("From ")) && !separatorDate(b).IsZero()
}

var asctimeLayouts = []string{
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 2006 -0700",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04 2006",
	"Mon, 2 Jan 2006 15:04:05 -0700",
}

// separatorDate is the date of a "From sender date" line, zero if none.
// An asctime date without a zone is taken as UTC.
func separatorDate(b []byte) time.Time {
	f := strings.Fields(string(b))
	if len(f) < 5 || f[0] != "From" {
		return time.Time{}
	}
	for _, from := range []int{2, 1} {
		s := strings.Join(f[from:], " ")
		for _, l := range asctimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// lineReader hands out lines, or pieces of lines longer than its buffer,
// and counts the bytes read.
type lineReader struct {
	br  *bufio.Reader
	pos int64
	mid bool // the last piece did not end its line
}

// next returns the next piece; start says whether it begins a line. At
// the end it returns io.EOF with what was left (no newline).
func (l *lineReader) next() (b []byte, start bool, err error) {
	start = !l.mid
	b, err = l.br.ReadSlice('\n')
	l.pos += int64(len(b))
	if err == bufio.ErrBufferFull {
		l.mid = true
		return b, start, nil
	}
	l.mid = false
	return b, start, err
}
