package delivery

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"strings"

	"mailroom/internal/store"
)

// maxHeaderRead bounds how much of a message's header forwarding and the
// vacation notice read: far more than any real header, and a message
// whose header is larger is judged on its first 64 KiB.
const maxHeaderRead = 64 << 10

// readHeader reads the header section of a staged message, tolerantly:
// a line that is not a field is skipped rather than an error, since mail
// that was accepted must still be delivered.
func readHeader(msg store.Staged) (mail.Header, error) {
	n := int64(maxHeaderRead)
	if s := msg.Structure(); s != nil && s.Root != nil {
		n = min(n, s.Root.BodyStart)
	}
	if n <= 0 {
		return mail.Header{}, nil
	}
	r, err := msg.Open()
	if err != nil {
		return nil, fmt.Errorf("delivery: read header: %w", err)
	}
	defer r.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(r, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("delivery: read header: %w", err)
	}
	return parseHeader(buf[:m]), nil
}

// parseHeader parses header fields up to the first empty line, unfolding
// continuation lines. Names are canonicalised as net/mail does.
func parseHeader(b []byte) mail.Header {
	h := mail.Header{}
	var last string // canonical name of the field a continuation line belongs to
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if vs := h[last]; last != "" && len(vs) > 0 {
				vs[len(vs)-1] = strings.TrimSpace(vs[len(vs)-1] + " " + strings.TrimSpace(string(line)))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimSpace(name)
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			last = ""
			continue
		}
		last = textproto.CanonicalMIMEHeaderKey(string(name))
		h[last] = append(h[last], strings.TrimSpace(string(value)))
	}
	return h
}

// headerAddress returns the address in a trace field such as Delivered-To,
// lower case, without angle brackets.
func headerAddress(v string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(v), "<>"))
}
