// Package imapurl parses IMAP URLs (RFC 5092) naming a message or a part
// of one, with the URLAUTH components of RFC 4467, and prints them in a
// canonical form. It is the grammar only: whether the mailbox exists or
// the URL authorizes anything is the caller's business.
//
// Only the forms CATENATE (RFC 4469) and URLAUTH use are accepted:
//
//	imapurl      = "imap://" iserver "/" [imessagepart [iurlauth]]
//	relative     = "/" imessagepart [iurlauth]      ; absolute path, this server
//	             / iuid-only [isection] [ipartial]  ; ";UID=n": the selected mailbox
//	imessagepart = enc-mailbox [";UIDVALIDITY=" nz-number]
//	               "/;UID=" nz-number ["/;SECTION=" enc-section]
//	               ["/;PARTIAL=" number ["." nz-number]]
//	iurlauth     = [";EXPIRE=" date-time] ";URLAUTH=" access
//	               [":" mechanism ":" 32*HEXDIG]
//	access       = "submit+" enc-user / "user+" enc-user / "authuser" / "anonymous"
//
// A mailbox alone (imailbox-ref, for GENURLAUTH rumps RFC 4467 forbids
// anyway) and search URLs (imessagelist) are refused.
package imapurl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxLen bounds the URLs Parse accepts; a longer one is an error. IMAP
// lines are bounded anyway; this keeps the canonical form bounded too.
const MaxLen = 8 << 10

// URL is a parsed IMAP URL naming a message or a part of one.
type URL struct {
	// Server is false for a relative URL (no "imap://" and server).
	Server bool
	User   string // decoded enc-user, "" when absent
	Auth   string // ";AUTH=" value ("*" for any), "" when absent
	Host   string // as written (lower-cased), with "[...]" for IPv6
	Port   int    // 0 when absent

	// Mailbox is the decoded (UTF-8) mailbox name; "" for the relative
	// form ";UID=n", which names a message of the selected mailbox.
	Mailbox     string
	UIDValidity uint32 // 0 when absent
	UID         uint32
	Section     string // decoded, "" for the whole message
	Partial     *Partial

	Expire time.Time // zero when absent
	// Access is the URLAUTH access identifier ("anonymous", "authuser",
	// "user+NAME", "submit+NAME"), "" without ";URLAUTH=".
	Access    string
	Mechanism string // upper-cased, "" when the URL is a rump
	Token     string // lower-cased hex, "" when the URL is a rump

	// Rump is the text of the URL up to and including the access
	// identifier, exactly as given: what a URLAUTH verifier is computed
	// over (RFC 4467 section 3). "" without ";URLAUTH=".
	Rump string
}

// Partial is ";PARTIAL=offset[.length]".
type Partial struct {
	Offset uint64
	Length uint64 // 0: to the end
}

// Error is a URL that does not parse.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("imapurl: %s (at offset %d)", e.Msg, e.Pos) }

func errAt(pos int, format string, args ...any) error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// ErrTooLong is returned for URLs over MaxLen octets.
var ErrTooLong = errors.New("imapurl: URL too long")

// AccessUser returns the user an access identifier names ("fred" for
// "user+fred" and "submit+fred") and its kind ("user", "submit",
// "authuser", "anonymous").
func (u *URL) AccessUser() (kind, user string) {
	if k, name, ok := strings.Cut(u.Access, "+"); ok {
		return strings.ToLower(k), name
	}
	return strings.ToLower(u.Access), ""
}

// Parse parses an absolute or relative IMAP URL.
func Parse(s string) (*URL, error) {
	if len(s) > MaxLen {
		return nil, ErrTooLong
	}
	u := &URL{}
	pos := 0
	const scheme = "imap://"
	switch {
	case len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme):
		u.Server = true
		pos = len(scheme)
		end := strings.IndexByte(s[pos:], '/')
		if end < 0 {
			return nil, errAt(len(s), `expected "/" after the server`)
		}
		if err := u.parseServer(s[pos:pos+end], pos); err != nil {
			return nil, err
		}
		pos += end + 1
	case strings.HasPrefix(s, "/"):
		pos = 1
	case len(s) > 0 && s[0] == ';':
		// ";UID=n...": relative to the selected mailbox.
	default:
		return nil, errAt(0, `expected "imap://", "/" or ";UID="`)
	}
	if err := u.parsePath(s, pos); err != nil {
		return nil, err
	}
	return u, nil
}

