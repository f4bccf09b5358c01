package msgauth

import (
	"bytes"
	"strings"

	"mailroom/internal/mime"
)

// Field is one header field of a message as it arrived: Raw is the whole
// field with its folding and final CRLF, Name its name as written, Value
// everything after the colon, unfolded (CRLFs removed, whitespace kept).
type Field struct {
	Name  string
	Value string
	Raw   string
}

// ParseHeader splits a header block (through the empty line, or without
// it) into fields. Lines that are not fields (no colon, or whitespace in
// the name) are kept as fields with an empty Name, so that rebuilding the
// block from Raw loses nothing.
func ParseHeader(hdr []byte) []Field {
	var out []Field
	for len(hdr) > 0 {
		end := 0
		for {
			i := bytes.IndexByte(hdr[end:], '\n')
			if i < 0 {
				end = len(hdr)
				break
			}
			end += i + 1
			if end >= len(hdr) || (hdr[end] != ' ' && hdr[end] != '\t') {
				break
			}
		}
		raw := string(hdr[:end])
		hdr = hdr[end:]
		if raw == "\r\n" || raw == "\n" {
			break // the empty line ending the header
		}
		f := Field{Raw: raw}
		if name, value, ok := strings.Cut(raw, ":"); ok && name != "" && !strings.ContainsAny(name, " \t\r\n") {
			f.Name = name
			f.Value = strings.NewReplacer("\r\n", "", "\n", "").Replace(value)
		}
		out = append(out, f)
	}
	return out
}

// fields returns the fields called name (case-insensitive), in order.
func fields(hdr []Field, name string) []Field {
	var out []Field
	for _, f := range hdr {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	return out
}

// AuthservID returns the authserv-id of an Authentication-Results field
// value (RFC 8601 section 2.2: the first token, after any comments), or ""
// if there is none.
func AuthservID(value string) string {
	s := mime.SkipCFWS(value)
	end := 0
	for end < len(s) {
		c := s[end]
		if c == ';' || c == '(' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		end++
	}
	id := s[:end]
	// The id may be a quoted-string (RFC 8601 value = token / quoted-string).
	if strings.HasPrefix(id, `"`) {
		if j := strings.IndexByte(s[1:], '"'); j >= 0 {
			id = strings.ReplaceAll(s[1:1+j], `\`, "")
		} else {
			return ""
		}
	}
	return id
}

// StripOwnResults removes every Authentication-Results field whose
// authserv-id is ours (RFC 8601 section 5: a header claiming to be from
// us that we did not write is forged or stale), keeping all other fields
// byte for byte. It reports how many were removed.
func StripOwnResults(hdr []byte, authservID string) ([]byte, int) {
	var out bytes.Buffer
	out.Grow(len(hdr))
	removed := 0
	rest := hdr
	for _, f := range ParseHeader(hdr) {
		rest = rest[len(f.Raw):]
		if strings.EqualFold(f.Name, "Authentication-Results") && strings.EqualFold(AuthservID(f.Value), authservID) {
			removed++
			continue
		}
		out.WriteString(f.Raw)
	}
	out.Write(rest) // the empty line and anything after it
	return out.Bytes(), removed
}
