package mime

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Binary encoding of a Message, kept by the store next to each message.
//
//	message  = version(1 byte) uvarint(size) uvarint(flags) string(preview) part
//	part     = uvarint(headerStart) uvarint(bodyStart-headerStart)
//	           uvarint(end-bodyStart) uvarint(headerLines) uvarint(bodyLines)
//	           string(type) string(subtype) params
//	           string(id) string(description) string(encoding) string(md5)
//	           string(disposition) params strings(language)
//	           string(location) string(filename)
//	           byte(0 | 1 envelope | 2 envelope string(references)) [envelope]
//	           uvarint(n) n*part
//	envelope = string(date) string(subject) string(decodedSubject)
//	           6*addresses string(inReplyTo) string(messageID)
//	string   = uvarint(len) bytes
//
// bodyLines is the number of LFs in the body; records written before it
// was (format version 1 all the same) hold the number of lines that start
// in it, one more for a body without a final line end, and decode as
// they are: a message's BODYSTRUCTURE must not change under a client.
//
// Offsets are relative where that keeps them small. Decoding checks every
// length and count against the bytes that remain, so corrupt input fails
// with an error and never allocates more than a small multiple of its size.

const binaryVersion = 1

// ErrCorrupt is wrapped by the errors UnmarshalBinary returns.
var ErrCorrupt = errors.New("mime: corrupt binary message structure")

// maxTreeDepth bounds the part tree depth accepted by (Un)MarshalBinary:
// MaxDepth is capped at maxDepthCap, and a message part adds one level.
const maxTreeDepth = maxDepthCap + 2

// MarshalBinary encodes m.
func (m *Message) MarshalBinary() ([]byte, error) {
	if m.Root == nil {
		return nil, errors.New("mime: marshal: message has no root part")
	}
	e := encoder{buf: make([]byte, 0, 256)}
	e.buf = append(e.buf, binaryVersion)
	e.uvarint(uint64(m.Size))
	e.uvarint(uint64(m.Flags))
	e.str(m.Preview)
	if err := e.part(m.Root, 0); err != nil {
		return nil, fmt.Errorf("mime: marshal: %w", err)
	}
	return e.buf, nil
}

type encoder struct{ buf []byte }

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) params(ps []Param) {
	e.uvarint(uint64(len(ps)))
	for _, p := range ps {
		e.str(p.Name)
		e.str(p.Value)
	}
}

