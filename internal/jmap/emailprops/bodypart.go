package emailprops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mailroom/internal/mime"
)

// EmailBodyPart is RFC 8621 4.1.4's EmailBodyPart. Which properties it
// carries in JSON is the bodyProperties it was built with (see
// MarshalJSON); the fields of the others are left zero.
type EmailBodyPart struct {
	PartID      *string         `json:"partId"`
	BlobID      *string         `json:"blobId"`
	Size        int64           `json:"size"`
	Headers     []Header        `json:"headers"`
	Name        *string         `json:"name"`
	Type        string          `json:"type"`
	Charset     *string         `json:"charset"`
	Disposition *string         `json:"disposition"`
	CID         *string         `json:"cid"`
	Language    []string        `json:"language"`
	Location    *string         `json:"location"`
	SubParts    []EmailBodyPart `json:"subParts"`
	// HeaderProps holds the values of the requested header:… properties,
	// keyed by the property name as requested.
	HeaderProps map[string]any `json:"-"`
	// Part is the scanned part this describes, for a caller that goes on
	// to fetch its bodyValue; nil for nothing.
	Part *mime.Part `json:"-"`

	props []string // what MarshalJSON writes, in order
}

// defaultBodyProperties is the bodyProperties default of Email/get (RFC
// 8621 4.2).
var defaultBodyProperties = []string{"partId", "blobId", "size", "name", "type", "charset", "disposition", "cid", "language", "location"}

// DefaultBodyProperties returns Email/get's default bodyProperties (RFC
// 8621 4.2), a fresh slice each time.
func DefaultBodyProperties() []string {
	return append([]string(nil), defaultBodyProperties...)
}

// ValidBodyProperty reports whether prop names an EmailBodyPart property:
// one of the RFC's, or a well-formed header:… property.
func ValidBodyProperty(prop string) bool {
	switch prop {
	case "partId", "blobId", "size", "headers", "name", "type", "charset", "disposition", "cid", "language", "location", "subParts":
		return true
	}
	_, _, _, ok := ParseHeaderProperty(prop)
	return ok
}

// MarshalJSON writes exactly the properties the part was built with, in
// the order first asked, each once; null for a header:… property with no value
// and for unknown names (which the caller should have refused).
func (bp EmailBodyPart) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := bp.appendJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// appendJSON writes the part, its sub-parts directly into the same
// buffer: encoding/json re-validates and compacts what every MarshalJSON
// returns, which nested once per level would cost the square of the depth.
func (bp *EmailBodyPart) appendJSON(b *bytes.Buffer) error {
	props := bp.props
	if props == nil {
		props = defaultBodyProperties
	}
	b.WriteByte('{')
	first := true
	for _, p := range props {
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(p)
		b.Write(key)
		b.WriteByte(':')
		if p == "subParts" && bp.SubParts != nil {
			b.WriteByte('[')
			for j := range bp.SubParts {
				if j > 0 {
					b.WriteByte(',')
				}
				if err := bp.SubParts[j].appendJSON(b); err != nil {
					return err
				}
			}
			b.WriteByte(']')
			continue
		}
		var v any
		switch p {
		case "partId":
			v = bp.PartID
		case "blobId":
			v = bp.BlobID
		case "size":
			v = bp.Size
		case "headers":
			h := bp.Headers
			if h == nil {
				h = []Header{}
			}
			v = h
		case "name":
			v = bp.Name
		case "type":
			v = bp.Type
		case "charset":
			v = bp.Charset
		case "disposition":
			v = bp.Disposition
		case "cid":
			v = bp.CID
		case "language":
			v = bp.Language
		case "location":
			v = bp.Location
		case "subParts":
			v = nil // a leaf
		default:
			v = bp.HeaderProps[p]
		}
		val, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("emailprops: marshal body part property %s: %w", p, err)
		}
		b.Write(val)
	}
	b.WriteByte('}')
	return nil
}

// node is a part as JMAP numbers it: multiparts are descended into,
// everything else (message/rfc822 included) is a leaf.
type node struct {
	p        *mime.Part
	id       string // IMAP section path; "" for a multipart
	typ      string // type/subtype, lower case
	inDigest bool   // child of a multipart/digest
	children []*node
}

func (n *node) isMultipart() bool { return n.p.Type == "multipart" }

// tree numbers the parts of m as IMAP sections, which makes a partId
// something IMAP users of the same store can resolve too (PartByID).
func tree(m *mime.Message) (*node, error) {
	if m == nil || m.Root == nil {
		return nil, errors.New("emailprops: message has no structure")
	}
	root := newNode(m.Root, "", false)
	if !root.isMultipart() {
		root.id = "1"
	}
	return root, nil
}

