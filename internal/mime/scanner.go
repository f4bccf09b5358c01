package mime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Limits bound a scan's work and memory. Zero (or negative) fields take the
// defaults.
type Limits struct {
	// MaxDepth is the nesting depth of multiparts and message/rfc822 parts
	// (default 32, at most 1000); deeper parts are leaves.
	MaxDepth int
	// MaxParts is the total number of parts (default 2000); after that,
	// the rest of the input is body of the current part.
	MaxParts int
	// MaxHeaderBytes is the number of bytes of one header block kept for
	// parsing (default 256 KiB); the rest is counted, not kept. Only the
	// fields the scanner uses count against it.
	MaxHeaderBytes int
	// PreviewRunes is the length of the preview (default 256, RFC 8970).
	PreviewRunes int
}

const (
	defaultMaxDepth       = 32
	maxDepthCap           = 1000
	defaultMaxParts       = 2000
	defaultMaxHeaderBytes = 256 << 10
	defaultPreviewRunes   = 256
	// maxBoundaryLen: RFC 2046 allows 70; real mail goes somewhat beyond.
	// A longer boundary makes the multipart a leaf.
	maxBoundaryLen = 256
	// maxLineLen is the RFC 5322 line length limit, for the LongLine flag.
	maxLineLen = 998
)

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxDepth > maxDepthCap {
		l.MaxDepth = maxDepthCap
	}
	if l.MaxParts <= 0 {
		l.MaxParts = defaultMaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if l.PreviewRunes <= 0 {
		l.PreviewRunes = defaultPreviewRunes
	}
	return l
}

// ErrClosed is returned by Write and Close after Close.
var ErrClosed = errors.New("mime: scanner already closed")

type phase uint8

const (
	phHeader phase = iota // reading the part's header block
	phBody                // reading its body (leaf content, or a multipart's preamble/epilogue)
)

// frame is one open part on the scanner's stack. The stack holds the path
// from the root to the part currently being read; it is at most
// MaxDepth+1 deep.
type frame struct {
	part      *Part
	phase     phase
	depth     int
	msgRoot   bool   // root of a (possibly encapsulated) message: parse the envelope
	inDigest  bool   // parent is multipart/digest: default type message/rfc822
	inMessage bool   // inside an encapsulated message: not a preview candidate
	dash      []byte // multipart: "--" + boundary
	active    bool   // dash is live (multipart in body phase, before its close delimiter)
	bodyKnown bool   // the header ended with an empty line; part.BodyStart is set
	lineHS    int64  // number of lines started before HeaderStart
	lineBS    int64  // number of lines started before BodyStart
	lfBS      int64  // number of LFs before BodyStart
	capture   *capture
}

// Scanner records the MIME structure of a message written into it. It is
// not safe for concurrent use.
type Scanner struct {
	lim    Limits
	root   *Part
	stack  []*frame
	cur    *frame // top of stack
	parts  int
	flags  ScanFlags
	closed bool

	off     int64 // bytes consumed
	lineIdx int64 // lines started so far
	lfs     int64 // LFs consumed so far: BodyLines counts line ends, not lines
	lastCR  bool  // the last byte written was CR (bare-CR detection across writes)

	// current line
	inLine    bool
	lineStart int64
	lineLen   int64
	prevByte  byte // last byte of the previous segment of this line
	hdrLine   bool // the line belongs to a header block
	cap       *capture
	pfxOn     bool   // the line starts with '-' and boundaries are live: keep its prefix
	pfx       []byte // first pfxCap bytes of the line
	tailWS    bool   // every byte after pfx is whitespace
	nActive   int    // frames with a live boundary
	pfxCap    int

	// previous complete line, for the line end a boundary line takes
	prevEOL   int
	prevEmpty bool

	hdr         headerBuf
	plain, html capture
}

// NewScanner returns a Scanner for one message.
func NewScanner(l Limits) *Scanner {
	s := &Scanner{lim: l.withDefaults()}
	s.hdr.max = s.lim.MaxHeaderBytes
	s.root = &Part{}
	s.parts = 1
	s.push(&frame{part: s.root, msgRoot: true})
	s.hdr.reset(true)
	return s
}

// Scan reads r to the end and returns its structure.
func Scan(r io.Reader, l Limits) (*Message, error) {
	s := NewScanner(l)
	if _, err := io.Copy(s, r); err != nil {
		return nil, fmt.Errorf("mime: scan: %w", err)
	}
	return s.Close()
}

