package wire

import (
	"math"
	"strconv"
)

// FetchItem is one FETCH data item (RFC 9051 6.4.5 fetch-att, with
// CONDSTORE MODSEQ, OBJECTID EMAILID/THREADID, SAVEDATE, PREVIEW and the
// RFC 3501 RFC822 forms).
//
// Name is the canonical upper-case item name without ".PEEK": ENVELOPE,
// FLAGS, INTERNALDATE, RFC822.SIZE, BODYSTRUCTURE, BODY, UID, MODSEQ,
// EMAILID, THREADID, SAVEDATE, PREVIEW, RFC822, RFC822.HEADER,
// RFC822.TEXT, BINARY, BINARY.SIZE. BODY with a nil Section is the
// non-extensible BODYSTRUCTURE; BODY[...] has a Section (possibly empty,
// for BODY[]). BINARY and BINARY.SIZE always have a Section, with only
// Part set.
type FetchItem struct {
	Name    string
	Section *Section
	Partial *Partial
	Peek    bool // BODY.PEEK / BINARY.PEEK: do not set \Seen
	Lazy    bool // PREVIEW (LAZY), RFC 8970
}

// Section is a body section specification (RFC 9051 section-spec).
type Section struct {
	Part      []int    // part numbers, "1.2.3"; empty for the whole message
	Specifier string   // "", "HEADER", "HEADER.FIELDS", "TEXT" or "MIME"
	Fields    []string // HEADER.FIELDS field names as sent
	Not       bool     // HEADER.FIELDS.NOT
}

// Partial is the <offset.count> of a partial fetch. RFC 9051 allows 63-bit
// values; larger than 32-bit ones are clamped to math.MaxUint32, which
// gives the same result, since no stored message reaches 4 GiB.
type Partial struct{ Offset, Count uint32 }

// Clone returns a deep copy that does not alias the decoder's arena.
func (it FetchItem) Clone() FetchItem {
	if it.Section != nil {
		s := *it.Section
		s.Part = append([]int(nil), s.Part...)
		s.Fields = append([]string(nil), s.Fields...)
		it.Section = &s
	}
	if it.Partial != nil {
		p := *it.Partial
		it.Partial = &p
	}
	return it
}

// ReadFetchItems reads FETCH's data items: a macro (ALL, FAST, FULL,
// expanded as RFC 9051 6.4.5 says), one item, or a parenthesised list of
// items. It stops after them, so the caller reads an optional modifier list
// (SP "(" ... ")", e.g. CHANGEDSINCE) with ReadFetchModifiers. The slice
// and what it points to live in the command arena (valid until the next
// ReadTag).
func (d *Decoder) ReadFetchItems() ([]FetchItem, error) {
	if err := d.fill(); err != nil {
		return nil, err
	}
	start := len(d.arena.items)
	if d.pos < len(d.line) && d.line[d.pos] == '(' {
		if d.pos+1 < len(d.line) && d.line[d.pos+1] == ')' {
			return nil, syntaxErr(d.pos, "empty FETCH item list")
		}
		if err := d.ReadList(d.fetchAtt); err != nil {
			return nil, err
		}
	} else {
		name, err := d.fetchName()
		if err != nil {
			return nil, err
		}
		switch string(name) {
		case "ALL":
			d.addItems("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE")
		case "FAST":
			d.addItems("FLAGS", "INTERNALDATE", "RFC822.SIZE")
		case "FULL":
			d.addItems("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")
		default:
			if err := d.fetchAttNamed(name); err != nil {
				return nil, err
			}
		}
	}
	items := d.arena.items
	return items[start:len(items):len(items)], nil
}

func (d *Decoder) addItems(names ...string) {
	for _, n := range names {
		d.arena.items = append(d.arena.items, FetchItem{Name: n})
	}
}

// fetchName reads an item name (letters, digits and dots: "BODY.PEEK",
// "RFC822.SIZE") upper-cased into a decoder buffer.
func (d *Decoder) fetchName() ([]byte, error) {
	if err := d.fill(); err != nil {
		return nil, err
	}
	start := d.pos
	for d.pos < len(d.line) {
		c := d.line[d.pos]
		if !isAlpha(c) && !isDigit(c) && c != '.' {
			break
		}
		d.pos++
	}
	if d.pos == start {
		return nil, d.unexpected("a FETCH item")
	}
	if err := d.truncErr(); err != nil {
		return nil, err
	}
	u, ok := upperInto(d.nameBuf[:], d.line[start:d.pos])
	if !ok {
		return nil, syntaxErr(start, "unknown FETCH item %q", d.line[start:d.pos])
	}
	return u, nil
}

// fetchAtt reads one fetch-att.
func (d *Decoder) fetchAtt() error {
	name, err := d.fetchName()
	if err != nil {
		return err
	}
	return d.fetchAttNamed(name)
}

