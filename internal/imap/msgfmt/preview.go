package msgfmt

import "mailroom/internal/mime"

// Preview returns the RFC 8970 preview of msg for FETCH PREVIEW: the text
// mime computed at delivery (UTF-8, at most 256 characters, "" when the
// message has no text part). Unlike the PREVIEW (LAZY) case, it is always
// available, so the session never needs to answer NIL.
func Preview(msg *mime.Message) string {
	if msg == nil {
		return ""
	}
	return msg.Preview
}