// Write consumes the next bytes of the message. It accepts any chunking and
// never fails before Close.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := len(p)
	s.scanFlags(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i+1]
		}
		if !s.inLine {
			s.startLine(seg[0])
		}
		if s.pfxOn {
			s.feedPrefix(seg)
		}
		if s.hdrLine {
			s.hdr.feed(seg)
		} else if s.cap != nil {
			s.cap.add(seg)
		}
		s.lineLen += int64(len(seg))
		s.off += int64(len(seg))
		if i < 0 {
			s.prevByte = seg[len(seg)-1]
			break
		}
		s.lfs++
		eol := 1
		if len(seg) >= 2 {
			if seg[len(seg)-2] == '\r' {
				eol = 2
			}
		} else if s.prevByte == '\r' {
			eol = 2
		}
		s.endLine(eol)
		p = p[len(seg):]
	}
	return n, nil
}

// scanFlags notes NUL, 8-bit and bare CR bytes. Each check stops for good
// once its flag is set, so the common cost is a few vectorized scans.
func (s *Scanner) scanFlags(p []byte) {
	if s.flags&NULByte == 0 && bytes.IndexByte(p, 0) >= 0 {
		s.flags |= NULByte
	}
	if s.flags&EightBit == 0 && hasHighBit(p) {
		s.flags |= EightBit
	}
	if s.flags&BareCR == 0 {
		if s.lastCR && p[0] != '\n' {
			s.flags |= BareCR
		}
		for i := 0; i < len(p); {
			j := bytes.IndexByte(p[i:], '\r')
			if j < 0 {
				break
			}
			j += i
			if j+1 < len(p) && p[j+1] != '\n' {
				s.flags |= BareCR
				break
			}
			i = j + 1
		}
	}
	s.lastCR = p[len(p)-1] == '\r'
}

