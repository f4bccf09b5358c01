package emailprops

import (
	"io"
	"strings"

	"mailroom/internal/mime"
)

// bodyLists holds the three lists parseStructure fills.
type bodyLists struct {
	text, html, att []*node
}

func isInlineMediaType(typ string) bool {
	return strings.HasPrefix(typ, "image/") || strings.HasPrefix(typ, "audio/") || strings.HasPrefix(typ, "video/")
}

// parseStructure is RFC 8621 section 4.1.4's parseStructure, statement
// for statement. The RFC's textBody and htmlBody are arrays shared by all
// levels of the recursion but nulled locally: here the arrays live in l
// and textOn/htmlOn say whether this level's reference is still non-null.
func parseStructure(parts []*node, multipartType string, inAlternative bool, textOn, htmlOn bool, l *bodyLists) {
	// For multipartType == alternative
	textLength, htmlLength := -1, -1
	if textOn {
		textLength = len(l.text)
	}
	if htmlOn {
		htmlLength = len(l.html)
	}
	for i, part := range parts {
		isMultipart := part.p.Type == "multipart"
		// Is this a body part rather than an attachment? It must be one
		// of the allowed body types; in a multipart/related only the
		// first part can be inline, and a text part with a name that is
		// not first is taken for an attachment.
		isInline := part.p.Disposition != "attachment" &&
			(part.typ == "text/plain" || part.typ == "text/html" || isInlineMediaType(part.typ)) &&
			(i == 0 || (multipartType != "related" && (isInlineMediaType(part.typ) || part.p.Filename == "")))

		switch {
		case isMultipart:
			sub := part.p.Subtype
			parseStructure(part.children, sub, inAlternative || sub == "alternative", textOn, htmlOn, l)
		case isInline:
			if multipartType == "alternative" {
				switch part.typ {
				case "text/plain":
					l.text = append(l.text, part)
				case "text/html":
					l.html = append(l.html, part)
				default:
					l.att = append(l.att, part)
				}
				continue
			} else if inAlternative {
				if part.typ == "text/plain" {
					htmlOn = false
				}
				if part.typ == "text/html" {
					textOn = false
				}
			}
			if textOn {
				l.text = append(l.text, part)
			}
			if htmlOn {
				l.html = append(l.html, part)
			}
			if (!textOn || !htmlOn) && isInlineMediaType(part.typ) {
				l.att = append(l.att, part)
			}
		default:
			l.att = append(l.att, part)
		}
	}

	if multipartType == "alternative" && textOn && htmlOn {
		// Found HTML part only
		if textLength == len(l.text) && htmlLength != len(l.html) {
			l.text = append(l.text, l.html[htmlLength:]...)
		}
		// Found plaintext part only
		if htmlLength == len(l.html) && textLength != len(l.text) {
			l.html = append(l.html, l.text[textLength:]...)
		}
	}
}

func lists(m *mime.Message) (bodyLists, error) {
	root, err := tree(m)
	if err != nil {
		return bodyLists{}, err
	}
	var l bodyLists
	parseStructure([]*node{root}, "mixed", false, true, true, &l)
	return l, nil
}

// BodyLists returns the textBody, htmlBody and attachments properties of
// m (RFC 8621 4.1.4) at once, by the RFC's parseStructure algorithm. The
// parts have no subParts (a message/rfc822 part is an attachment, not
// descended into); props and blobID are as for BodyStructure. A part in
// both textBody and htmlBody is read once.
func BodyLists(r io.ReaderAt, m *mime.Message, blobID func(partID string) string, props []string) (text, html, attachments []EmailBodyPart, err error) {
	l, err := lists(m)
	if err != nil {
		return nil, nil, nil, err
	}
	b := newBuilder(r, blobID, props)
	if text, err = b.flat(l.text); err != nil {
		return nil, nil, nil, err
	}
	if html, err = b.flat(l.html); err != nil {
		return nil, nil, nil, err
	}
	if attachments, err = b.flat(l.att); err != nil {
		return nil, nil, nil, err
	}
	return text, html, attachments, nil
}

func (b *builder) flat(ns []*node) ([]EmailBodyPart, error) {
	out := make([]EmailBodyPart, 0, len(ns))
	for _, n := range ns {
		bp, err := b.part(n)
		if err != nil {
			return nil, err
		}
		out = append(out, bp)
	}
	return out, nil
}

// TextBody is the textBody property: the parts to show, in order, for a
// plain-text view (RFC 8621 4.1.4).
func TextBody(r io.ReaderAt, m *mime.Message, blobID func(partID string) string, props []string) ([]EmailBodyPart, error) {
	l, err := lists(m)
	if err != nil {
		return nil, err
	}
	return newBuilder(r, blobID, props).flat(l.text)
}

// HTMLBody is the htmlBody property: the parts to show for an HTML view.
func HTMLBody(r io.ReaderAt, m *mime.Message, blobID func(partID string) string, props []string) ([]EmailBodyPart, error) {
	l, err := lists(m)
	if err != nil {
		return nil, err
	}
	return newBuilder(r, blobID, props).flat(l.html)
}

// Attachments is the attachments property: the parts to offer for
// download, inline images shown in only one view among them.
func Attachments(r io.ReaderAt, m *mime.Message, blobID func(partID string) string, props []string) ([]EmailBodyPart, error) {
	l, err := lists(m)
	if err != nil {
		return nil, err
	}
	return newBuilder(r, blobID, props).flat(l.att)
}

// HasAttachment is the hasAttachment property: whether attachments holds
// a part without "Content-Disposition: inline", the RFC's SHOULD (4.1.4).
// It needs only the structure, not the message bytes, so a store can
// compute it once at delivery.
func HasAttachment(m *mime.Message) bool {
	l, err := lists(m)
	if err != nil {
		return false
	}
	for _, n := range l.att {
		if n.p.Disposition != "inline" {
			return true
		}
	}
	return false
}