// parseServer parses iserver = [iuserinfo "@"] host [":" port].
func (u *URL) parseServer(s string, base int) error {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		info := s[:at]
		s = s[at+1:]
		user := info
		if i := indexFold(info, ";AUTH="); i >= 0 {
			user = info[:i]
			u.Auth = info[i+len(";AUTH="):]
			if u.Auth == "" || (u.Auth != "*" && !allChars(u.Auth, isAChar)) {
				return errAt(base+i, "bad ;AUTH= value")
			}
		}
		dec, err := decode(user, isAChar, base)
		if err != nil {
			return err
		}
		if user != "" && dec == "" {
			return errAt(base, "empty user name")
		}
		u.User = dec
		base += at + 1
	}
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return errAt(base, `unterminated "[" in the host`)
		}
		host = s[:end+1]
		s = s[end+1:]
		if s != "" && s[0] != ':' {
			return errAt(base+end+1, `expected ":" or "/" after the host`)
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host = s[:i]
		s = s[i:]
	} else {
		s = ""
	}
	if host == "" {
		return errAt(base, "empty host")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(isUnreserved(c) || c == '[' || c == ']' || c == ':' || c == '%' || isSubDelim(c)) {
			return errAt(base+i, "bad character %q in the host", c)
		}
	}
	u.Host = strings.ToLower(host)
	if s != "" {
		p, err := strconv.ParseUint(s[1:], 10, 16)
		if err != nil || p == 0 {
			return errAt(base+len(host), "bad port")
		}
		u.Port = int(p)
	}
	return nil
}

// parsePath parses what follows the server (or the relative start) at pos.
func (u *URL) parsePath(s string, pos int) error {
	// The mailbox runs to the first ";" (bchar has no ";"); a "/" just
	// before it belongs to the next component.
	end := strings.IndexByte(s[pos:], ';')
	if end < 0 {
		return errAt(len(s), "expected ;UID=: the URL must name a message")
	}
	if q := strings.IndexByte(s[pos:], '?'); q >= 0 && q < end {
		return errAt(pos+q, "search URLs are not supported")
	}
	raw := s[pos : pos+end]
	slash := strings.HasSuffix(raw, "/")
	raw = strings.TrimSuffix(raw, "/")
	if u.Server || pos > 0 {
		if raw == "" {
			return errAt(pos, "expected a mailbox name")
		}
		mb, err := decode(raw, isBChar, pos)
		if err != nil {
			return err
		}
		u.Mailbox = mb
	} else if raw != "" || slash {
		return errAt(0, "expected ;UID=")
	}
	pos += end
	// Components in grammar order; stage is the last one seen.
	const (
		stMailbox = iota
		stValidity
		stUID
		stSection
		stPartial
		stExpire
		stAuth
	)
	stage := stMailbox
	if u.Mailbox == "" {
		stage = stValidity // ";UIDVALIDITY=" needs a mailbox
	}
	for pos < len(s) {
		// s[pos] is ';'; slash says whether "/" preceded it.
		start := pos
		next := len(s)
		if i := strings.IndexByte(s[pos+1:], ';'); i >= 0 {
			next = pos + 1 + i
		}
		comp := s[pos+1 : next]
		nextSlash := false
		if strings.HasSuffix(comp, "/") {
			comp = comp[:len(comp)-1]
			nextSlash = true
		}
		name, val, ok := strings.Cut(comp, "=")
		if !ok {
			return errAt(start, `expected "name=value" after ";"`)
		}
		want := func(st int, needSlash bool) error {
			if stage >= st {
				return errAt(start, ";%s= is out of place", strings.ToUpper(name))
			}
			if needSlash != slash {
				if needSlash {
					return errAt(start, `";%s=" must follow "/"`, strings.ToUpper(name))
				}
				return errAt(start, `";%s=" must not follow "/"`, strings.ToUpper(name))
			}
			stage = st
			return nil
		}
		var err error
		switch strings.ToUpper(name) {
		case "UIDVALIDITY":
			if err = want(stValidity, false); err == nil {
				u.UIDValidity, err = nzNumber(val, start)
			}
		case "UID":
			// The relative ";UID=" form has no "/" before it.
			if err = want(stUID, u.Server || u.Mailbox != ""); err == nil {
				u.UID, err = nzNumber(val, start)
			}
		case "SECTION":
			if stage < stUID {
				return errAt(start, ";SECTION= needs ;UID=")
			}
			if err = want(stSection, true); err == nil {
				if u.Section, err = decode(val, isBChar, start); err == nil && u.Section == "" {
					err = errAt(start, "empty ;SECTION=")
				}
			}
		case "PARTIAL":
			if stage < stUID {
				return errAt(start, ";PARTIAL= needs ;UID=")
			}
			if err = want(stPartial, true); err == nil {
				u.Partial, err = parsePartial(val, start)
			}
		case "EXPIRE":
			if stage < stUID {
				return errAt(start, ";EXPIRE= needs ;UID=")
			}
			if err = want(stExpire, false); err == nil {
				u.Expire, err = time.Parse(time.RFC3339Nano, strings.ToUpper(val))
				if err != nil {
					err = errAt(start, "bad ;EXPIRE= date-time")
				}
			}
		case "URLAUTH":
			if stage < stUID {
				return errAt(start, ";URLAUTH= needs ;UID=")
			}
			if err = want(stAuth, false); err == nil {
				err = u.parseURLAuth(s, start, val)
			}
		default:
			return errAt(start, "unknown component ;%s=", clip(name))
		}
		if err != nil {
			return err
		}
		pos = next
		slash = nextSlash
	}
	if stage < stUID {
		return errAt(len(s), "expected ;UID=: the URL must name a message")
	}
	if slash {
		return errAt(len(s), `unexpected "/" at the end`)
	}
	if !u.Expire.IsZero() && u.Access == "" {
		// expire is part of iurlauth-rump: it means nothing alone.
		return errAt(len(s), ";EXPIRE= needs ;URLAUTH=")
	}
	return nil
}

