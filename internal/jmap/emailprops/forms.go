package emailprops

import (
	"net/mail"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"mailroom/internal/mime"
)

// Form is a parsed form of a header field value (RFC 8621 section 4.1.2).
type Form uint8

const (
	FormRaw Form = iota
	FormText
	FormAddresses
	FormGroupedAddresses
	FormMessageIds
	FormDate
	FormURLs
)

var formNames = [...]string{"Raw", "Text", "Addresses", "GroupedAddresses", "MessageIds", "Date", "URLs"}

// String returns the form's name as it follows "as" in a property name.
func (f Form) String() string {
	if int(f) < len(formNames) {
		return formNames[f]
	}
	return "Form(?)"
}

// EmailAddress is RFC 8621 4.1.2.3's EmailAddress.
type EmailAddress struct {
	Name  *string `json:"name"`
	Email string  `json:"email"`
}

// EmailAddressGroup is RFC 8621 4.1.2.4's EmailAddressGroup; Name is nil
// for the mailboxes outside any group.
type EmailAddressGroup struct {
	Name      *string        `json:"name"`
	Addresses []EmailAddress `json:"addresses"`
}

// Parse returns a Raw-form header value (as Headers gives it) in the
// given form, as the JSON-ready value RFC 8621 4.1.2 defines:
//
//	FormRaw               string
//	FormText              string
//	FormAddresses         []EmailAddress, never nil
//	FormGroupedAddresses  []EmailAddressGroup, never nil
//	FormMessageIds        []string, nil (null) if no msg-id parses
//	FormDate              *string (RFC 3339 with the field's offset), nil if it does not parse
//	FormURLs              []string, nil (null) if no URL parses
//
// It never fails: parsing is best effort, as the RFC asks. Whether a form
// is allowed for a field is AllowedForm's business, not Parse's.
func Parse(value string, form Form) any {
	switch form {
	case FormText:
		return asText(value)
	case FormAddresses:
		return asAddresses(value)
	case FormGroupedAddresses:
		return asGroupedAddresses(value)
	case FormMessageIds:
		return asMessageIds(value)
	case FormDate:
		return asDate(value)
	case FormURLs:
		return asURLs(value)
	}
	return value
}

// unfold removes the line ends of folding (RFC 5322 2.2.3), keeping the
// white space after them; a stray line end elsewhere goes too.
func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\r' && c != '\n' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// asText is RFC 8621 4.1.2.2: unfolded, leading SP removed, RFC 2047
// words with a known charset decoded (mime.DecodeHeader keeps the others
// and applies RFC 2047's placement rules), control characters dropped,
// NFC.
func asText(value string) string {
	s := strings.TrimLeft(unfold(value), " ")
	s = mime.DecodeHeader(s)
	return norm.NFC.String(dropControls(s))
}

// dropControls removes C0 controls other than TAB, and DEL. The RFC asks
// this for those coming out of encoded words; raw ones have no business
// in a header either, and a client cannot tell them apart.
func dropControls(s string) string {
	if strings.IndexFunc(s, isDropped) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isDropped(r) {
			return -1
		}
		return r
	}, s)
}