func (e *encoder) part(p *Part, depth int) error {
	if depth > maxTreeDepth {
		return errors.New("part tree too deep")
	}
	if p.HeaderStart < 0 || p.BodyStart < p.HeaderStart || p.End < p.BodyStart {
		return fmt.Errorf("part offsets out of order: %d %d %d", p.HeaderStart, p.BodyStart, p.End)
	}
	e.uvarint(uint64(p.HeaderStart))
	e.uvarint(uint64(p.BodyStart - p.HeaderStart))
	e.uvarint(uint64(p.End - p.BodyStart))
	e.uvarint(uint64(max(p.HeaderLines, 0)))
	e.uvarint(uint64(max(p.BodyLines, 0)))
	e.str(p.Type)
	e.str(p.Subtype)
	e.params(p.Params)
	e.str(p.ID)
	e.str(p.Description)
	e.str(p.Encoding)
	e.str(p.MD5)
	e.str(p.Disposition)
	e.params(p.DispositionParams)
	e.uvarint(uint64(len(p.Language)))
	for _, l := range p.Language {
		e.str(l)
	}
	e.str(p.Location)
	e.str(p.Filename)
	if env := p.Envelope; env != nil {
		// Marker 2 adds References; 1 (all records before References was
		// kept, and envelopes without it) keeps the older layout.
		marker := byte(1)
		if env.References != "" {
			marker = 2
		}
		e.buf = append(e.buf, marker)
		e.str(env.Date)
		e.str(env.Subject)
		e.str(env.DecodedSubject)
		for _, l := range [][]Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
			e.addresses(l)
		}
		e.str(env.InReplyTo)
		e.str(env.MessageID)
		if marker == 2 {
			e.str(env.References)
		}
	} else {
		e.buf = append(e.buf, 0)
	}
	e.uvarint(uint64(len(p.Parts)))
	for _, c := range p.Parts {
		if err := e.part(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

const (
	addrGroupStart = 1 << iota
	addrGroupEnd
)

func (e *encoder) addresses(l []Address) {
	e.uvarint(uint64(len(l)))
	for _, a := range l {
		var fl byte
		if a.GroupStart {
			fl |= addrGroupStart
		}
		if a.GroupEnd {
			fl |= addrGroupEnd
		}
		e.buf = append(e.buf, fl)
		e.str(a.Name)
		e.str(a.DecodedName)
		e.str(a.Adl)
		e.str(a.Mailbox)
		e.str(a.Host)
	}
}

// UnmarshalBinary decodes what MarshalBinary produced. It returns an error
// wrapping ErrCorrupt for anything else.
func (m *Message) UnmarshalBinary(b []byte) error {
	d := decoder{buf: b}
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if b[0] != binaryVersion {
		return fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	d.buf = b[1:]
	size := d.int()
	flags := d.uvarint()
	preview := d.str()
	root := d.part(0, 0, size)
	if d.err != nil {
		return d.err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.buf))
	}
	if flags > uint64(^ScanFlags(0)) {
		return fmt.Errorf("%w: flags out of range", ErrCorrupt)
	}
	*m = Message{Root: root, Size: size, Preview: preview, Flags: ScanFlags(flags)}
	return nil
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
	d.buf = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// int reads a non-negative int64.
func (d *decoder) int() int64 {
	v := d.uvarint()
	if v > 1<<62 {
		d.fail("number out of range")
		return 0
	}
	return int64(v)
}

// count reads a count of items each taking at least minBytes bytes.
func (d *decoder) count(minBytes int) int {
	v := d.uvarint()
	if v > uint64(len(d.buf)/minBytes) {
		d.fail("count exceeds input")
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("string exceeds input")
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail("unexpected end")
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) params() []Param {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	ps := make([]Param, n)
	for i := range ps {
		ps[i] = Param{Name: d.str(), Value: d.str()}
	}
	return ps
}

// part decodes one part whose range must lie within [lo, hi].
func (d *decoder) part(depth int, lo, hi int64) *Part {
	if depth > maxTreeDepth {
		d.fail("part tree too deep")
		return nil
	}
	p := &Part{}
	p.HeaderStart = d.int()
	p.BodyStart = p.HeaderStart + d.int()
	p.End = p.BodyStart + d.int()
	if d.err != nil {
		return nil
	}
	if p.HeaderStart < lo || p.End > hi || p.BodyStart < p.HeaderStart || p.End < p.BodyStart {
		d.fail("part range outside its parent")
		return nil
	}
	p.HeaderLines = d.int()
	p.BodyLines = d.int()
	p.Type = d.str()
	p.Subtype = d.str()
	p.Params = d.params()
	p.ID = d.str()
	p.Description = d.str()
	p.Encoding = d.str()
	p.MD5 = d.str()
	p.Disposition = d.str()
	p.DispositionParams = d.params()
	if n := d.count(1); n > 0 {
		p.Language = make([]string, n)
		for i := range p.Language {
			p.Language[i] = d.str()
		}
	}
	p.Location = d.str()
	p.Filename = d.str()
	switch marker := d.byte(); marker {
	case 0:
	case 1, 2:
		env := &Envelope{Date: d.str(), Subject: d.str(), DecodedSubject: d.str()}
		for _, l := range []*[]Address{&env.From, &env.Sender, &env.ReplyTo, &env.To, &env.Cc, &env.Bcc} {
			*l = d.addresses()
		}
		env.InReplyTo = d.str()
		env.MessageID = d.str()
		if marker == 2 {
			env.References = d.str()
		}
		p.Envelope = env
	default:
		d.fail("bad envelope marker")
	}
	// each child takes at least 5 offset bytes, 13 string/count bytes and
	// an envelope marker: 19
	n := d.count(19)
	if n > 0 {
		p.Parts = make([]*Part, 0, n)
		prev := p.BodyStart
		for range n {
			c := d.part(depth+1, prev, p.End)
			if d.err != nil {
				return nil
			}
			p.Parts = append(p.Parts, c)
			prev = c.End
		}
	}
	if d.err != nil {
		return nil
	}
	return p
}

func (d *decoder) addresses() []Address {
	n := d.count(6)
	if n == 0 {
		return nil
	}
	l := make([]Address, n)
	for i := range l {
		fl := d.byte()
		l[i] = Address{
			Name: d.str(), DecodedName: d.str(), Adl: d.str(), Mailbox: d.str(), Host: d.str(),
			GroupStart: fl&addrGroupStart != 0, GroupEnd: fl&addrGroupEnd != 0,
		}
	}
	return l
}
