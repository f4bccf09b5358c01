package wire

// CATENATE (RFC 4469 section 5) extends APPEND's messages:
//
//	append-data = literal / literal8 / append-data-ext
//	append-data-ext =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//	cat-part = text-literal / url
//	text-literal = "TEXT" SP literal
//	url = "URL" SP astring
//
// ReadAppendMessage reads "CATENATE (" and returns an AppendMessage with
// Catenate set; the parts are then read one by one with ReadCatenatePart,
// so that each TEXT literal is streamed like an APPEND message.

// CatPart is one part of a CATENATE message: a URL or a TEXT literal.
type CatPart struct {
	// URL is the part's IMAP URL as sent, "" for a TEXT part.
	URL string
	// Text streams a TEXT part; like AppendMessage.Literal it is only
	// readable until the next Decoder call.
	Text *Literal
}

// readCatenateOpen reads "CATENATE" SP "(".
func (d *Decoder) readCatenateOpen() error {
	start := d.pos
	b, err := d.atomBytes(`"CATENATE" or a literal`)
	if err != nil {
		return err
	}
	if !equalFoldASCII(b, "CATENATE") {
		return syntaxErr(start, "expected a literal or CATENATE, got %s", clip(b))
	}
	if err := d.ExpectSP(); err != nil {
		return err
	}
	if err := d.expectByte('('); err != nil {
		return err
	}
	if d.peekByte() == ')' {
		return syntaxErr(d.pos, "CATENATE needs at least one part")
	}
	return nil
}

// ReadCatenatePart reads the next part of a CATENATE message: first is
// true right after ReadAppendMessage returned Catenate. At the closing
// ")" it returns ok false; the caller goes on with ReadAppendMessage (the
// next message of a MULTIAPPEND, or the end of the command).
func (d *Decoder) ReadCatenatePart(first bool) (p CatPart, ok bool, err error) {
	if !first {
		if err := d.fill(); err != nil {
			return CatPart{}, false, err
		}
		if d.peekByte() == ')' {
			d.pos++
			return CatPart{}, false, nil
		}
		if err := d.ExpectSP(); err != nil {
			return CatPart{}, false, err
		}
	}
	start := d.pos
	b, err := d.atomBytes(`"TEXT" or "URL"`)
	if err != nil {
		return CatPart{}, false, err
	}
	switch {
	case equalFoldASCII(b, "TEXT"):
		if err := d.ExpectSP(); err != nil {
			return CatPart{}, false, err
		}
		if p.Text, err = d.LiteralReader(); err != nil {
			return CatPart{}, false, err
		}
	case equalFoldASCII(b, "URL"):
		if err := d.ExpectSP(); err != nil {
			return CatPart{}, false, err
		}
		if p.URL, err = d.ReadAString(); err != nil {
			return CatPart{}, false, err
		}
		if p.URL == "" {
			return CatPart{}, false, syntaxErr(start, "empty URL")
		}
	default:
		return CatPart{}, false, syntaxErr(start, `expected "TEXT" or "URL", got %s`, clip(b))
	}
	return p, true, nil
}
