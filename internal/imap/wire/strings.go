package wire

import (
	"strings"
	"unicode/utf8"
)

// strMode selects the string forms a reader accepts besides quoted and
// literal.
type strMode uint8

const (
	allowAtom strMode = 1 << iota // astring: 1*ASTRING-CHAR
	allowNIL                      // nstring: NIL
	allowLit8                     // literal8
	allowList                     // list-mailbox: 1*list-char
)

// readStr reads one string token. The bytes alias decoder buffers and are
// valid until the next read; isNil reports NIL (allowNIL only).
//
// Quoted strings may carry UTF-8 (RFC 9051 QUOTED-CHAR, RFC 6855) but no
// other 8-bit octets, no NUL and no CR: anything else needs a literal.
func (d *Decoder) readStr(mode strMode, what string) (b []byte, isNil bool, err error) {
	if err := d.fill(); err != nil {
		return nil, false, err
	}
	if d.pos >= len(d.line) {
		return nil, false, d.endErr(what)
	}
	c := d.line[d.pos]
	switch {
	case c == '"':
		b, err := d.quoted()
		return b, false, err
	case c == '{', c == '~' && d.pos+1 < len(d.line) && d.line[d.pos+1] == '{':
		b, err := d.inlineLiteral(mode&allowLit8 != 0)
		return b, false, err
	}
	if mode&allowNIL != 0 && d.isNIL() {
		d.pos += 3
		return nil, true, nil
	}
	if mode&(allowAtom|allowList) == 0 {
		return nil, false, d.unexpected(what)
	}
	start := d.pos
	for d.pos < len(d.line) {
		c := d.line[d.pos]
		if !isAStringChar(c) && (mode&allowList == 0 || !isListChar(c)) {
			break
		}
		d.pos++
	}
	if d.pos == start {
		return nil, false, d.unexpected(what)
	}
	if err := d.truncErr(); err != nil {
		return nil, false, err
	}
	return d.line[start:d.pos], false, nil
}

// isNIL reports whether the atom NIL (any case) is next.
func (d *Decoder) isNIL() bool {
	rest := d.line[d.pos:]
	if len(rest) < 3 || !equalFoldASCII(rest[:3], "NIL") {
		return false
	}
	return len(rest) == 3 && !d.truncated || len(rest) > 3 && !isAStringChar(rest[3])
}

// quoted reads a quoted string at d.pos, unescaping \" and \\.
func (d *Decoder) quoted() ([]byte, error) {
	line := d.line
	start := d.pos
	p := start + 1
	escaped, high := false, false
	for ; p < len(line); p++ {
		c := line[p]
		if c == '"' {
			break
		}
		switch {
		case c == '\\':
			escaped = true
			p++
			if p < len(line) && line[p] != '"' && line[p] != '\\' {
				return nil, syntaxErr(p, `invalid escape in quoted string (only \" and \\ are allowed)`)
			}
		case c == 0:
			return nil, syntaxErr(p, "NUL octet in quoted string")
		case c == '\r':
			return nil, syntaxErr(p, "CR in quoted string")
		case c >= 0x80:
			high = true
		}
	}
	if p >= len(line) {
		d.pos = len(line)
		if err := d.truncErr(); err != nil {
			return nil, err
		}
		return nil, syntaxErr(start, "unterminated quoted string")
	}
	body := line[start+1 : p]
	d.pos = p + 1
	if escaped {
		d.str = d.str[:0]
		for i := 0; i < len(body); i++ {
			if body[i] == '\\' {
				i++
			}
			d.str = append(d.str, body[i])
		}
		body = d.str
	}
	if high && !utf8.Valid(body) {
		return nil, syntaxErr(start, "quoted string is not valid UTF-8 (use a literal)")
	}
	return body, nil
}

