package mailapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
)

// An Email/set create (RFC 8621 §4.6) is read into a draft: the header
// fields, already encoded, and the MIME tree, whose contents are values
// from bodyValues or blobs opened only when the message is written. The
// draft is checked completely before anything is written, so a bad
// creation costs no store work.

// Bounds on the tree a client may describe.
const (
	maxDraftDepth = 16
	maxDraftParts = 500
)

// field is one header field: its name as written and its value encoded
// for the wire (ASCII, or UTF-8 where RFC 6532 allows), not yet folded.
// raw values are written exactly as the client gave them.
type field struct {
	name, value string
	raw         bool
}

// draftPart is one MIME entity of the message being created.
type draftPart struct {
	typ      string // media type, lower case: "text/plain", "multipart/mixed"
	charset  string // charset parameter of a blob's text part ("" none)
	name     *string
	fields   []field // Content-Disposition, Content-ID, … and header:* fields
	value    *string // content from bodyValues
	blobID   string  // content from a blob
	subParts []*draftPart
}

func (p *draftPart) multipart() bool { return strings.HasPrefix(p.typ, "multipart/") }

// draft is a parsed Email create.
type draft struct {
	header     []field
	root       *draftPart
	mailbox    string // the one Mailbox id, unresolved ("#cid" allowed)
	keywords   []string
	receivedAt time.Time // zero: now
	blobs      []string  // every blob id referenced, once each
}

// bad is an invalidProperties SetError naming the property.
func bad(prop, format string, args ...any) *jmap.SetError {
	return jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf(format, args...), prop)
}

// convenience maps the header convenience properties (RFC 8621 §4.1.3)
// to the field and form they stand for.
var convenience = map[string]struct {
	name string
	form emailprops.Form
}{
	"messageId": {"Message-ID", emailprops.FormMessageIds}, "inReplyTo": {"In-Reply-To", emailprops.FormMessageIds},
	"references": {"References", emailprops.FormMessageIds}, "sender": {"Sender", emailprops.FormAddresses},
	"from": {"From", emailprops.FormAddresses}, "to": {"To", emailprops.FormAddresses},
	"cc": {"Cc", emailprops.FormAddresses}, "bcc": {"Bcc", emailprops.FormAddresses},
	"replyTo": {"Reply-To", emailprops.FormAddresses}, "subject": {"Subject", emailprops.FormText},
	"sentAt": {"Date", emailprops.FormDate},
}

// headerOrder is where the usual fields go in the header, the order
// mail clients write them; other fields follow in property order.
var headerOrder = []string{"date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to",
	"references", "subject"}

// headerSet collects the fields of one entity, refusing a field given by
// two properties (RFC 8621 §4.6).
type headerSet struct {
	fields []field
	by     map[string]string // lower-case name → the property that set it
}

func (hs *headerSet) add(prop, name string, form emailprops.Form, all bool, v json.RawMessage) *jmap.SetError {
	lname := strings.ToLower(name)
	if hs.by == nil {
		hs.by = map[string]string{}
	}
	if other, dup := hs.by[lname]; dup {
		return bad(prop, "%s and %s both set the %s header field", other, prop, name)
	}
	hs.by[lname] = prop
	if !emailprops.AllowedForm(name, form) {
		return bad(prop, "the %s header field cannot be set as %s", name, form)
	}
	if string(v) == "null" {
		return nil
	}
	values := []json.RawMessage{v}
	if all {
		if err := json.Unmarshal(v, &values); err != nil {
			return bad(prop, "%s is an array of values", prop)
		}
	}
	for _, one := range values {
		enc, raw, err := encodeHeaderValue(name, form, one)
		if err != nil {
			return bad(prop, "%s: %v", prop, err)
		}
		if enc == nil {
			continue
		}
		hs.fields = append(hs.fields, field{name: name, value: *enc, raw: raw})
	}
	return nil
}

