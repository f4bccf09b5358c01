package wire

import (
	"strings"

	"mailroom/internal/connbuf"
)

// ParseSection parses a section-spec given as text, as an IMAP URL's
// ";SECTION=" carries it (RFC 5092 enc-section, percent-decoded): "1.2",
// "HEADER", "1.MIME", "HEADER.FIELDS (From To)". The empty string is the
// whole message. The result does not alias any buffer.
func ParseSection(s string) (*Section, error) {
	if s == "" {
		return &Section{}, nil
	}
	if len(s) > 1024 || strings.ContainsAny(s, "[]\r\n{") {
		return nil, syntaxErr(0, "invalid section %s", clip(s))
	}
	d := NewDecoder(connbuf.NewReader(strings.NewReader("["+s+"]\r\n")), Limits{}, nil)
	d.inCmd = true
	sec, err := d.section(false)
	if err != nil {
		return nil, err
	}
	if d.peekByte() != 0 {
		return nil, syntaxErr(d.pos, "invalid section %s", clip(s))
	}
	out := *sec
	out.Part = append([]int(nil), sec.Part...)
	out.Fields = append([]string(nil), sec.Fields...)
	return &out, nil
}