func isDropped(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

func nameText(s string) *string {
	s = strings.TrimSpace(norm.NFC.String(dropControls(s)))
	if s == "" {
		return nil
	}
	return &s
}

func addrEmail(a mime.Address) string {
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// asAddresses is RFC 8621 4.1.2.3: the address-list with groups
// flattened. The mime package's tolerant parser does the parsing, so that
// JMAP, IMAP ENVELOPE and the webmail agree on what a field holds; its
// DecodedName is the display name (or the comment after a bare
// addr-spec) with RFC 2047 words decoded.
func asAddresses(value string) []EmailAddress {
	out := []EmailAddress{}
	for _, a := range mime.ParseAddressList(value) {
		if a.GroupStart || a.GroupEnd {
			continue
		}
		out = append(out, EmailAddress{Name: nameText(a.DecodedName), Email: addrEmail(a)})
	}
	return out
}

// asGroupedAddresses is RFC 8621 4.1.2.4: like asAddresses, but
// consecutive mailboxes outside a group make a group named null.
func asGroupedAddresses(value string) []EmailAddressGroup {
	out := []EmailAddressGroup{}
	inGroup := false
	for _, a := range mime.ParseAddressList(value) {
		switch {
		case a.GroupStart:
			n := norm.NFC.String(dropControls(strings.TrimSpace(mime.DecodeHeader(a.Mailbox))))
			out = append(out, EmailAddressGroup{Name: &n, Addresses: []EmailAddress{}})
			inGroup = true
		case a.GroupEnd:
			inGroup = false
		default:
			if !inGroup && (len(out) == 0 || out[len(out)-1].Name != nil) {
				out = append(out, EmailAddressGroup{Addresses: []EmailAddress{}})
			}
			g := &out[len(out)-1]
			g.Addresses = append(g.Addresses, EmailAddress{Name: nameText(a.DecodedName), Email: addrEmail(a)})
		}
	}
	return out
}

// maxListItems bounds the ids or URLs one field yields: a header is
// bounded already, this keeps a field of a million "<a@b>" from making a
// million-element JSON array.
const maxListItems = 10000

// asMessageIds is RFC 8621 4.1.2.5: the msg-ids without CFWS and angle
// brackets; null if none parses.
func asMessageIds(value string) []string {
	var ids []string
	for id := range mime.MessageIDs(unfold(value)) {
		ids = append(ids, validUTF8(id))
		if len(ids) == maxListItems {
			break
		}
	}
	return ids
}

// dateLayout is RFC 8620 1.4's Date: RFC 3339 date-time, no fraction,
// upper-case letters, keeping the field's offset.
const dateLayout = "2006-01-02T15:04:05Z07:00"

// asDate is RFC 8621 4.1.2.6: the RFC 5322 date-time as a Date (with the
// field's own offset, not converted to UTC); null if it does not parse.
func asDate(value string) *string {
	s := strings.TrimSpace(unfold(value))
	if s == "" || len(s) > 256 {
		return nil
	}
	t, err := mail.ParseDate(s)
	if err != nil || t.Year() < 0 || t.Year() > 9999 {
		return nil
	}
	d := t.Truncate(time.Second).Format(dateLayout)
	return &d
}

// asURLs is RFC 8621 4.1.2.7: the angle-bracketed URLs of an RFC 2369
// list field, without brackets, comments or folding white space. Per RFC
// 2369 section 2, a field not starting with "<" is ignored (null), and
// the list ends at the first URL not followed by a comma.
func asURLs(value string) []string {
	s := unfold(value)
	var urls []string
	for {
		s = mime.SkipCFWS(s)
		if !strings.HasPrefix(s, "<") {
			break
		}
		j := strings.IndexByte(s, '>')
		if j < 0 {
			break
		}
		if u := strings.Join(strings.Fields(s[1:j]), ""); u != "" {
			urls = append(urls, validUTF8(u))
		}
		if len(urls) == maxListItems {
			break
		}
		s = mime.SkipCFWS(s[j+1:])
		if !strings.HasPrefix(s, ",") {
			break
		}
		s = s[1:]
	}
	return urls
}

// Which forms each header field defined by RFC 5322 and RFC 2369 allows
// (RFC 8621 4.1.2.1 to 4.1.2.7). Raw is allowed for every field; a field
// in none of these lists ("unknown") allows every form, and one listed
// here allows Raw plus the forms listed. Received and Return-Path are
// defined by RFC 5322 and so allow Raw only.
var knownFields = map[string][]Form{
	"subject":           {FormText},
	"comments":          {FormText},
	"keywords":          {FormText},
	"list-id":           {FormText},
	"from":              {FormAddresses, FormGroupedAddresses},
	"sender":            {FormAddresses, FormGroupedAddresses},
	"reply-to":          {FormAddresses, FormGroupedAddresses},
	"to":                {FormAddresses, FormGroupedAddresses},
	"cc":                {FormAddresses, FormGroupedAddresses},
	"bcc":               {FormAddresses, FormGroupedAddresses},
	"resent-from":       {FormAddresses, FormGroupedAddresses},
	"resent-sender":     {FormAddresses, FormGroupedAddresses},
	"resent-reply-to":   {FormAddresses, FormGroupedAddresses},
	"resent-to":         {FormAddresses, FormGroupedAddresses},
	"resent-cc":         {FormAddresses, FormGroupedAddresses},
	"resent-bcc":        {FormAddresses, FormGroupedAddresses},
	"message-id":        {FormMessageIds},
	"in-reply-to":       {FormMessageIds},
	"references":        {FormMessageIds},
	"resent-message-id": {FormMessageIds},
	"date":              {FormDate},
	"resent-date":       {FormDate},
	"list-help":         {FormURLs},
	"list-unsubscribe":  {FormURLs},
	"list-subscribe":    {FormURLs},
	"list-post":         {FormURLs},
	"list-owner":        {FormURLs},
	"list-archive":      {FormURLs},
	"received":          {},
	"return-path":       {},
}

// AllowedForm reports whether RFC 8621 allows fetching the header field
// name (any case) in the given form; Email/get answers invalidArguments
// for a property that is not.
func AllowedForm(name string, form Form) bool {
	if form == FormRaw {
		return true
	}
	if int(form) >= len(formNames) {
		return false
	}
	forms, known := knownFields[strings.ToLower(name)]
	if !known {
		return true
	}
	for _, f := range forms {
		if f == form {
			return true
		}
	}
	return false
}

// ParseHeaderProperty splits a property name of the form
// "header:{name}[:as{Form}][:all]" (RFC 8621 4.1.3). The header name is
// returned as given (fields match it case-insensitively); it must be one
// or more printable ASCII characters other than colon. The form and "all"
// suffixes are case-sensitive, as all JMAP property names are, and must
// come in that order. ok is false for anything else.
func ParseHeaderProperty(prop string) (name string, form Form, all bool, ok bool) {
	rest, found := strings.CutPrefix(prop, "header:")
	if !found {
		return "", 0, false, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 {
		return "", 0, false, false
	}
	name = parts[0]
	if name == "" || !validName([]byte(name)) {
		return "", 0, false, false
	}
	suffix := parts[1:]
	if n := len(suffix); n > 0 && suffix[n-1] == "all" {
		all, suffix = true, suffix[:n-1]
	}
	switch len(suffix) {
	case 0:
		return name, FormRaw, all, true
	case 1:
		f, ok := formByName(suffix[0])
		if !ok {
			return "", 0, false, false
		}
		return name, f, all, true
	}
	return "", 0, false, false
}

func formByName(s string) (Form, bool) {
	n, ok := strings.CutPrefix(s, "as")
	if !ok {
		return 0, false
	}
	for i, fn := range formNames {
		if fn == n {
			return Form(i), true
		}
	}
	return 0, false
}

// HeaderValue is the value of a header:… property over the fields of a
// header block (Headers' result): the last field named name (any case)
// in form, or nil (null) if there is none; with all, every such field's
// value in order, an empty (non-nil) slice if there is none.
func HeaderValue(hs []Header, name string, form Form, all bool) any {
	if all {
		vals := []any{}
		for _, h := range hs {
			if strings.EqualFold(h.Name, name) {
				vals = append(vals, Parse(h.Value, form))
			}
		}
		return vals
	}
	for i := len(hs) - 1; i >= 0; i-- {
		if strings.EqualFold(hs[i].Name, name) {
			return Parse(hs[i].Value, form)
		}
	}
	return nil
}
