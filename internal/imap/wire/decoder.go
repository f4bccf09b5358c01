package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"mailroom/internal/connbuf"
)

// Defaults applied by NewDecoder to zero Limits fields.
const (
	DefaultMaxLine          = 64 << 10
	DefaultMaxLiteral       = 50 << 20
	DefaultMaxInlineLiteral = 64 << 10
	DefaultMaxDepth         = 32

	// bufKeep is the capacity above which a line or literal buffer is
	// dropped between commands rather than kept for reuse.
	bufKeep = 16 << 10

	// literalMinusMax is the largest non-synchronizing literal a client may
	// send to a LITERAL- server (RFC 7888 section 5, part of IMAP4rev2).
	literalMinusMax = 4096
)

// Limits bound what one command may cost the server. Zero fields take the
// defaults above.
type Limits struct {
	// MaxLine bounds the bytes of one command line, literals excluded; for a
	// command carrying literals it is the sum of the line segments around
	// them, line ends included.
	MaxLine int
	// MaxLiteral is the largest literal accepted at all (the APPENDLIMIT).
	MaxLiteral int64
	// MaxInlineLiteral is the largest literal read into memory by the
	// string readers; bigger ones are only accepted by LiteralReader.
	MaxInlineLiteral int
	// MaxDepth bounds parenthesis nesting. SEARCH's NOT and OR, which nest
	// without parentheses, may nest 16 times deeper (OR chains of client
	// filters are long but shallow in parentheses).
	MaxDepth int
	// LiteralPlus reports that the server advertises LITERAL+ (RFC 7888):
	// non-synchronizing literals up to MaxLiteral. Without it the LITERAL-
	// rule of IMAP4rev2 applies: at most 4096 octets.
	LiteralPlus bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = DefaultMaxLiteral
	}
	if l.MaxInlineLiteral <= 0 {
		l.MaxInlineLiteral = DefaultMaxInlineLiteral
	}
	if int64(l.MaxInlineLiteral) > l.MaxLiteral {
		l.MaxInlineLiteral = int(l.MaxLiteral)
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Decoder reads IMAP client input with bounded memory.
//
// A command is read as a sequence of line segments: the bytes up to a line
// end, where a segment ending in a literal announcement ("{n}", "{n+}",
// "~{n}") is followed by the literal's octets and then by the next segment.
// Only the current segment is held in memory (at most Limits.MaxLine
// bytes); literals are read into memory only up to MaxInlineLiteral, or
// streamed by LiteralReader.
//
// The session calls ReadTag to start each command, then the readers in the
// order of the command's grammar, and ExpectCRLF at its end. On any error
// it answers (BAD, NO, or BYE for I/O errors and ErrResync) and calls
// DiscardLine, which leaves the stream at the next command. Slices returned
// by the readers (sequence sets, fetch items, flag lists) live in a
// per-command arena and stay valid until the next ReadTag; use their Clone
// methods to keep them longer. Strings are always the caller's own.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	r    *connbuf.Reader
	lim  Limits
	cont func(n int64) error

	line      []byte // current segment, line end stripped
	pos       int    // parse position in line
	haveSeg   bool   // line holds the segment being parsed
	truncated bool   // the segment was cut at MaxLine; the rest of its line is unread
	lineBytes int    // segment bytes read for this command, for MaxLine
	inCmd     bool   // between ReadTag and the command's end
	drain     int64  // octets of a refused non-synchronizing literal still to skip
	lit       *Literal
	depth     int
	err       error // sticky I/O error

	nameBuf [24]byte // upper-cased keywords (FETCH items, SEARCH keys)
	str     []byte   // unescaped quoted strings
	litb    []byte   // in-memory literals
	arena   arena
}

// NewDecoder returns a Decoder reading commands from r.
//
// cont is called before the octets of a synchronizing literal {n} are read,
// after the size checks passed: it must write "+ Ready\r\n" (any
// continuation text) and flush, or refuse by returning an error (having
// sent, or leaving the caller to send, a tagged NO). A refused literal is
// never sent by the client, so the command is over: the error comes back
// from the reader as a *RefusedError and the next command follows directly.
// A nil cont refuses every synchronizing literal.
func NewDecoder(r *connbuf.Reader, l Limits, cont func(n int64) error) *Decoder {
	if cont == nil {
		cont = func(int64) error { return errors.New("synchronizing literals are not accepted") }
	}
	return &Decoder{r: r, lim: l.withDefaults(), cont: cont}
}