func newNode(p *mime.Part, id string, inDigest bool) *node {
	n := &node{p: p, id: id, typ: p.Type + "/" + p.Subtype, inDigest: inDigest}
	if p.Type != "multipart" {
		return n
	}
	n.id = ""
	for i, c := range p.Parts {
		cid := strconv.Itoa(i + 1)
		if id != "" {
			cid = id + "." + cid
		}
		n.children = append(n.children, newNode(c, cid, p.Subtype == "digest"))
	}
	return n
}

// PartByID resolves a partId that BodyStructure, TextBody, HTMLBody or
// Attachments gave out, for bodyValues and blob downloads. Multiparts
// have no partId and are not found.
func PartByID(m *mime.Message, partID string) (*mime.Part, bool) {
	if m == nil || m.Root == nil || partID == "" || len(partID) > 8000 {
		return nil, false
	}
	cur := m.Root
	if cur.Type != "multipart" {
		return cur, partID == "1"
	}
	for _, s := range strings.Split(partID, ".") {
		i, err := strconv.Atoi(s)
		if err != nil || s[0] == '0' || s[0] == '+' || cur.Type != "multipart" || i < 1 || i > len(cur.Parts) {
			return nil, false
		}
		cur = cur.Parts[i-1]
	}
	if cur.Type == "multipart" {
		return nil, false
	}
	return cur, true
}

// builder makes EmailBodyParts for one request: one property list, one
// blob id scheme, and reused buffers for counting decoded sizes.
type builder struct {
	r       io.ReaderAt
	blobID  func(string) string
	props   []string
	want    map[string]bool
	hdrs    []headerProp
	tr      mime.TransferReader
	buf     []byte
	sizes   map[*mime.Part]int64
	headers map[*mime.Part][]Header
}

type headerProp struct {
	prop, name string
	form       Form
	all        bool
}

func newBuilder(r io.ReaderAt, blobID func(string) string, props []string) *builder {
	if props == nil {
		props = defaultBodyProperties
	}
	// Each property once, in the order first asked: the output is a JSON
	// object, and a request repeating names must not multiply the work.
	seen := make(map[string]bool, len(props))
	uniq := make([]string, 0, len(props))
	for _, p := range props {
		if !seen[p] {
			seen[p] = true
			uniq = append(uniq, p)
		}
	}
	props = uniq
	b := &builder{r: r, blobID: blobID, props: props, want: make(map[string]bool, len(props)),
		sizes: map[*mime.Part]int64{}, headers: map[*mime.Part][]Header{}}
	for _, p := range props {
		b.want[p] = true
		if name, form, all, ok := ParseHeaderProperty(p); ok {
			b.hdrs = append(b.hdrs, headerProp{prop: p, name: name, form: form, all: all})
		}
	}
	return b
}

// part builds the EmailBodyPart of n, without sub-parts.
func (b *builder) part(n *node) (EmailBodyPart, error) {
	p := n.p
	bp := EmailBodyPart{Type: n.typ, Part: p, props: b.props}
	if n.id != "" {
		id := n.id
		bp.PartID = &id
		if b.blobID != nil && b.want["blobId"] {
			blob := b.blobID(id)
			bp.BlobID = &blob
		}
	}
	if b.want["size"] && n.isMultipart() {
		// A multipart has no blob to decode; its octets are the size.
		bp.Size = p.BodySize()
	} else if b.want["size"] {
		size, err := b.size(p)
		if err != nil {
			return bp, err
		}
		bp.Size = size
	}
	if p.Filename != "" {
		name := p.Filename
		bp.Name = &name
	}
	if p.Disposition != "" {
		d := p.Disposition
		bp.Disposition = &d
	}
	if cid := contentID(p.ID); cid != "" {
		bp.CID = &cid
	}
	if len(p.Language) > 0 {
		bp.Language = append([]string(nil), p.Language...)
	}
	if p.Location != "" {
		loc := validUTF8(p.Location)
		bp.Location = &loc
	}
	var hs []Header
	if b.want["headers"] || len(b.hdrs) > 0 || b.needsHeaderForCharset(n) {
		var err error
		if hs, err = b.partHeaders(p); err != nil {
			return bp, err
		}
	}
	bp.Charset = b.charset(n, hs)
	if b.want["headers"] {
		bp.Headers = hs
		if bp.Headers == nil {
			bp.Headers = []Header{}
		}
	}
	if len(b.hdrs) > 0 {
		bp.HeaderProps = make(map[string]any, len(b.hdrs))
		for _, h := range b.hdrs {
			bp.HeaderProps[h.prop] = HeaderValue(hs, h.name, h.form, h.all)
		}
	}
	return bp, nil
}