// parseDraft reads an Email create object. now and host make the Date
// and Message-ID the server adds when the client gives none.
func parseDraft(raw json.RawMessage, now time.Time, host string, newID func() string) (*draft, *jmap.SetError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, jmap.NewSetError(jmap.SetInvalidProperties, "an Email is a JSON object")
	}
	d := &draft{}
	var hs headerSet
	props := make([]string, 0, len(obj))
	for p := range obj {
		props = append(props, p)
	}
	sort.Strings(props)
	var bodyValues map[string]bodyValueIn
	var structure, text, html, atts json.RawMessage
	for _, p := range props {
		v := obj[p]
		null := string(v) == "null"
		switch {
		case p == "mailboxIds":
			var m map[string]bool
			if err := json.Unmarshal(v, &m); err != nil || len(m) == 0 {
				return nil, bad(p, "mailboxIds names the one Mailbox of the Email")
			}
			if len(m) > 1 {
				return nil, jmap.NewSetError(jmap.SetTooManyMailboxes, "an Email is in exactly one Mailbox here (maxMailboxesPerEmail 1)", p)
			}
			for id, on := range m {
				if !on {
					return nil, bad(p, "mailboxIds values are true")
				}
				d.mailbox = id
			}
		case p == "keywords":
			var m map[string]bool
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, bad(p, "keywords is an object of keyword: true")
			}
			for k, on := range m {
				if !on || !validKeyword(k) {
					return nil, bad(p, "%q is not a keyword set to true", k)
				}
				d.keywords = append(d.keywords, strings.ToLower(k))
			}
			slices.Sort(d.keywords)
		case p == "receivedAt":
			if null {
				continue
			}
			var s string
			t, err := time.Time{}, json.Unmarshal(v, &s)
			if err == nil {
				t, err = time.Parse(time.RFC3339, s)
			}
			if err != nil || !strings.HasSuffix(s, "Z") {
				return nil, bad(p, "receivedAt is a UTCDate (2024-01-31T12:00:00Z)")
			}
			d.receivedAt = t
		case convenience[p].name != "":
			cv := convenience[p]
			if serr := hs.add(p, cv.name, cv.form, false, v); serr != nil {
				return nil, serr
			}
		case strings.HasPrefix(p, "header:"):
			name, form, all, ok := emailprops.ParseHeaderProperty(p)
			if !ok {
				return nil, bad(p, "%q is not a header property", p)
			}
			if strings.HasPrefix(strings.ToLower(name), "content-") {
				return nil, bad(p, "Content-* header fields are set on body parts, not on the Email")
			}
			if strings.EqualFold(name, "MIME-Version") {
				return nil, bad(p, "the server writes MIME-Version")
			}
			if serr := hs.add(p, name, form, all, v); serr != nil {
				return nil, serr
			}
		case p == "bodyValues":
			if null {
				continue
			}
			if err := decodeStrict(v, &bodyValues); err != nil {
				return nil, bad(p, "bodyValues maps partIds to EmailBodyValues: %v", err)
			}
			for id, bv := range bodyValues {
				if bv.IsEncodingProblem || bv.IsTruncated {
					return nil, bad(p, "bodyValues/%s: isEncodingProblem and isTruncated are false or absent", id)
				}
			}
		case p == "bodyStructure":
			structure = nonNull(v)
		case p == "textBody":
			text = nonNull(v)
		case p == "htmlBody":
			html = nonNull(v)
		case p == "attachments":
			atts = nonNull(v)
		case slices.Contains(emailProperties, p):
			return nil, bad(p, "%s is set by the server", p)
		default:
			return nil, bad(p, "no Email property %q", p)
		}
	}
	if d.mailbox == "" {
		return nil, bad("mailboxIds", "mailboxIds names the one Mailbox of the Email")
	}
	pb := &partBuilder{values: bodyValues, blobs: map[string]bool{}}
	var serr *jmap.SetError
	if structure != nil {
		if text != nil || html != nil || atts != nil {
			return nil, bad("bodyStructure", "bodyStructure and textBody, htmlBody or attachments exclude each other")
		}
		if d.root, serr = pb.part("bodyStructure", structure, 0); serr != nil {
			return nil, serr
		}
		// The root's own fields are the message's: none may repeat one
		// of the Email's.
		for _, f := range d.root.fields {
			if prop, dup := hs.by[strings.ToLower(f.name)]; dup {
				return nil, bad("bodyStructure", "bodyStructure sets the %s header field that %s sets", f.name, prop)
			}
		}
	} else if d.root, serr = pb.flat(text, html, atts); serr != nil {
		return nil, serr
	}
	for id := range pb.used {
		if _, ok := bodyValues[id]; !ok {
			return nil, bad("bodyValues", "no bodyValues entry for partId %q", id)
		}
	}
	d.blobs = pb.blobList
	// The fields RFC 8621 §4.6 says the server adds when missing.
	if _, ok := hs.by["date"]; !ok {
		hs.fields = append(hs.fields, field{name: "Date", value: now.Format(dateLayout)})
	}
	if _, ok := hs.by["message-id"]; !ok {
		hs.fields = append(hs.fields, field{name: "Message-ID", value: "<" + newID() + "@" + host + ">"})
	}
	d.header = orderFields(hs.fields)
	return d, nil
}