// Limits returns the limits in force, defaults applied.
func (d *Decoder) Limits() Limits { return d.lim }

// SetLiteralPlus switches LITERAL+ on or off, for a server that advertises
// it only to some users or after authentication.
func (d *Decoder) SetLiteralPlus(on bool) { d.lim.LiteralPlus = on }

// ReadTag starts a new command and returns its tag. If the previous command
// was not read to its end, its rest is first discarded as DiscardLine does.
// At a clean end of input it returns io.EOF.
func (d *Decoder) ReadTag() (string, error) {
	if d.inCmd || d.lit != nil {
		if err := d.DiscardLine(); err != nil {
			return "", err
		}
	}
	if d.err != nil {
		return "", d.err
	}
	d.arena.reset()
	// Let go of buffers a big command grew: thousands of idle connections
	// should not each keep MaxLine and MaxInlineLiteral bytes.
	if cap(d.line) > bufKeep {
		d.line = nil
	}
	if cap(d.litb) > bufKeep {
		d.litb = nil
	}
	if cap(d.str) > bufKeep {
		d.str = nil
	}
	d.inCmd = true
	d.haveSeg = false
	d.lineBytes = 0
	d.depth = 0
	if err := d.fill(); err != nil {
		if errors.Is(err, io.EOF) && d.lineBytes == 0 {
			d.inCmd = false
			d.err = io.EOF
			return "", io.EOF
		}
		return "", err
	}
	start := d.pos
	for d.pos < len(d.line) && isTagChar(d.line[d.pos]) {
		d.pos++
	}
	if err := d.truncErr(); err != nil {
		return "", err
	}
	if d.pos == start {
		if len(d.line) == 0 {
			return "", syntaxErr(0, "empty command line")
		}
		return "", syntaxErr(start, "missing or invalid tag")
	}
	return string(d.line[start:d.pos]), nil
}

// fill makes sure a segment is loaded, finishing an abandoned literal
// first. Every reader calls it before looking at d.line.
func (d *Decoder) fill() error {
	if d.err != nil {
		return d.err
	}
	if d.lit != nil {
		if err := d.finishLiteral(); err != nil {
			return err
		}
	}
	if !d.inCmd {
		return errNoCommand
	}
	if d.drain > 0 {
		// The caller goes on after a literal it was told was refused.
		return errNoCommand
	}
	if d.haveSeg {
		return nil
	}
	if err := d.readSegment(); err != nil {
		return err
	}
	d.haveSeg = true
	return nil
}

// readSegment reads the next segment of the command into d.line, at most
// the rest of the MaxLine budget; a longer line is cut and flagged
// truncated, its rest left in the stream for DiscardLine.
func (d *Decoder) readSegment() error {
	d.line = d.line[:0]
	d.pos = 0
	d.truncated = false
	for {
		room := d.lim.MaxLine - d.lineBytes
		if room <= 0 {
			d.truncated = true
			return nil
		}
		if d.r.Buffered() == 0 {
			if _, err := d.r.Peek(1); err != nil {
				return d.ioErr(err, d.lineBytes == 0 && len(d.line) == 0)
			}
		}
		p, _ := d.r.Peek(d.r.Buffered())
		if len(p) > room {
			p = p[:room]
		}
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			d.line = append(d.line, p[:i]...)
			d.discard(i + 1)
			d.lineBytes += i + 1
			// CRLF is the line end; a bare LF is tolerated as one too, as
			// Dovecot and Cyrus do, since it is never ambiguous.
			if n := len(d.line); n > 0 && d.line[n-1] == '\r' {
				d.line = d.line[:n-1]
			}
			return nil
		}
		d.line = append(d.line, p...)
		d.discard(len(p))
		d.lineBytes += len(p)
	}
}