func (d *Decoder) fetchAttNamed(name []byte) error {
	start := d.pos - len(name)
	it := FetchItem{}
	switch string(name) {
	case "ENVELOPE":
		it.Name = "ENVELOPE"
	case "FLAGS":
		it.Name = "FLAGS"
	case "INTERNALDATE":
		it.Name = "INTERNALDATE"
	case "RFC822.SIZE":
		it.Name = "RFC822.SIZE"
	case "BODYSTRUCTURE":
		it.Name = "BODYSTRUCTURE"
	case "UID":
		it.Name = "UID"
	case "MODSEQ":
		it.Name = "MODSEQ"
	case "EMAILID":
		it.Name = "EMAILID"
	case "THREADID":
		it.Name = "THREADID"
	case "SAVEDATE":
		it.Name = "SAVEDATE"
	case "RFC822":
		it.Name = "RFC822"
	case "RFC822.HEADER":
		it.Name = "RFC822.HEADER"
	case "RFC822.TEXT":
		it.Name = "RFC822.TEXT"
	case "PREVIEW":
		it.Name = "PREVIEW"
		lazy, err := d.previewMods()
		if err != nil {
			return err
		}
		it.Lazy = lazy
	case "BODY", "BODY.PEEK":
		it.Name = "BODY"
		it.Peek = len(name) > 4
		if d.pos < len(d.line) && d.line[d.pos] == '[' {
			sec, err := d.section(false)
			if err != nil {
				return err
			}
			it.Section = sec
			if it.Partial, err = d.partial(); err != nil {
				return err
			}
		} else if it.Peek {
			return d.unexpected(`"[" after BODY.PEEK`)
		}
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		it.Name = "BINARY"
		if string(name) == "BINARY.SIZE" {
			it.Name = "BINARY.SIZE"
		}
		it.Peek = string(name) == "BINARY.PEEK"
		sec, err := d.section(true)
		if err != nil {
			return err
		}
		it.Section = sec
		if it.Name == "BINARY" {
			if it.Partial, err = d.partial(); err != nil {
				return err
			}
		}
	default:
		return syntaxErr(start, "unknown FETCH item %q", name)
	}
	d.arena.items = append(d.arena.items, it)
	return nil
}

// previewMods reads PREVIEW's optional modifier list (RFC 8970):
//
//	fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]
//	preview-mod = "LAZY"
//
// A " (" that does not start with LAZY is left alone: it is the FETCH
// modifier list after a lone PREVIEW item.
func (d *Decoder) previewMods() (lazy bool, err error) {
	rest := d.line[d.pos:]
	if len(rest) < 7 || rest[0] != ' ' || rest[1] != '(' || !equalFoldASCII(rest[2:6], "LAZY") ||
		(rest[6] != ' ' && rest[6] != ')') {
		return false, nil
	}
	d.pos++
	err = d.ReadList(func() error {
		b, err := d.atomBytes("LAZY")
		if err != nil {
			return err
		}
		if !equalFoldASCII(b, "LAZY") {
			return syntaxErr(d.pos-len(b), "unknown PREVIEW modifier %q", b)
		}
		return nil
	})
	return true, err
}

// section reads "[" section-spec "]" (binary: "[" [section-part] "]"):
//
//	section-spec    = section-msgtext / (section-part ["." section-text])
//	section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
//	section-text    = section-msgtext / "MIME"
//	section-part    = nz-number *("." nz-number)
func (d *Decoder) section(binary bool) (*Section, error) {
	if err := d.expectByte('['); err != nil {
		return nil, err
	}
	d.arena.secs = append(d.arena.secs, Section{})
	sec := &d.arena.secs[len(d.arena.secs)-1]
	if d.pos < len(d.line) && isDigit(d.line[d.pos]) {
		start := len(d.arena.ints)
		for {
			n, err := d.ReadNZNumber()
			if err != nil {
				return nil, err
			}
			d.arena.ints = append(d.arena.ints, int(n))
			if d.pos+1 < len(d.line) && d.line[d.pos] == '.' && isDigit(d.line[d.pos+1]) {
				d.pos++
				continue
			}
			break
		}
		sec.Part = d.arena.ints[start:len(d.arena.ints):len(d.arena.ints)]
		if !binary && d.pos < len(d.line) && d.line[d.pos] == '.' {
			d.pos++
			if err := d.sectionText(sec, true); err != nil {
				return nil, err
			}
		}
	} else if !binary && d.pos < len(d.line) && isAlpha(d.line[d.pos]) {
		if err := d.sectionText(sec, false); err != nil {
			return nil, err
		}
	}
	if err := d.expectByte(']'); err != nil {
		return nil, err
	}
	return sec, nil
}