func nonNull(v json.RawMessage) json.RawMessage {
	if string(v) == "null" {
		return nil
	}
	return v
}

// orderFields puts the usual fields first, in headerOrder, keeping the
// order of the rest (and of repeated fields).
func orderFields(fs []field) []field {
	rank := func(f field) int {
		if i := slices.Index(headerOrder, strings.ToLower(f.name)); i >= 0 {
			return i
		}
		return len(headerOrder)
	}
	slices.SortStableFunc(fs, func(a, b field) int { return rank(a) - rank(b) })
	return fs
}

// bodyValueIn is an EmailBodyValue as a client sends it.
type bodyValueIn struct {
	Value             string `json:"value"`
	IsEncodingProblem bool   `json:"isEncodingProblem"`
	IsTruncated       bool   `json:"isTruncated"`
}

// bodyPartIn is an EmailBodyPart as a client sends it; header:*
// properties are read separately.
type bodyPartIn struct {
	PartID      *string           `json:"partId"`
	BlobID      *string           `json:"blobId"`
	Size        *int64            `json:"size"`
	Name        *string           `json:"name"`
	Type        *string           `json:"type"`
	Charset     *string           `json:"charset"`
	Disposition *string           `json:"disposition"`
	Cid         *string           `json:"cid"`
	Language    *[]string         `json:"language"`
	Location    *string           `json:"location"`
	SubParts    []json.RawMessage `json:"subParts"`
}

// partBuilder turns EmailBodyParts into draftParts.
type partBuilder struct {
	values   map[string]bodyValueIn
	used     map[string]bool
	blobs    map[string]bool
	blobList []string
	n        int
}