func hasHighBit(p []byte) bool {
	const hi = 0x8080808080808080
	for len(p) >= 32 {
		x := binary.LittleEndian.Uint64(p) | binary.LittleEndian.Uint64(p[8:]) |
			binary.LittleEndian.Uint64(p[16:]) | binary.LittleEndian.Uint64(p[24:])
		if x&hi != 0 {
			return true
		}
		p = p[32:]
	}
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&hi != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func (s *Scanner) startLine(first byte) {
	s.inLine = true
	s.lineStart = s.off
	s.lineLen = 0
	s.prevByte = 0
	s.lineIdx++
	s.pfxOn = s.nActive > 0 && first == '-'
	if s.pfxOn {
		s.pfx = s.pfx[:0]
		s.tailWS = true
	}
	f := s.cur
	s.hdrLine = f.phase == phHeader
	s.cap = nil
	if s.hdrLine {
		s.hdr.startLine(first)
	} else if f.capture != nil {
		s.cap = f.capture
		s.cap.mark = len(s.cap.buf)
	}
}

// feedPrefix keeps the start of a line that may be a boundary line, and
// notes whether everything past the kept prefix is whitespace.
func (s *Scanner) feedPrefix(seg []byte) {
	if room := s.pfxCap - len(s.pfx); room > 0 {
		k := min(room, len(seg))
		s.pfx = append(s.pfx, seg[:k]...)
		seg = seg[k:]
		if len(s.pfx) >= 2 && s.pfx[1] != '-' {
			s.pfxOn = false
			return
		}
	}
	if s.tailWS {
		for _, c := range seg {
			if !isWSPorEOL(c) {
				s.tailWS = false
				break
			}
		}
	}
}

func isWSPorEOL(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// endLine handles the end of the current line; eol is the length of its
// line end (2 for CRLF, 1 for a bare LF, 0 for a last line without one).
func (s *Scanner) endLine(eol int) {
	content := s.lineLen - int64(eol)
	if eol == 1 {
		s.flags |= BareLF
	}
	if content > maxLineLen {
		s.flags |= LongLine
	}
	if s.pfxOn {
		if k, closeDelim, ok := s.matchBoundary(); ok && s.boundary(k, closeDelim, eol) {
			s.doneLine(eol, content)
			return
		}
	}
	if s.hdrLine {
		if content == 0 && eol > 0 {
			s.endHeader()
		} else {
			s.hdr.endLine()
		}
	}
	s.doneLine(eol, content)
}

func (s *Scanner) doneLine(eol int, content int64) {
	s.inLine = false
	s.prevEOL = eol
	s.prevEmpty = content == 0
}

// matchBoundary finds the multipart whose boundary the current line is.
// Per RFC 2046 5.1.1 a delimiter line is "--" boundary ["--"] followed by
// optional whitespace, and enclosing boundaries end inner parts too. An
// exact match (only whitespace after it) on any level wins; otherwise,
// since the RFC also tells implementors to compare only the beginning of
// the line, the innermost boundary that is a prefix of the line is taken.
func (s *Scanner) matchBoundary() (k int, closeDelim, ok bool) {
	line := s.pfx
	k = -1
	for i := len(s.stack) - 1; i >= 0; i-- {
		f := s.stack[i]
		if !f.active || !bytes.HasPrefix(line, f.dash) {
			continue
		}
		rest := line[len(f.dash):]
		cl := len(rest) >= 2 && rest[0] == '-' && rest[1] == '-'
		if cl {
			rest = rest[2:]
		}
		if s.tailWS && allWSP(rest) {
			return i, cl, true
		}
		if k < 0 {
			k, closeDelim = i, cl
		}
	}
	return k, closeDelim, k >= 0
}

func allWSP(b []byte) bool {
	for _, c := range b {
		if !isWSPorEOL(c) {
			return false
		}
	}
	return true
}

// boundary acts on a boundary line of the multipart at stack index k. It
// reports false if the line is to be treated as ordinary text (the part
// limit was reached).
func (s *Scanner) boundary(k int, closeDelim bool, eol int) bool {
	if !closeDelim && eol > 0 && s.parts >= s.lim.MaxParts {
		s.flags |= Truncated
		s.disableBoundaries()
		return false
	}
	if s.hdrLine {
		s.hdr.dropLine()
	}
	if s.cap != nil {
		s.cap.buf = s.cap.buf[:s.cap.mark]
	}
	// The line end before the boundary line belongs to the boundary.
	end := s.lineStart - int64(s.prevEOL)
	linesEnd := s.lineIdx - 1 // lines started before this one
	if s.prevEmpty && s.prevEOL > 0 {
		linesEnd-- // the previous line was only that line end
	}
	// LFs before end: not this line's own, nor the previous line's, which
	// is the boundary's (RFC 2046 5.1.1).
	lfEnd := s.lfs
	if eol > 0 {
		lfEnd--
	}
	if s.prevEOL > 0 {
		lfEnd--
	}
	s.closeFrames(k+1, end, linesEnd, lfEnd)
	f := s.stack[k]
	switch {
	case closeDelim:
		f.active = false
		s.updateBoundaries()
	case eol > 0:
		// (At the end of input a delimiter opens nothing.)
		p := &Part{HeaderStart: s.off}
		f.part.Parts = append(f.part.Parts, p)
		s.parts++
		s.push(&frame{
			part:      p,
			depth:     f.depth + 1,
			inDigest:  f.part.Subtype == "digest",
			inMessage: f.inMessage,
			lineHS:    s.lineIdx,
		})
		s.hdr.reset(false)
	}
	return true
}

// endHeader handles the empty line ending the current frame's header.
func (s *Scanner) endHeader() {
	f := s.cur
	p := f.part
	p.BodyStart = s.off
	f.lineBS = s.lineIdx
	f.lfBS = s.lfs
	f.bodyKnown = true
	f.phase = phBody
	s.applyHeader(f)
	switch {
	case p.Type == "multipart":
		b, _ := p.Param("boundary")
		b = trimRightWSP(b)
		switch {
		case b == "" || len(b) > maxBoundaryLen:
			// Unusable: the body is one opaque leaf.
		case f.depth >= s.lim.MaxDepth || s.parts >= s.lim.MaxParts:
			s.flags |= Truncated
		default:
			f.dash = append([]byte("--"), b...)
			f.active = true
			s.updateBoundaries()
		}
	case isMessageType(p):
		if s.canDescend(f) {
			c := &Part{HeaderStart: s.off}
			p.Parts = []*Part{c}
			s.parts++
			s.push(&frame{part: c, depth: f.depth + 1, msgRoot: true, inMessage: true, lineHS: s.lineIdx})
			s.hdr.reset(true)
		}
	case p.Type == "text" && !f.inMessage && p.Disposition != "attachment":
		switch {
		case p.Subtype == "plain" && s.plain.part == nil:
			s.plain.part = p
			f.capture = &s.plain
		case p.Subtype == "html" && s.html.part == nil:
			s.html.part = p
			f.capture = &s.html
		}
	}
}

func trimRightWSP(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func isMessageType(p *Part) bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global")
}

// canDescend reports whether the body of message part f is parsed as a
// message: only in an identity transfer encoding (a base64 or
// quoted-printable encapsulated message is opaque here) and within limits.
func (s *Scanner) canDescend(f *frame) bool {
	switch f.part.Encoding {
	case "7bit", "8bit", "binary":
	default:
		return false
	}
	if f.depth >= s.lim.MaxDepth || s.parts >= s.lim.MaxParts {
		s.flags |= Truncated
		return false
	}
	return true
}

// applyHeader parses the collected header block into the frame's part.
func (s *Scanner) applyHeader(f *frame) {
	var ph partHeader
	s.hdr.eachField(ph.set)
	ph.apply(f.part, f.inDigest)
	if f.msgRoot {
		f.part.Envelope = ph.env.envelope()
	}
	if s.hdr.clipped {
		s.flags |= Truncated
		s.hdr.clipped = false
	}
	s.hdr.reset(false)
}

// closeFrames ends the frames from stack index from upwards at end (a
// line-end-excluded boundary position or the end of input); linesEnd is
// the number of lines started before end, lfEnd the number of LFs.
func (s *Scanner) closeFrames(from int, end, linesEnd, lfEnd int64) {
	hi := int64(math.MaxInt64)
	for i := from; i < len(s.stack); i++ {
		f := s.stack[i]
		s.finish(f, end, linesEnd, lfEnd, hi)
		hi = f.part.End
	}
	clear(s.stack[from:])
	s.stack = s.stack[:from]
	if from > 0 {
		s.cur = s.stack[from-1]
	} else {
		s.cur = nil
	}
	s.updateBoundaries()
}

// finish sets the final offsets and line counts of a frame's part. A
// part's range is clamped into its parent's (hi): when a boundary takes
// the line end that was a header's empty line, the header loses it and an
// encapsulated message that started after it becomes empty.
func (s *Scanner) finish(f *frame, end, linesEnd, lfEnd, hi int64) {
	p := f.part
	if f.phase == phHeader {
		s.applyHeader(f)
	}
	hs := min(p.HeaderStart, hi)
	e := min(max(end, hs), hi)
	p.HeaderStart, p.End = hs, e
	count := func(to, from int64) int64 {
		if e != end {
			return 0 // e == hs: empty part
		}
		return max(to-from, 0)
	}
	if f.bodyKnown && p.BodyStart <= e {
		p.HeaderLines = f.lineBS - f.lineHS
		p.BodyLines = count(lfEnd, f.lfBS)
	} else {
		p.BodyStart = e
		p.HeaderLines = count(linesEnd, f.lineHS)
		p.BodyLines = 0
	}
	if f.phase == phHeader && isMessageType(p) && s.canDescend(f) {
		// A message/rfc822 part without body still encapsulates a
		// message, an empty one.
		c := &Part{HeaderStart: e, BodyStart: e, End: e, Type: "text", Subtype: "plain", Encoding: "7bit"}
		var env envFields
		c.Envelope = env.envelope()
		p.Parts = []*Part{c}
		s.parts++
	}
	f.capture = nil
}

func (s *Scanner) push(f *frame) {
	s.stack = append(s.stack, f)
	s.cur = f
}

// updateBoundaries recomputes the live boundary count and the prefix
// length boundary detection needs. O(depth), only when a boundary appears
// or disappears.
func (s *Scanner) updateBoundaries() {
	s.nActive = 0
	longest := 0
	for _, f := range s.stack {
		if f.active {
			s.nActive++
			longest = max(longest, len(f.dash))
		}
	}
	s.pfxCap = longest + 2 // room for the "--" of a close delimiter
}

func (s *Scanner) disableBoundaries() {
	for _, f := range s.stack {
		f.active = false
	}
	s.updateBoundaries()
}

// Close ends the input and returns the structure. The Scanner cannot be
// used afterwards.
func (s *Scanner) Close() (*Message, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.inLine {
		s.endLine(0)
	}
	s.closed = true
	if s.lastCR {
		s.flags |= BareCR // a CR at the very end
	}
	s.closeFrames(0, s.off, s.lineIdx, s.lfs)
	m := &Message{Root: s.root, Size: s.off}
	m.Preview = s.plain.text(s.lim.PreviewRunes)
	if m.Preview == "" {
		m.Preview = s.html.text(s.lim.PreviewRunes)
	}
	m.Flags = s.flags
	s.plain, s.html = capture{}, capture{}
	s.hdr = headerBuf{}
	s.pfx = nil
	return m, nil
}
