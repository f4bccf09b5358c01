package search

import "mailroom/internal/mime"

// opHasAttachment is the HASATTACHMENT key: not an IMAP key (no IMAP
// grammar produces it) but the web's has:attachment and JMAP's
// hasAttachment filter. Its value sits outside compile.go's iota block so
// that keys added there never collide with it.
const opHasAttachment op = 200

// HasAttachment reports whether a message carries an attachment: a part
// a reader would download rather than read. Those are the leaves of the
// top-level multipart tree (an attached message counts as one leaf) with
// an attachment disposition or a file name, and every leaf that is not
// text/plain or text/html (an image, a PDF, a calendar invitation, a
// forwarded message). A message that is not multipart has one when its
// body is not text. The webmail shows the paperclip by this same rule, so
// has:attachment finds exactly the messages listed with one.
func HasAttachment(m *mime.Message) bool {
	if m == nil || m.Root == nil {
		return false
	}
	root := m.Root
	if root.Type != "multipart" {
		return root.Type != "text"
	}
	return anyAttachment(root, 0)
}

// anyAttachment walks multipart children only: what an attached message
// contains is not an attachment of this one. depth bounds the recursion
// (the scanner bounds nesting too; this guards a structure from
// elsewhere).
func anyAttachment(p *mime.Part, depth int) bool {
	if depth > maxDepth {
		return false
	}
	for _, c := range p.Parts {
		if c.Type == "multipart" {
			if anyAttachment(c, depth+1) {
				return true
			}
			continue
		}
		isText := c.Type == "text" && (c.Subtype == "plain" || c.Subtype == "html")
		if !isText || c.Disposition == "attachment" || c.Filename != "" {
			return true
		}
	}
	return false
}

// hasAttachment answers opHasAttachment from the recorded structure: the
// message's bytes are not read.
func (st *matchState) hasAttachment() (bool, error) {
	s, err := st.loadStructure()
	if s == nil || err != nil {
		return false, err
	}
	return HasAttachment(s), nil
}
