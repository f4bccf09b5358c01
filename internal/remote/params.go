package remote

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// envelope is the message's envelope as it goes on the wire.
type envelope struct {
	from  string
	rcpts []string // by recipient index
	utf8  bool     // SMTPUTF8 is needed
}

// newEnvelope prepares m's addresses. An address whose local part is ASCII
// can travel without SMTPUTF8 by writing its domain as an A-label; that is
// not a downgrade, since the domain is the same one (RFC 6530 section 7.1).
// Only a non-ASCII local part, or the message itself, needs SMTPUTF8.
func newEnvelope(m Message) envelope {
	env := envelope{utf8: m.UTF8, rcpts: make([]string, len(m.Recipients))}
	from, ok := asciiAddr(m.From)
	env.utf8 = env.utf8 || !ok
	env.from = from
	for i, r := range m.Recipients {
		a, ok := asciiAddr(r.Addr)
		env.utf8 = env.utf8 || !ok
		env.rcpts[i] = a
	}
	if env.utf8 {
		// The server speaks SMTPUTF8 then: send what we were given.
		env.from = m.From
		for i, r := range m.Recipients {
			env.rcpts[i] = r.Addr
		}
	}
	return env
}

// asciiAddr returns addr with an ASCII domain, and whether all of it is
// ASCII now.
func asciiAddr(addr string) (string, bool) {
	if isASCII(addr) {
		return addr, true
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || !isASCII(addr[:at]) {
		return addr, false
	}
	d, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil {
		return addr, false
	}
	return addr[:at+1] + d, true
}

// mailCommand is the MAIL command for m, with the parameters the server
// announced support for. The caller has checked that the server can take
// the message (8BITMIME, SMTPUTF8, SIZE).
func mailCommand(c *conn, m Message, env envelope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MAIL FROM:<%s>", env.from)
	if m.EightBit {
		b.WriteString(" BODY=8BITMIME") // RFC 6152
	}
	if env.utf8 {
		b.WriteString(" SMTPUTF8") // RFC 6531
	}
	if c.has("SIZE") && m.Size > 0 {
		b.WriteString(" SIZE=" + strconv.FormatInt(m.Size, 10)) // RFC 1870
	}
	if c.has("DSN") { // RFC 3461 section 4.3, 4.4
		switch ret := strings.ToUpper(m.Ret); ret {
		case "FULL", "HDRS":
			b.WriteString(" RET=" + ret)
		}
		if m.EnvID != "" && isPrintableASCII(m.EnvID) && len(m.EnvID) <= 100 {
			b.WriteString(" ENVID=" + xtext(m.EnvID))
		}
	}
	return b.String()
}

// rcptCommand is the RCPT command for r, sent as addr.
func rcptCommand(c *conn, r Rcpt, addr string, utf8 bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "RCPT TO:<%s>", addr)
	if !c.has("DSN") {
		return b.String()
	}
	if n := notifyParam(r.Notify); n != "" {
		b.WriteString(" NOTIFY=" + n)
	}
	if o := orcptParam(r.ORcpt, utf8); o != "" {
		b.WriteString(" ORCPT=" + o)
	}
	return b.String()
}

// notifyParam is the NOTIFY value (RFC 3461 section 4.1): NEVER alone, or
// a list of SUCCESS, FAILURE and DELAY. Invalid input gives "", leaving the
// server's default, rather than a syntax error that would fail the RCPT.
func notifyParam(vals []string) string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vals {
		v = strings.ToUpper(strings.TrimSpace(v))
		switch v {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return ""
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if seen["NEVER"] && len(out) > 1 {
		return ""
	}
	return strings.Join(out, ",")
}

// orcptParam encodes an ORCPT given as "addr-type;address" (RFC 3461
// section 4.2). A non-ASCII address must be of type utf-8 (RFC 6533
// section 3); its value is utf-8-addr-unitext when the transaction uses
// SMTPUTF8 and the all-ASCII utf-8-addr-xtext otherwise. Unusable values
// give "": ORCPT is informational, not worth failing the recipient over.
func orcptParam(orcpt string, utf8 bool) string {
	typ, addr, ok := strings.Cut(orcpt, ";")
	if !ok {
		typ, addr = "rfc822", orcpt
	}
	typ = strings.TrimSpace(typ)
	if addr == "" || typ == "" || !isAtom(typ) {
		return ""
	}
	var enc string
	switch {
	case strings.EqualFold(typ, "utf-8") || (strings.EqualFold(typ, "rfc822") && !isASCII(addr)):
		typ = "utf-8"
		if utf8 {
			enc = utf8AddrUnitext(addr)
		} else {
			enc = utf8AddrXtext(addr)
		}
	case isPrintableASCII(addr):
		enc = xtext(addr)
	default:
		return ""
	}
	if len(typ)+1+len(enc) > 500 {
		return ""
	}
	return typ + ";" + enc
}

// xtext encodes s (RFC 3461 section 4): "+", "=" and characters outside
// "!" to "~" become "+" and two upper-case hex digits.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '!' && c <= '~' && c != '+' && c != '=' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "+%02X", c)
		}
	}
	return b.String()
}

// utf8AddrXtext encodes s as utf-8-addr-xtext (RFC 6533 section 3): like
// xtext, but escapes are "\x{HEX}" of the Unicode code point.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\x{%X}`, r)
		}
	}
	return b.String()
}

// utf8AddrUnitext encodes s as utf-8-addr-unitext (RFC 6533 section 3):
// non-ASCII characters stay as they are, ASCII is escaped as in
// utf8AddrXtext.
func utf8AddrUnitext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x7f || (r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\') {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\x{%X}`, r)
		}
	}
	return b.String()
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// isAtom reports whether s is an RFC 5321 atom, as an addr-type must be.
func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || strings.IndexByte(`()<>[]:;@\,."`, c) >= 0 {
			return false
		}
	}
	return s != ""
}