// sectionText reads HEADER, HEADER.FIELDS[.NOT] SP header-list, TEXT, or
// (after a part number only) MIME.
func (d *Decoder) sectionText(sec *Section, afterPart bool) error {
	start := d.pos
	for d.pos < len(d.line) && (isAlpha(d.line[d.pos]) || d.line[d.pos] == '.') {
		d.pos++
	}
	if err := d.truncErr(); err != nil {
		return err
	}
	var buf [20]byte
	u, _ := upperInto(buf[:], d.line[start:d.pos])
	switch string(u) {
	case "HEADER":
		sec.Specifier = "HEADER"
	case "TEXT":
		sec.Specifier = "TEXT"
	case "MIME":
		if !afterPart {
			return syntaxErr(start, "MIME needs a part number (e.g. BODY[1.MIME])")
		}
		sec.Specifier = "MIME"
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		sec.Specifier = "HEADER.FIELDS"
		sec.Not = len(u) > len("HEADER.FIELDS")
		if err := d.ExpectSP(); err != nil {
			return err
		}
		fields, err := d.headerList()
		if err != nil {
			return err
		}
		sec.Fields = fields
	default:
		return syntaxErr(start, "invalid section %q", d.line[start:d.pos])
	}
	return nil
}

// headerList reads header-list = "(" header-fld-name *(SP header-fld-name) ")".
func (d *Decoder) headerList() ([]string, error) {
	start := len(d.arena.strs)
	err := d.ReadList(func() error {
		b, _, err := d.readStr(allowAtom, "a header field name")
		if err != nil {
			return err
		}
		d.arena.strs = append(d.arena.strs, internField(b))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.arena.strs) == start {
		return nil, syntaxErr(d.pos, "empty header field list")
	}
	s := d.arena.strs
	return s[start:len(s):len(s)], nil
}

// partial reads an optional "<" number64 "." nz-number64 ">".
func (d *Decoder) partial() (*Partial, error) {
	if d.pos >= len(d.line) || d.line[d.pos] != '<' {
		return nil, nil
	}
	d.pos++
	off, err := d.ReadNumber64()
	if err != nil {
		return nil, err
	}
	if err := d.expectByte('.'); err != nil {
		return nil, err
	}
	n, err := d.readNZNumber64()
	if err != nil {
		return nil, err
	}
	if err := d.expectByte('>'); err != nil {
		return nil, err
	}
	d.arena.partials = append(d.arena.partials, Partial{Offset: clamp32(off), Count: clamp32(n)})
	return &d.arena.partials[len(d.arena.partials)-1], nil
}

func clamp32(v uint64) uint32 {
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// FetchModifiers are the FETCH modifiers this server knows (RFC 4466
// fetch-modifiers): CHANGEDSINCE (RFC 7162 CONDSTORE) and VANISHED (RFC
// 7162 QRESYNC, UID FETCH only — the caller checks that).
type FetchModifiers struct {
	ChangedSince uint64 // 0 when absent (mod-sequence-value is >= 1)
	Vanished     bool
}

// ReadFetchModifiers reads the modifier list "(" fetch-modifier *(SP
// fetch-modifier) ")" that may follow the items, after the caller consumed
// the SP before it.
func (d *Decoder) ReadFetchModifiers() (FetchModifiers, error) {
	var m FetchModifiers
	err := d.ReadList(func() error {
		b, err := d.atomBytes("a FETCH modifier")
		if err != nil {
			return err
		}
		switch {
		case equalFoldASCII(b, "CHANGEDSINCE"):
			if err := d.ExpectSP(); err != nil {
				return err
			}
			v, err := d.readNZNumber64()
			if err != nil {
				return err
			}
			m.ChangedSince = v
		case equalFoldASCII(b, "VANISHED"):
			m.Vanished = true
		default:
			return syntaxErr(d.pos-len(b), "unknown FETCH modifier %q", b)
		}
		return nil
	})
	return m, err
}

// AppendFetchKey appends the name under which the item's value is returned
// in a FETCH response (RFC 9051 msg-att): BODY.PEEK and BINARY.PEEK answer
// as BODY and BINARY, and a partial shows only its origin ("BODY[]<0>").
// Header field names are written as astrings.
func AppendFetchKey(dst []byte, it *FetchItem) []byte {
	dst = append(dst, it.Name...)
	if it.Section == nil {
		return dst
	}
	dst = append(dst, '[')
	s := it.Section
	for i, p := range s.Part {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendInt(dst, int64(p), 10)
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			dst = append(dst, '.')
		}
		dst = append(dst, s.Specifier...)
		if s.Not {
			dst = append(dst, ".NOT"...)
		}
		if s.Specifier == "HEADER.FIELDS" {
			dst = append(dst, " ("...)
			for i, f := range s.Fields {
				if i > 0 {
					dst = append(dst, ' ')
				}
				dst = appendAString(dst, f)
			}
			dst = append(dst, ')')
		}
	}
	dst = append(dst, ']')
	if it.Partial != nil {
		dst = append(dst, '<')
		dst = strconv.AppendUint(dst, uint64(it.Partial.Offset), 10)
		dst = append(dst, '>')
	}
	return dst
}

// appendAString appends s as an atom when it is one, else quoted (header
// field names are printable ASCII; a name that is not goes quoted with
// escapes, or as a literal when it holds CR, LF or NUL).
func appendAString(dst []byte, s string) []byte {
	if isAStringAtom(s) {
		return append(dst, s...)
	}
	if quotable(s, false) {
		return appendQuoted(dst, s)
	}
	dst = append(dst, '{')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, "}\r\n"...)
	return append(dst, s...)
}
