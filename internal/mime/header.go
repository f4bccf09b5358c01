package mime

import (
	"bytes"
	"strings"
)

// headerBuf accumulates the fields of one header block that the scanner
// needs, never more than max bytes. Fields are filtered as they arrive:
// a field whose name is not interesting (Received, DKIM-Signature, ...) is
// dropped with its continuation lines as soon as its colon is seen, so a
// huge uninteresting field neither costs memory nor pushes out the fields
// that matter.
type headerBuf struct {
	buf       []byte
	max       int
	msgRoot   bool // envelope fields are wanted too
	lineStart int  // index in buf of the current line
	state     lineState
	skipCont  bool // the current field is dropped: drop its continuations
	clipped   bool // bytes were dropped because buf was full
}

type lineState uint8

const (
	lineUndecided lineState = iota // field name not complete yet
	lineKeep
	lineDrop
)

// maxFieldName: a "field name" longer than this without a colon is not a
// header field; the line is dropped.
const maxFieldName = 128

func (h *headerBuf) reset(msgRoot bool) {
	h.buf = h.buf[:0]
	h.msgRoot = msgRoot
	h.skipCont = true // a continuation line before any field belongs to none
	h.state = lineUndecided
	h.lineStart = 0
}

func (h *headerBuf) startLine(first byte) {
	h.lineStart = len(h.buf)
	switch {
	case first != ' ' && first != '\t':
		h.state = lineUndecided
	case h.skipCont:
		h.state = lineDrop
	default:
		h.state = lineKeep
	}
}

// feed adds a segment of the current line (possibly with its line end).
// Until the field name is complete only the name is kept, so that whether
// bytes had to be clipped never depends on how the input was chunked.
func (h *headerBuf) feed(seg []byte) {
	switch h.state {
	case lineDrop:
		return
	case lineKeep:
		h.append(seg)
		return
	}
	have := len(h.buf) - h.lineStart
	look := seg[:min(len(seg), max(maxFieldName-have, 0))]
	c := bytes.IndexByte(look, ':')
	if c < 0 {
		if len(look) < len(seg) || bytes.IndexByte(look, '\n') >= 0 {
			h.drop() // name too long, or a line without colon: not a field
			return
		}
		h.append(look)
		return
	}
	h.append(look[:c])
	name := bytes.TrimRight(h.buf[h.lineStart:], " \t")
	if len(h.buf)-h.lineStart != have+c || !interestingField(name, h.msgRoot) {
		h.drop() // clipped name, or a field we do not need
		return
	}
	h.state = lineKeep
	h.skipCont = false
	h.append(seg[c:])
}

func (h *headerBuf) drop() {
	h.buf = h.buf[:h.lineStart]
	h.state = lineDrop
	h.skipCont = true
}

func (h *headerBuf) append(seg []byte) {
	if h.buf == nil {
		h.buf = make([]byte, 0, min(h.max, 4<<10))
	}
	room := h.max - len(h.buf)
	if len(seg) > room {
		seg = seg[:room]
		h.clipped = true
	}
	h.buf = append(h.buf, seg...)
}

// endLine finishes a non-empty header line.
func (h *headerBuf) endLine() {
	if h.state == lineUndecided {
		h.drop() // no colon: not a field
	}
}

// dropLine forgets the current line (it turned out to be a boundary).
func (h *headerBuf) dropLine() {
	h.buf = h.buf[:h.lineStart]
	h.state = lineDrop
}

var contentFields = []string{
	"content-type", "content-transfer-encoding", "content-id", "content-description",
	"content-md5", "content-disposition", "content-language", "content-location",
}

var envelopeFields = []string{
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
	"references",
}

func interestingField(name []byte, msgRoot bool) bool {
	if len(name) > 8 && (name[0]|0x20) == 'c' && bytes.EqualFold(name[:8], []byte("content-")) {
		for _, f := range contentFields {
			if bytes.EqualFold(name, []byte(f)) {
				return true
			}
		}
		return false
	}
	if !msgRoot {
		return false
	}
	for _, f := range envelopeFields {
		if bytes.EqualFold(name, []byte(f)) {
			return true
		}
	}
	return false
}