// parseURLAuth parses the value of ";URLAUTH=" at start (the ";").
func (u *URL) parseURLAuth(s string, start int, val string) error {
	access, verifier, hasVerifier := strings.Cut(val, ":")
	kind, name, plus := strings.Cut(access, "+")
	switch {
	case plus && (strings.EqualFold(kind, "user") || strings.EqualFold(kind, "submit")):
		// "@" is not an achar, but clients (and imaptest) send user
		// names with domains unencoded here, and after the authority it
		// is unambiguous: accepted, and encoded in the canonical form.
		dec, err := decode(name, func(c byte) bool { return isAChar(c) || c == '@' }, start)
		if err != nil {
			return err
		}
		if dec == "" {
			return errAt(start, "empty user in the access identifier")
		}
		u.Access = strings.ToLower(kind) + "+" + dec
	case !plus && (strings.EqualFold(access, "authuser") || strings.EqualFold(access, "anonymous")):
		u.Access = strings.ToLower(access)
	default:
		return errAt(start, "unknown URLAUTH access identifier %s", clip(access))
	}
	u.Rump = s[:start+len(";URLAUTH=")+len(access)]
	if !hasVerifier {
		return nil
	}
	mech, token, ok := strings.Cut(verifier, ":")
	if !ok || mech == "" || !allChars(mech, isMechChar) {
		return errAt(start, "bad URLAUTH mechanism")
	}
	if len(token) < 32 || !allChars(token, isHex) {
		return errAt(start, "bad URLAUTH token (32 or more hex digits)")
	}
	u.Mechanism = strings.ToUpper(mech)
	u.Token = strings.ToLower(token)
	return nil
}

func parsePartial(val string, pos int) (*Partial, error) {
	off, length, hasLen := strings.Cut(val, ".")
	o, err := strconv.ParseUint(off, 10, 32)
	if err != nil || !allChars(off, isDigit) {
		return nil, errAt(pos, "bad ;PARTIAL= offset")
	}
	p := &Partial{Offset: o}
	if hasLen {
		l, err := strconv.ParseUint(length, 10, 32)
		if err != nil || l == 0 || !allChars(length, isDigit) {
			return nil, errAt(pos, "bad ;PARTIAL= length")
		}
		p.Length = l
	}
	return p, nil
}

func nzNumber(val string, pos int) (uint32, error) {
	n, err := strconv.ParseUint(val, 10, 32)
	if err != nil || n == 0 || !allChars(val, isDigit) || val[0] == '0' {
		return 0, errAt(pos, "expected a non-zero number")
	}
	return uint32(n), nil
}

// String returns the canonical form: upper-case component names, the
// mailbox, user and section percent-encoded where RFC 5092 asks, the
// verifier's mechanism upper-case and token lower-case. A relative URL
// stays relative.
func (u *URL) String() string {
	var b strings.Builder
	if u.Server {
		b.WriteString("imap://")
		if u.User != "" || u.Auth != "" {
			b.WriteString(encode(u.User, isAChar))
			if u.Auth != "" {
				b.WriteString(";AUTH=" + u.Auth)
			}
			b.WriteByte('@')
		}
		b.WriteString(u.Host)
		if u.Port != 0 {
			b.WriteString(":" + strconv.Itoa(u.Port))
		}
		b.WriteByte('/')
	} else if u.Mailbox != "" {
		b.WriteByte('/')
	}
	if u.Mailbox != "" {
		b.WriteString(encode(u.Mailbox, isBChar))
		if u.UIDValidity != 0 {
			b.WriteString(";UIDVALIDITY=" + strconv.FormatUint(uint64(u.UIDValidity), 10))
		}
		b.WriteByte('/')
	}
	b.WriteString(";UID=" + strconv.FormatUint(uint64(u.UID), 10))
	if u.Section != "" {
		b.WriteString("/;SECTION=" + encode(u.Section, isBChar))
	}
	if u.Partial != nil {
		b.WriteString("/;PARTIAL=" + strconv.FormatUint(u.Partial.Offset, 10))
		if u.Partial.Length != 0 {
			b.WriteString("." + strconv.FormatUint(u.Partial.Length, 10))
		}
	}
	if !u.Expire.IsZero() {
		b.WriteString(";EXPIRE=" + u.Expire.Format(time.RFC3339Nano))
	}
	if u.Access != "" {
		b.WriteString(";URLAUTH=")
		if kind, name, ok := strings.Cut(u.Access, "+"); ok {
			b.WriteString(kind + "+" + encode(name, isAChar))
		} else {
			b.WriteString(u.Access)
		}
		if u.Mechanism != "" {
			b.WriteString(":" + u.Mechanism + ":" + u.Token)
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
