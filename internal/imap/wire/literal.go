package wire

import (
	"bytes"
	"io"
)

// Literal streams the octets of one literal to the caller (APPEND's
// message). It reads straight from the connection, never holding the
// literal in memory. Reading past Size returns io.EOF; if the caller calls
// any Decoder method before reading it all, the Decoder skips the rest and
// further reads fail.
type Literal struct {
	Size    int64 // announced size
	Binary  bool  // literal8 (~{n}, RFC 3516): may contain NUL octets
	NonSync bool  // {n+} or ~{n+} (RFC 7888): no continuation was sent

	d    *Decoder
	left int64
	gone bool // the Decoder moved on and skipped what was left
}

// Read implements io.Reader.
func (l *Literal) Read(p []byte) (int, error) {
	if l.gone {
		return 0, errLiteralGone
	}
	if l.left == 0 {
		return 0, io.EOF
	}
	if l.d.err != nil {
		return 0, l.d.err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.d.r.Read(p)
	l.left -= int64(n)
	if err != nil {
		// Even io.EOF is an error here: the client announced more octets.
		return n, l.d.ioErr(err, false)
	}
	return n, nil
}

// Remaining returns the number of octets not read yet.
func (l *Literal) Remaining() int64 { return l.left }

// LiteralReader reads a literal announcement — synchronizing {n}, LITERAL+
// / LITERAL- {n+}, or literal8 ~{n} / ~{n+} — and returns a reader over its
// octets. The size is checked against Limits.MaxLiteral (and the LITERAL-
// limit for {n+}) before anything else: a refused literal returns a
// *LiteralTooLargeError with nothing read. For a synchronizing literal the
// continuation callback is called once, with the size. Whether NUL octets
// are acceptable in a non-binary literal is left to the caller (RFC 3516
// 4.4: Literal.Binary tells which form was used).
func (d *Decoder) LiteralReader() (*Literal, error) {
	if err := d.fill(); err != nil {
		return nil, err
	}
	n, nonSync, bin, err := d.literalHeader(true)
	if err != nil {
		return nil, err
	}
	if err := d.acceptLiteral(n, nonSync, d.lim.MaxLiteral); err != nil {
		return nil, err
	}
	l := &Literal{Size: n, Binary: bin, NonSync: nonSync, d: d, left: n}
	d.lit = l
	return l, nil
}

// literalHeader parses a literal announcement at d.pos:
//
//	literal  = "{" number64 ["+"] "}" CRLF *CHAR8    ; RFC 9051, RFC 7888
//	literal8 = "~{" number64 ["+"] "}" CRLF *OCTET   ; RFC 3516, RFC 7888
//
// The announcement must end the segment (its CRLF was the segment's line
// end). On error d.pos is left at the announcement, so that DiscardLine
// still sees it.
func (d *Decoder) literalHeader(allow8 bool) (n int64, nonSync, binary bool, err error) {
	line := d.line
	p := d.pos
	if p < len(line) && line[p] == '~' {
		binary = true
		p++
	}
	if p >= len(line) || line[p] != '{' {
		return 0, false, false, d.unexpected("a literal")
	}
	p++
	start := p
	var v uint64
	for p < len(line) && isDigit(line[p]) {
		c := uint64(line[p] - '0')
		if v > (1<<63-1-c)/10 {
			return 0, false, false, syntaxErr(start, "literal size too large")
		}
		v = v*10 + c
		p++
	}
	if p == start {
		if p >= len(line) && d.truncated {
			return 0, false, false, d.truncErrAt(p)
		}
		return 0, false, false, syntaxErr(p, "expected the literal's size")
	}
	if p < len(line) && line[p] == '+' {
		nonSync = true
		p++
	}
	if p >= len(line) || line[p] != '}' {
		if p >= len(line) && d.truncated {
			return 0, false, false, d.truncErrAt(p)
		}
		return 0, false, false, syntaxErr(p, `expected "}" to close the literal's size`)
	}
	p++
	if p < len(line) {
		return 0, false, false, syntaxErr(p, "a literal's size must be followed by CRLF")
	}
	if d.truncated {
		return 0, false, false, d.truncErrAt(p)
	}
	if binary && !allow8 {
		return 0, false, false, syntaxErr(d.pos, "a binary literal (~{n}) is not allowed here")
	}
	d.pos = p
	return int64(v), nonSync, binary, nil
}

func (d *Decoder) truncErrAt(p int) error {
	return syntaxErr(p, "command line too long (limit %d bytes)", d.lim.MaxLine)
}

// acceptLiteral applies the size rules to an announced literal and, for a
// synchronizing one, asks the client for it. It leaves the decoder either
// ready to read the n octets (nil error), at the next command (refused
// synchronizing literal: the client never sends it), or owing the client a
// skip of n octets (refused non-synchronizing literal: they are on their
// way; DiscardLine skips them).
func (d *Decoder) acceptLiteral(n int64, nonSync bool, max int64) error {
	limit := max
	if nonSync && !d.lim.LiteralPlus && literalMinusMax < limit {
		// RFC 7888 section 5: under LITERAL- a larger {n+} is an error.
		limit = literalMinusMax
	}
	if n > limit {
		if nonSync {
			d.drain = n
			d.haveSeg = false
		} else {
			d.endCommand()
		}
		return &LiteralTooLargeError{Size: n, Max: limit, NonSync: nonSync}
	}
	// The announcement ended the segment: after the octets a new one starts.
	d.haveSeg = false
	if !nonSync {
		if err := d.cont(n); err != nil {
			d.endCommand()
			return &RefusedError{Err: err}
		}
	}
	return nil
}

// inlineLiteral reads a literal of at most MaxInlineLiteral octets into
// memory. The result aliases a buffer reused by the next literal.
func (d *Decoder) inlineLiteral(allow8 bool) ([]byte, error) {
	return d.inlineLiteralMax(allow8, int64(d.lim.MaxInlineLiteral))
}

// inlineLiteralMax is inlineLiteral for at most max octets (and never
// more than MaxInlineLiteral).
func (d *Decoder) inlineLiteralMax(allow8 bool, max int64) ([]byte, error) {
	n, nonSync, bin, err := d.literalHeader(allow8)
	if err != nil {
		return nil, err
	}
	if err := d.acceptLiteral(n, nonSync, min(max, int64(d.lim.MaxInlineLiteral))); err != nil {
		return nil, err
	}
	if int64(cap(d.litb)) < n {
		d.litb = make([]byte, n)
	}
	b := d.litb[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, d.ioErr(err, false)
	}
	// CHAR8 excludes NUL: only literal8 may carry it. The literal has been
	// consumed, so the stream stays in step.
	if !bin && bytes.IndexByte(b, 0) >= 0 {
		return nil, syntaxErr(0, "NUL octet in a literal")
	}
	return b, nil
}

// finishLiteral skips what the caller left of the last LiteralReader.
func (d *Decoder) finishLiteral() error {
	l := d.lit
	d.lit = nil
	if l.left == 0 {
		return nil
	}
	l.gone = true
	n := l.left
	l.left = 0
	return d.discardN(n)
}

// discardN skips n octets of the stream without keeping them.
func (d *Decoder) discardN(n int64) error {
	for n > 0 {
		chunk := n
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		k, err := d.r.Discard(int(chunk))
		n -= int64(k)
		if err != nil {
			return d.ioErr(err, false)
		}
	}
	return nil
}

// DiscardLine skips the rest of the current command after an error (or a
// refusal the session decided on), leaving the stream at the start of the
// next command:
//
//   - the rest of a literal handed out by LiteralReader is skipped;
//   - after a refused synchronizing literal nothing is read: the client
//     waits for a continuation and, on the tagged reply, drops the command;
//   - the octets of a refused non-synchronizing literal are skipped, then
//     the rest of the line;
//   - the rest of the line is skipped, and if it ends with a literal
//     announcement: a synchronizing one ends the command — no "+" is ever
//     sent after an error, and per RFC 9051 section 7.5 the client, waiting
//     for it, takes the tagged BAD as the end of the command and sends
//     nothing more of it; a non-synchronizing one is on its way, so its
//     octets and the line after it are skipped the same way.
//
// What it skips is bounded by MaxLiteral+MaxLine octets; beyond that it
// returns ErrResync and the session should close the connection. It is a
// no-op between commands.
func (d *Decoder) DiscardLine() error {
	if d.err != nil {
		return d.err
	}
	if d.lit != nil {
		if err := d.finishLiteral(); err != nil {
			return err
		}
	}
	if !d.inCmd {
		return nil
	}
	budget := d.lim.MaxLiteral + int64(d.lim.MaxLine)
	for {
		if d.drain > 0 {
			n := d.drain
			d.drain = 0
			if n > budget {
				return d.resyncFailed()
			}
			budget -= n
			if err := d.discardN(n); err != nil {
				return err
			}
			d.haveSeg = false
		}
		var tail []byte
		if d.haveSeg && !d.truncated {
			tail = d.line
		} else {
			var seed []byte
			if d.haveSeg {
				seed = d.line
			}
			t, err := d.skipLine(seed, &budget)
			if err != nil {
				return err
			}
			tail = t
		}
		d.haveSeg = false
		n, nonSync, ok := trailingLiteral(tail)
		if !ok || !nonSync {
			d.endCommand()
			return nil
		}
		if n < 0 {
			return d.resyncFailed()
		}
		d.drain = n
	}
}

func (d *Decoder) resyncFailed() error {
	d.endCommand()
	d.err = ErrResync
	return ErrResync
}

// skipLine reads and drops the rest of a line, returning its last bytes
// (line end excluded), enough to recognise a literal announcement. seed is
// what was already read of the line.
func (d *Decoder) skipLine(seed []byte, budget *int64) ([]byte, error) {
	const keep = 32 // "~{" + 19 digits + "+}" fits
	tail := make([]byte, 0, 2*keep)
	add := func(b []byte) {
		if len(b) > keep {
			b = b[len(b)-keep:]
		}
		tail = append(tail, b...)
		if len(tail) > keep {
			tail = append(tail[:0], tail[len(tail)-keep:]...)
		}
	}
	add(seed)
	for {
		if d.r.Buffered() == 0 {
			if _, err := d.r.Peek(1); err != nil {
				return nil, d.ioErr(err, false)
			}
		}
		p, _ := d.r.Peek(d.r.Buffered())
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if int64(len(chunk)) > *budget {
			return nil, d.resyncFailed()
		}
		*budget -= int64(len(chunk))
		add(chunk)
		if i >= 0 {
			d.discard(i + 1)
			if n := len(tail); n > 0 && tail[n-1] == '\r' {
				tail = tail[:n-1]
			}
			return tail, nil
		}
		d.discard(len(p))
	}
}

// trailingLiteral recognises a literal announcement at the end of a line.
// n is -1 when the size does not fit in 63 bits.
func trailingLiteral(b []byte) (n int64, nonSync, ok bool) {
	i := len(b) - 1
	if i < 0 || b[i] != '}' {
		return 0, false, false
	}
	i--
	if i >= 0 && b[i] == '+' {
		nonSync = true
		i--
	}
	end := i + 1
	for i >= 0 && isDigit(b[i]) {
		i--
	}
	digits := b[i+1 : end]
	if len(digits) == 0 || i < 0 || b[i] != '{' {
		return 0, false, false
	}
	var v uint64
	for _, c := range digits {
		x := uint64(c - '0')
		if v > (1<<63-1-x)/10 {
			return -1, nonSync, true
		}
		v = v*10 + x
	}
	return int64(v), nonSync, true
}