// needsHeaderForCharset: RFC 8621 4.1.4 makes charset "us-ascii" when
// there is no Content-Type field at all, even for the implied
// message/rfc822 of a digest; only then does a non-text part's charset
// depend on whether the field is there, which the scan does not record.
func (b *builder) needsHeaderForCharset(n *node) bool {
	if !b.want["charset"] || !n.inDigest || n.p.Type == "text" {
		return false
	}
	_, has := n.p.Param("charset")
	return !has
}

// charset is RFC 8621 4.1.4's charset: the parameter if present; else
// us-ascii for text/* and for a part without Content-Type; else null.
func (b *builder) charset(n *node, hs []Header) *string {
	if cs, ok := n.p.Param("charset"); ok {
		cs = validUTF8(cs)
		return &cs
	}
	ascii := "us-ascii"
	if n.p.Type == "text" {
		return &ascii
	}
	if b.needsHeaderForCharset(n) {
		for _, h := range hs {
			if strings.EqualFold(h.Name, "Content-Type") {
				return nil
			}
		}
		return &ascii
	}
	return nil
}

func (b *builder) partHeaders(p *mime.Part) ([]Header, error) {
	if hs, ok := b.headers[p]; ok {
		return hs, nil
	}
	hs, err := Headers(b.r, p, 0)
	if err != nil && !errors.Is(err, ErrHeaderTruncated) {
		return nil, err
	}
	b.headers[p] = hs
	return hs, nil
}

// size is the decoded size (RFC 8621 4.1.4: "the size, in octets, of the
// raw data after content transfer decoding"), counted by streaming the
// part through the transfer decoder: no more than the decoder's buffers
// are held, whatever the part's size.
func (b *builder) size(p *mime.Part) (int64, error) {
	if s, ok := b.sizes[p]; ok {
		return s, nil
	}
	if mime.IdentityEncoding(p.Encoding) || !mime.KnownTransferEncoding(p.Encoding) {
		b.sizes[p] = p.BodySize()
		return p.BodySize(), nil
	}
	if b.buf == nil {
		b.buf = make([]byte, 32<<10)
	}
	b.tr.Reset(io.NewSectionReader(b.r, p.BodyStart, p.BodySize()), p.Encoding)
	var n int64
	for {
		k, err := b.tr.Read(b.buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("emailprops: decode part at %d for its size: %w", p.BodyStart, err)
		}
	}
	b.sizes[p] = n
	return n, nil
}

// contentID is the cid property: the Content-ID without CFWS and angle
// brackets.
func contentID(raw string) string {
	s := strings.TrimSpace(unfold(raw))
	if s == "" {
		return ""
	}
	s = mime.SkipCFWS(s)
	if strings.HasPrefix(s, "<") {
		if j := strings.IndexByte(s, '>'); j > 0 {
			s = s[1:j]
		} else {
			s = s[1:]
		}
	}
	return validUTF8(strings.Join(strings.Fields(s), ""))
}

// BodyStructure returns the bodyStructure property of m (RFC 8621 4.1.4):
// the tree of EmailBodyParts, multiparts descended into, message/rfc822
// parts leaves. props is bodyProperties (nil for the RFC's default); the
// sub-parts of a multipart are always included, since without them the
// structure says nothing. blobID makes the blobId of a partId; the partId
// is the part's IMAP section path ("1" for a single-part message's only
// part, "2.1.3" deeper), resolved by PartByID.
func BodyStructure(r io.ReaderAt, m *mime.Message, blobID func(partID string) string, props []string) (EmailBodyPart, error) {
	root, err := tree(m)
	if err != nil {
		return EmailBodyPart{}, err
	}
	b := newBuilder(r, blobID, props)
	return b.structure(root)
}

func (b *builder) structure(n *node) (EmailBodyPart, error) {
	bp, err := b.part(n)
	if err != nil {
		return bp, err
	}
	if !n.isMultipart() {
		return bp, nil
	}
	if !b.want["subParts"] {
		bp.props = append(append([]string(nil), b.props...), "subParts")
	}
	bp.SubParts = make([]EmailBodyPart, 0, len(n.children))
	for _, c := range n.children {
		sub, err := b.structure(c)
		if err != nil {
			return bp, err
		}
		bp.SubParts = append(bp.SubParts, sub)
	}
	return bp, nil
}