// ReadAString reads an astring: atom (ASTRING-CHARs), quoted string or
// literal. A literal8 is refused: use ReadString8 where one is allowed.
func (d *Decoder) ReadAString() (string, error) {
	b, _, err := d.readStr(allowAtom, "a string")
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadString reads a string: quoted or literal.
func (d *Decoder) ReadString() (string, error) {
	b, _, err := d.readStr(0, "a quoted string or literal")
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadString8 reads a string that may also be a literal8 (~{n}, RFC
// 3516), into memory (at most MaxInlineLiteral octets); binary content,
// NUL included, comes back as it was sent.
func (d *Decoder) ReadString8() (string, error) {
	b, _, err := d.readStr(allowLit8, "a quoted string or literal")
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadNString reads an nstring: NIL (ok false) or a string.
func (d *Decoder) ReadNString() (s string, ok bool, err error) {
	b, isNil, err := d.readStr(allowNIL, "a string or NIL")
	if err != nil || isNil {
		return "", false, err
	}
	return string(b), true, nil
}

// ReadMailbox reads a mailbox name (astring). "INBOX" in any case is
// returned as "INBOX" (RFC 9051 section 5.1); other names are returned as
// sent, so the caller decodes modified UTF-7 (DecodeMUTF7) unless the
// client enabled UTF8=ACCEPT. Only the name INBOX itself is
// case-insensitive, not "inbox/child" (RFC 9051 leaves that to the server).
func (d *Decoder) ReadMailbox() (string, error) {
	b, _, err := d.readStr(allowAtom, "a mailbox name")
	if err != nil {
		return "", err
	}
	if equalFoldASCII(b, "INBOX") {
		return "INBOX", nil
	}
	return string(b), nil
}

// ReadListMailbox reads a LIST/LSUB pattern: list-mailbox = 1*list-char /
// string, that is an astring whose atom form may also hold the wildcards
// "%" and "*".
func (d *Decoder) ReadListMailbox() (string, error) {
	b, _, err := d.readStr(allowList, "a mailbox pattern")
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadFlag reads one flag: a system flag or flag-extension ("\" atom) or a
// keyword (atom). System flags are returned in their canonical spelling
// ("\seen" becomes "\Seen"), since flags are case-insensitive; other flags
// are returned as sent. "\*" is refused: it only appears in server
// responses.
func (d *Decoder) ReadFlag() (string, error) {
	if err := d.fill(); err != nil {
		return "", err
	}
	if d.pos < len(d.line) && d.line[d.pos] == '\\' {
		start := d.pos
		d.pos++
		b, err := d.atomBytes("a flag name after \\")
		if err != nil {
			return "", err
		}
		if s := systemFlag(b); s != "" {
			return s, nil
		}
		return string(d.line[start:d.pos]), nil
	}
	b, err := d.atomBytes("a flag")
	if err != nil {
		return "", err
	}
	return internKeyword(b), nil
}

// ReadFlagList reads a parenthesised flag list "(" [flag *(SP flag)] ")".
// The slice lives in the command arena (valid until the next ReadTag).
func (d *Decoder) ReadFlagList() ([]string, error) {
	start := len(d.arena.strs)
	err := d.ReadList(func() error {
		f, err := d.ReadFlag()
		if err != nil {
			return err
		}
		d.arena.strs = append(d.arena.strs, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.arena.strs[start:len(d.arena.strs):len(d.arena.strs)], nil
}

// systemFlag returns the canonical spelling of a system flag name (without
// its backslash), or "".
func systemFlag(name []byte) string {
	var buf [8]byte
	u, ok := upperInto(buf[:], name)
	if !ok {
		return ""
	}
	switch string(u) {
	case "ANSWERED":
		return `\Answered`
	case "FLAGGED":
		return `\Flagged`
	case "DELETED":
		return `\Deleted`
	case "SEEN":
		return `\Seen`
	case "DRAFT":
		return `\Draft`
	case "RECENT":
		return `\Recent`
	}
	return ""
}

// CanonicalFlag returns the canonical spelling of a flag as ReadFlag would.
func CanonicalFlag(f string) string {
	if strings.HasPrefix(f, `\`) {
		if s := systemFlag([]byte(f[1:])); s != "" {
			return s
		}
	}
	return f
}