// discard drops n bytes known to be buffered.
func (d *Decoder) discard(n int) {
	// Discard of buffered bytes cannot fail.
	_, _ = d.r.Discard(n)
}

// ioErr records a read error. clean reports that no byte of the current
// command had been read, where io.EOF is an orderly end of input.
func (d *Decoder) ioErr(err error, clean bool) error {
	if errors.Is(err, io.EOF) {
		if clean {
			d.err = io.EOF
			return io.EOF
		}
		err = io.ErrUnexpectedEOF
	}
	d.err = fmt.Errorf("wire: read: %w", err)
	d.inCmd = false
	return d.err
}

// truncErr returns the line-too-long error when the parser has reached the
// cut of a truncated segment.
func (d *Decoder) truncErr() error {
	if d.truncated && d.pos >= len(d.line) {
		return syntaxErr(d.pos, "command line too long (limit %d bytes)", d.lim.MaxLine)
	}
	return nil
}

// endErr is the error for input that ended (or was cut) where want was
// expected.
func (d *Decoder) endErr(want string) error {
	if err := d.truncErr(); err != nil {
		return err
	}
	return syntaxErr(d.pos, "unexpected end of line, expected %s", want)
}

// Peek returns the next byte of the command without consuming it. At the
// end of the line it returns '\r' (also for a bare LF line end).
func (d *Decoder) Peek() (byte, error) {
	if err := d.fill(); err != nil {
		return 0, err
	}
	if d.pos < len(d.line) {
		return d.line[d.pos], nil
	}
	if err := d.truncErr(); err != nil {
		return 0, err
	}
	return '\r', nil
}

// peekByte is Peek for internal use: 0 at the end of the line or on error
// (the error is returned again by the next real read).
func (d *Decoder) peekByte() byte {
	if d.fill() != nil || d.pos >= len(d.line) {
		return 0
	}
	return d.line[d.pos]
}

// SP consumes a space if one is next and reports whether it did.
func (d *Decoder) SP() bool {
	if d.peekByte() == ' ' {
		d.pos++
		return true
	}
	return false
}

// ExpectSP consumes exactly one space.
func (d *Decoder) ExpectSP() error {
	if err := d.fill(); err != nil {
		return err
	}
	if d.pos >= len(d.line) {
		return d.endErr("a space")
	}
	if d.line[d.pos] != ' ' {
		return syntaxErr(d.pos, "expected a space, got %s", quoteByte(d.line[d.pos]))
	}
	d.pos++
	return nil
}

// CRLF consumes the end of the line if it is next, which ends the command,
// and reports whether it did.
func (d *Decoder) CRLF() bool {
	if d.fill() != nil || d.pos < len(d.line) || d.truncated {
		return false
	}
	d.endCommand()
	return true
}

// ExpectCRLF consumes the end of the line, ending the command.
func (d *Decoder) ExpectCRLF() error {
	if err := d.fill(); err != nil {
		return err
	}
	if err := d.truncErr(); err != nil {
		return err
	}
	if d.pos < len(d.line) {
		return syntaxErr(d.pos, "expected end of line, got %s", quoteByte(d.line[d.pos]))
	}
	d.endCommand()
	return nil
}

func (d *Decoder) endCommand() {
	d.inCmd = false
	d.haveSeg = false
}

// ReadAtom reads an atom (command names, keywords), case preserved.
func (d *Decoder) ReadAtom() (string, error) {
	b, err := d.atomBytes("an atom")
	if err != nil {
		return "", err
	}
	return internWord(b), nil
}

// atomBytes reads 1*ATOM-CHAR; the result aliases the line buffer.
func (d *Decoder) atomBytes(what string) ([]byte, error) {
	if err := d.fill(); err != nil {
		return nil, err
	}
	start := d.pos
	for d.pos < len(d.line) && isAtomChar(d.line[d.pos]) {
		d.pos++
	}
	if d.pos == start {
		return nil, d.unexpected(what)
	}
	if err := d.truncErr(); err != nil {
		return nil, err
	}
	return d.line[start:d.pos], nil
}

// unexpected is the error for a token that does not start as want.
func (d *Decoder) unexpected(want string) error {
	if d.pos >= len(d.line) {
		return d.endErr(want)
	}
	return syntaxErr(d.pos, "expected %s, got %s", want, quoteByte(d.line[d.pos]))
}