// part reads one EmailBodyPart (and its subParts) at path.
func (pb *partBuilder) part(path string, raw json.RawMessage, depth int) (*draftPart, *jmap.SetError) {
	pb.n++
	if pb.n > maxDraftParts || depth > maxDraftDepth {
		return nil, bad(path, "at most %d body parts, nested at most %d deep", maxDraftParts, maxDraftDepth)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, bad(path, "%s is an EmailBodyPart object", path)
	}
	var in bodyPartIn
	var hs headerSet
	plain := map[string]json.RawMessage{}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := obj[k]
		if !strings.HasPrefix(k, "header:") {
			plain[k] = v
			continue
		}
		name, form, all, ok := emailprops.ParseHeaderProperty(k)
		if !ok {
			return nil, bad(path+"/"+k, "%q is not a header property", k)
		}
		switch strings.ToLower(name) {
		case "content-transfer-encoding":
			return nil, bad(path+"/"+k, "the server chooses the Content-Transfer-Encoding")
		case "content-type", "content-disposition":
			return nil, bad(path+"/"+k, "set Content-Type and Content-Disposition with type, charset, disposition and name")
		case "mime-version":
			return nil, bad(path+"/"+k, "the server writes MIME-Version")
		}
		if serr := hs.add(path+"/"+k, name, form, all, v); serr != nil {
			return nil, serr
		}
	}
	b, _ := json.Marshal(plain)
	if err := decodeStrict(b, &in); err != nil {
		if _, has := plain["headers"]; has {
			return nil, bad(path+"/headers", "headers cannot be set: give each field as a header: property")
		}
		return nil, bad(path, "%s: %v", path, err)
	}
	p := &draftPart{typ: "text/plain", name: in.Name}
	if in.Type != nil {
		t := strings.ToLower(strings.TrimSpace(*in.Type))
		if !validMediaType(t) {
			return nil, bad(path+"/type", "%q is not a media type", *in.Type)
		}
		p.typ = t
	} else if in.SubParts != nil {
		p.typ = "multipart/mixed"
	}
	if p.multipart() {
		if len(in.SubParts) == 0 || in.PartID != nil || in.BlobID != nil || in.Charset != nil {
			return nil, bad(path, "a multipart has subParts and no partId, blobId or charset")
		}
		for i, sp := range in.SubParts {
			child, serr := pb.part(fmt.Sprintf("%s/subParts/%d", path, i), sp, depth+1)
			if serr != nil {
				return nil, serr
			}
			p.subParts = append(p.subParts, child)
		}
	} else {
		if in.SubParts != nil {
			return nil, bad(path+"/subParts", "only a multipart has subParts")
		}
		switch {
		case (in.PartID == nil) == (in.BlobID == nil):
			return nil, bad(path, "a body part has a partId or a blobId, one of them")
		case in.PartID != nil:
			if in.Charset != nil || in.Size != nil {
				return nil, bad(path, "a part given by partId has no charset or size: its value is written in UTF-8")
			}
			v, ok := pb.values[*in.PartID]
			if !ok {
				return nil, bad("bodyValues", "no bodyValues entry for partId %q", *in.PartID)
			}
			if pb.used == nil {
				pb.used = map[string]bool{}
			}
			pb.used[*in.PartID] = true
			p.value = &v.Value
		default:
			p.blobID = *in.BlobID
			if !pb.blobs[p.blobID] {
				pb.blobs[p.blobID] = true
				pb.blobList = append(pb.blobList, p.blobID)
			}
			if in.Charset != nil {
				if !validToken(*in.Charset) {
					return nil, bad(path+"/charset", "%q is not a charset name", *in.Charset)
				}
				p.charset = *in.Charset
			}
		}
	}
	// The Content-* fields the properties stand for, each refusing a
	// header: property for the same field.
	std := func(prop, name, value string) *jmap.SetError {
		if other, dup := hs.by[strings.ToLower(name)]; dup {
			return bad(path+"/"+prop, "%s and %s both set the %s header field", prop, other, name)
		}
		p.fields = append(p.fields, field{name: name, value: value})
		return nil
	}
	if in.Disposition != nil || (in.Name != nil && !p.multipart()) {
		disp := "attachment"
		if in.Disposition != nil {
			disp = strings.ToLower(strings.TrimSpace(*in.Disposition))
			if !validToken(disp) {
				return nil, bad(path+"/disposition", "%q is not a disposition", *in.Disposition)
			}
		}
		var params map[string]string
		if in.Name != nil {
			params = map[string]string{"filename": cleanText(*in.Name)}
		}
		if serr := std("disposition", "Content-Disposition", formatMediaType(disp, params)); serr != nil {
			return nil, serr
		}
	}
	if in.Cid != nil {
		if !validMsgID(*in.Cid) {
			return nil, bad(path+"/cid", "%q is not a Content-ID", *in.Cid)
		}
		if serr := std("cid", "Content-ID", "<"+*in.Cid+">"); serr != nil {
			return nil, serr
		}
	}
	if in.Language != nil && len(*in.Language) > 0 {
		for _, l := range *in.Language {
			if !validLanguage(l) {
				return nil, bad(path+"/language", "%q is not a language tag", l)
			}
		}
		if serr := std("language", "Content-Language", strings.Join(*in.Language, ", ")); serr != nil {
			return nil, serr
		}
	}
	if in.Location != nil {
		if !validURL(*in.Location) {
			return nil, bad(path+"/location", "%q is not a URI", *in.Location)
		}
		if serr := std("location", "Content-Location", *in.Location); serr != nil {
			return nil, serr
		}
	}
	p.fields = append(p.fields, hs.fields...)
	return p, nil
}