// eachField calls fn for every kept field with the lower-case name and the
// unfolded, trimmed value.
func (h *headerBuf) eachField(fn func(name, value string)) {
	b := h.buf
	for len(b) > 0 {
		line, rest := nextLine(b)
		b = rest
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			continue // continuation of a dropped or broken field
		}
		c := bytes.IndexByte(line, ':')
		if c < 0 {
			continue
		}
		name := strings.ToLower(string(bytes.TrimRight(line[:c], " \t")))
		// RFC 5322 2.2.3: unfolding removes the CRLF only. Most fields
		// are one line: no copy beyond the final string.
		var cont []byte
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
			var l []byte
			l, b = nextLine(b)
			if cont == nil {
				cont = append(make([]byte, 0, len(line)-c-1+len(l)+64), line[c+1:]...)
			}
			cont = append(cont, l...)
		}
		if cont != nil {
			fn(name, string(bytes.TrimSpace(cont)))
		} else {
			fn(name, string(bytes.TrimSpace(line[c+1:])))
		}
	}
}

// nextLine splits off the first line of b without its line end.
func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line, rest = b[:i], b[i+1:]
	} else {
		line = b
	}
	return bytes.TrimSuffix(line, []byte{'\r'}), rest
}

// partHeader is what the fields of one header block say.
type partHeader struct {
	ctype, cte, cid, cdesc, cmd5, cdisp, clang, cloc string
	has                                              uint8
	env                                              envFields
}

const (
	hasCType = 1 << iota
	hasCTE
	hasCID
	hasCDesc
	hasCMD5
	hasCDisp
	hasCLang
	hasCLoc
)

func (ph *partHeader) set(name, value string) {
	var dst *string
	var bit uint8
	switch name {
	case "content-type":
		dst, bit = &ph.ctype, hasCType
	case "content-transfer-encoding":
		dst, bit = &ph.cte, hasCTE
	case "content-id":
		dst, bit = &ph.cid, hasCID
	case "content-description":
		dst, bit = &ph.cdesc, hasCDesc
	case "content-md5":
		dst, bit = &ph.cmd5, hasCMD5
	case "content-disposition":
		dst, bit = &ph.cdisp, hasCDisp
	case "content-language":
		dst, bit = &ph.clang, hasCLang
	case "content-location":
		dst, bit = &ph.cloc, hasCLoc
	default:
		ph.env.set(name, value)
		return
	}
	if ph.has&bit == 0 {
		ph.has |= bit
		*dst = value
	}
}

// apply fills p's MIME fields. inDigest selects the RFC 2046 5.1.5 default
// type message/rfc822.
func (ph *partHeader) apply(p *Part, inDigest bool) {
	p.Type, p.Subtype = "text", "plain"
	if inDigest {
		p.Type, p.Subtype = "message", "rfc822"
	}
	if ph.has&hasCType != 0 {
		typ, sub, rest, ok := parseMediaType(ph.ctype)
		if ok {
			p.Type, p.Subtype = typ, sub
		} else {
			// RFC 2045 5.2: a malformed Content-Type means text/plain.
			p.Type, p.Subtype = "text", "plain"
		}
		p.Params = parseParams(rest)
	}
	p.Encoding = "7bit"
	if ph.has&hasCTE != 0 {
		if enc := firstWord(stripComments(ph.cte)); enc != "" {
			p.Encoding = strings.ToLower(enc)
		}
	}
	p.ID = ph.cid
	p.Description = ph.cdesc
	p.MD5 = ph.cmd5
	if ph.has&hasCDisp != 0 {
		p.Disposition, p.DispositionParams = parseDisposition(ph.cdisp)
	}
	if ph.has&hasCLang != 0 {
		p.Language = strings.FieldsFunc(stripComments(ph.clang), func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t'
		})
	}
	if ph.has&hasCLoc != 0 {
		// RFC 2557 4.4.1: a folded URI is unfolded by removing whitespace.
		p.Location = strings.Join(strings.Fields(ph.cloc), "")
	}
	p.Filename = filename(p)
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[0], `";`)
}

// filename picks the file name: the disposition's filename (RFC 2183,
// RFC 2231 already decoded by parseParams), else the Content-Type name
// parameter, then decodes RFC 2047 words (not allowed in parameters, but
// what most mailers send).
func filename(p *Part) string {
	v, ok := p.DispositionParam("filename")
	if !ok || v == "" {
		v, ok = p.Param("name")
	}
	if !ok {
		return ""
	}
	return strings.TrimSpace(DecodeHeader(v))
}
