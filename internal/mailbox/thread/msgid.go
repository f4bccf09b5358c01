package thread

import "mailroom/internal/mime"

// maxRefs bounds the message ids taken from one References field: the
// last ones, the nearest ancestors, are kept. RFC 5322 section 3.6.4 lets
// writers trim the middle of long fields the same way, and it keeps a
// hostile field from making threading cost more than its size suggests.
const maxRefs = 500

// MsgIDs appends the message ids of a Message-ID, In-Reply-To or
// References field to dst (mime.MessageIDs: normalised, junk skipped) and
// returns it. At most maxRefs ids are kept: the last ones.
func MsgIDs(dst []string, v string) []string {
	start := len(dst)
	for id := range mime.MessageIDs(v) {
		dst = append(dst, id)
		if len(dst)-start >= 2*maxRefs {
			// Keep the last maxRefs so far: bounded memory on a huge field.
			copy(dst[start:], dst[len(dst)-maxRefs:])
			dst = dst[:start+maxRefs]
		}
	}
	if n := len(dst) - start; n > maxRefs {
		copy(dst[start:], dst[len(dst)-maxRefs:])
		dst = dst[:start+maxRefs]
	}
	return dst
}

// FirstMsgID returns the first valid message id of a field, or "".
func FirstMsgID(v string) string {
	for id := range mime.MessageIDs(v) {
		return id
	}
	return ""
}