// ReadNumber reads a number (RFC 9051: 0 <= n < 2^32).
func (d *Decoder) ReadNumber() (uint32, error) {
	n, err := d.readDigits("a number", 1<<32-1)
	return uint32(n), err
}

// ReadNumber64 reads a number64 (mod-sequences, sizes: 0 <= n < 2^63).
func (d *Decoder) ReadNumber64() (uint64, error) {
	return d.readDigits("a number", 1<<63-1)
}

// ReadNZNumber reads an nz-number: 1 <= n < 2^32, no leading zero.
func (d *Decoder) ReadNZNumber() (uint32, error) {
	if c := d.peekByte(); c == '0' {
		return 0, syntaxErr(d.pos, "expected a non-zero number")
	}
	n, err := d.readDigits("a non-zero number", 1<<32-1)
	return uint32(n), err
}

// readNZNumber64 reads an nz-number64 (mod-sequence-value).
func (d *Decoder) readNZNumber64() (uint64, error) {
	if c := d.peekByte(); c == '0' {
		return 0, syntaxErr(d.pos, "expected a non-zero number")
	}
	return d.readDigits("a non-zero number", 1<<63-1)
}

func (d *Decoder) readDigits(what string, max uint64) (uint64, error) {
	if err := d.fill(); err != nil {
		return 0, err
	}
	start := d.pos
	var n uint64
	for d.pos < len(d.line) && isDigit(d.line[d.pos]) {
		v := uint64(d.line[d.pos] - '0')
		if n > (max-v)/10 {
			return 0, syntaxErr(start, "number too large")
		}
		n = n*10 + v
		d.pos++
	}
	if d.pos == start {
		return 0, d.unexpected(what)
	}
	if err := d.truncErr(); err != nil {
		return 0, err
	}
	return n, nil
}

// ReadList reads a parenthesised list "(" [item *(SP item)] ")", calling
// item for each element; item reads exactly one element. Nesting deeper
// than Limits.MaxDepth is refused.
func (d *Decoder) ReadList(item func() error) error {
	if err := d.open(); err != nil {
		return err
	}
	defer d.close()
	if d.peekByte() == ')' {
		d.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		c, err := d.Peek()
		if err != nil {
			return err
		}
		if c == ')' {
			d.pos++
			return nil
		}
		if err := d.ExpectSP(); err != nil {
			return err
		}
	}
}

// open consumes "(" and enters one nesting level.
func (d *Decoder) open() error {
	if err := d.fill(); err != nil {
		return err
	}
	if d.pos >= len(d.line) || d.line[d.pos] != '(' {
		return d.unexpected(`"("`)
	}
	if d.depth >= d.lim.MaxDepth {
		return syntaxErr(d.pos, "too deeply nested (limit %d)", d.lim.MaxDepth)
	}
	d.pos++
	d.depth++
	return nil
}

func (d *Decoder) close() { d.depth-- }

// expectByte consumes c.
func (d *Decoder) expectByte(c byte) error {
	if err := d.fill(); err != nil {
		return err
	}
	if d.pos >= len(d.line) || d.line[d.pos] != c {
		return d.unexpected(quoteByte(c))
	}
	d.pos++
	return nil
}

// ReadLine reads one raw line outside any command (an AUTHENTICATE
// response, IDLE's DONE) and returns it without its line end; the slice is
// valid until the next call. A line longer than MaxLine is skipped and
// reported as a SyntaxError.
func (d *Decoder) ReadLine() ([]byte, error) {
	if d.inCmd || d.lit != nil {
		if err := d.DiscardLine(); err != nil {
			return nil, err
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	d.inCmd = true
	d.haveSeg = false
	d.lineBytes = 0
	if err := d.fill(); err != nil {
		return nil, err
	}
	if d.truncated {
		d.pos = len(d.line)
		err := d.truncErr()
		if derr := d.DiscardLine(); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	d.endCommand()
	return d.line, nil
}

// quoteByte renders c for an error message.
func quoteByte(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return fmt.Sprintf("%q", string(rune(c)))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