// flat builds the tree from textBody, htmlBody and attachments: the text
// and HTML bodies as multipart/alternative, HTML with the inline parts it
// refers to by cid as multipart/related, and the attachments after the
// body in multipart/mixed. The RFC leaves the shape to the server; this
// is the one every mail client writes and reads.
func (pb *partBuilder) flat(text, html, atts json.RawMessage) (*draftPart, *jmap.SetError) {
	one := func(prop string, raw json.RawMessage, typ string) (*draftPart, *jmap.SetError) {
		if raw == nil {
			return nil, nil
		}
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
			return nil, bad(prop, "%s holds exactly one body part", prop)
		}
		// A part without a type is of the one type its list allows.
		var obj map[string]json.RawMessage
		if json.Unmarshal(list[0], &obj) == nil && obj != nil && obj["type"] == nil {
			obj["type"], _ = json.Marshal(typ)
			list[0], _ = json.Marshal(obj)
		}
		p, serr := pb.part(prop+"/0", list[0], 1)
		if serr != nil {
			return nil, serr
		}
		if p.typ != typ {
			return nil, bad(prop, "the part of %s is %s", prop, typ)
		}
		return p, nil
	}
	tp, serr := one("textBody", text, "text/plain")
	if serr != nil {
		return nil, serr
	}
	hp, serr := one("htmlBody", html, "text/html")
	if serr != nil {
		return nil, serr
	}
	var inline, attached []*draftPart
	if atts != nil {
		var list []json.RawMessage
		if err := json.Unmarshal(atts, &list); err != nil {
			return nil, bad("attachments", "attachments is a list of body parts")
		}
		for i, raw := range list {
			p, serr := pb.part(fmt.Sprintf("attachments/%d", i), raw, 1)
			if serr != nil {
				return nil, serr
			}
			if hp != nil && isInlineCid(p) {
				inline = append(inline, p)
			} else {
				attached = append(attached, p)
			}
		}
	}
	if len(inline) > 0 {
		hp = &draftPart{typ: "multipart/related", subParts: append([]*draftPart{hp}, inline...)}
	}
	var body *draftPart
	switch {
	case tp != nil && hp != nil:
		body = &draftPart{typ: "multipart/alternative", subParts: []*draftPart{tp, hp}}
	case tp != nil:
		body = tp
	case hp != nil:
		body = hp
	}
	if len(attached) == 0 {
		if body == nil {
			empty := ""
			return &draftPart{typ: "text/plain", value: &empty}, nil
		}
		return body, nil
	}
	if body != nil {
		attached = append([]*draftPart{body}, attached...)
	}
	return &draftPart{typ: "multipart/mixed", subParts: attached}, nil
}

// isInlineCid: a part the HTML shows in place (disposition inline, with
// a Content-ID to refer to it by).
func isInlineCid(p *draftPart) bool {
	var inline, cid bool
	for _, f := range p.fields {
		switch f.name {
		case "Content-Disposition":
			inline = strings.HasPrefix(f.value, "inline")
		case "Content-ID":
			cid = true
		}
	}
	return inline && cid
}
