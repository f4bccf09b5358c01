package msgfmt

import (
	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
)

// maxDepth bounds the recursion over a structure. mime never records more
// than 1000 levels; this only guards against a hand-built or corrupt tree,
// whose deeper parts are described as leaves.
const maxDepth = 1024

// BodyStructure writes BODYSTRUCTURE (extended) or BODY (not extended) of
// msg.Root, RFC 9051 7.5.2 / RFC 3501 7.4.2. A nil message or root is
// written as an empty text/plain part, so the response stays valid.
func BodyStructure(e *wire.Encoder, msg *mime.Message, extended bool) {
	root := &mime.Part{Type: "text", Subtype: "plain", Encoding: "7bit"}
	if msg != nil && msg.Root != nil {
		root = msg.Root
	}
	body(e, root, extended, 0)
}

// body writes one body: a multipart or a single part.
func body(e *wire.Encoder, p *mime.Part, extended bool, depth int) {
	if p.IsMultipart() && depth < maxDepth {
		multipart(e, p, extended, depth)
		return
	}
	single(e, p, extended, depth)
}

// multipart writes body-type-mpart: 1*body SP media-subtype
// [SP body-fld-param SP body-fld-dsp SP body-fld-lang SP body-fld-loc].
func multipart(e *wire.Encoder, p *mime.Part, extended bool, depth int) {
	e.BeginList()
	for _, c := range p.Parts {
		body(e, c, extended, depth+1)
	}
	e.SP()
	str(e, p.Subtype)
	if extended {
		e.SP()
		paramList(e, p.Params, false)
		dispLangLoc(e, p)
	}
	e.EndList()
}

// single writes body-type-1part: basic, text or message fields, then for
// BODYSTRUCTURE the extension data md5 dsp lang loc.
func single(e *wire.Encoder, p *mime.Part, extended bool, depth int) {
	typ, sub, params := p.Type, p.Subtype, p.Params
	if p.Type == "multipart" {
		// No parts (see the package documentation): RFC 2045 5.2's
		// default for a malformed Content-Type.
		typ, sub, params = "text", "plain", nil
	}
	isText := typ == "text"
	isMsg := typ == "message" && (sub == "rfc822" || sub == "global" && e.UTF8())

	e.BeginList()
	str(e, typ)
	e.SP()
	str(e, sub)
	e.SP()
	paramList(e, params, isText)
	e.SP()
	nstring(e, p.ID)
	e.SP()
	nstring(e, p.Description)
	e.SP()
	str(e, orDefault(p.Encoding, "7bit"))
	e.SP()
	e.Number64(uint64(max(p.BodySize(), 0)))
	switch {
	case isMsg:
		e.SP()
		encapsulated(e, p, extended, depth)
		e.SP()
		e.Number64(uint64(max(p.BodyLines, 0)))
	case isText:
		e.SP()
		e.Number64(uint64(max(p.BodyLines, 0)))
	}
	if extended {
		e.SP()
		nstring(e, p.MD5)
		dispLangLoc(e, p)
	}
	e.EndList()
}

// encapsulated writes the envelope and body of a message/rfc822 part's
// message. When that was not parsed (encoded, or a scan limit), the grammar
// still wants both: an all-NIL envelope and an empty text/plain body, as
// Dovecot sends.
func encapsulated(e *wire.Encoder, p *mime.Part, extended bool, depth int) {
	if p.IsMessage() && depth < maxDepth {
		inner := p.Parts[0]
		Envelope(e, inner.Envelope)
		e.SP()
		body(e, inner, extended, depth+1)
		return
	}
	Envelope(e, nil)
	e.SP()
	single(e, &mime.Part{Type: "text", Subtype: "plain", Encoding: "7bit"}, extended, depth+1)
}

// dispLangLoc writes SP body-fld-dsp SP body-fld-lang SP body-fld-loc, the
// extension data common to single parts and multiparts.
func dispLangLoc(e *wire.Encoder, p *mime.Part) {
	e.SP()
	if p.Disposition == "" {
		e.NIL()
	} else {
		e.BeginList()
		str(e, p.Disposition)
		e.SP()
		paramList(e, p.DispositionParams, false)
		e.EndList()
	}
	e.SP()
	language(e, p.Language)
	e.SP()
	nstring(e, p.Location)
}

// language writes body-fld-lang, always as a list (as Dovecot does), NIL
// when there is none. Empty tags are skipped: a list cannot hold NIL.
func language(e *wire.Encoder, tags []string) {
	n := 0
	for _, t := range tags {
		if cleanText(t) != "" {
			n++
		}
	}
	if n == 0 {
		e.NIL()
		return
	}
	e.BeginList()
	first := true
	for _, t := range tags {
		if t = cleanText(t); t == "" {
			continue
		}
		if !first {
			e.SP()
		}
		first = false
		str(e, t)
	}
	e.EndList()
}

// PartStructure writes the extended BODYSTRUCTURE of one part (and what it
// contains): URLFETCH's BODYPARTSTRUCTURE (RFC 5524).
func PartStructure(e *wire.Encoder, p *mime.Part) {
	body(e, p, true, 0)
}
