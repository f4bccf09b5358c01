package wire

import (
	"errors"
	"fmt"
	"strings"
)

// The METADATA commands (RFC 5464 5):
//
//	getmetadata         = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
//	getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
//	maxsize-opt         = "MAXSIZE" SP number
//	scope-opt           = "DEPTH" SP ("0" / "1" / "infinity")
//	entries             = entry / "(" entry *(SP entry) ")"
//	setmetadata         = "SETMETADATA" SP mailbox SP entry-values
//	entry-values        = "(" entry-value *(SP entry-value) ")"
//	entry-value         = entry SP value
//	entry               = astring
//	value               = nstring / literal8
//
// The mailbox "" is the server. Entry names are checked here (RFC 5464
// 3.2: an invalid one is BAD) and returned as sent; they are
// case-insensitive, which is the caller's to apply.

// Depth is GETMETADATA's DEPTH option.
type Depth int

// The DEPTH values (RFC 5464 4.2.2).
const (
	Depth0        Depth = 0
	Depth1        Depth = 1
	DepthInfinity Depth = -1
)

// GetMetadata is GETMETADATA's arguments.
type GetMetadata struct {
	Mailbox string
	Entries []string
	MaxSize int64 // the MAXSIZE option; -1 without one
	Depth   Depth
}

// MetadataValue is one entry of SETMETADATA: Value nil is NIL (delete the
// entry); "" is an empty value.
type MetadataValue struct {
	Name  string
	Value []byte
}

// SetMetadata is SETMETADATA's arguments.
type SetMetadata struct {
	Mailbox string
	Entries []MetadataValue
}

// SetMetadataLimits bound what ReadSetMetadata holds in memory.
type SetMetadataLimits struct {
	// MaxEntries is how many entries one command may set; past it the
	// reader stops with a *TooManyEntriesError.
	MaxEntries int
	// MaxValue bounds one literal value, MaxTotal all of them: a
	// literal past either is refused before it is read
	// (*LiteralTooLargeError, Max the most it could have been). Quoted
	// values are bounded by the command line's limit.
	MaxValue, MaxTotal int64
}

// TooManyEntriesError is a SETMETADATA with more entries than
// SetMetadataLimits.MaxEntries. The rest of the command is unread:
// DiscardLine skips it.
type TooManyEntriesError struct{ Max int }

func (e *TooManyEntriesError) Error() string {
	return fmt.Sprintf("more than %d annotations in one command", e.Max)
}

// TotalTooLargeError is a SETMETADATA whose values together are more than
// SetMetadataLimits.MaxTotal octets: the reader stops at the value that
// crosses it (a literal is refused before it is sent).
type TotalTooLargeError struct{ Max int64 }

func (e *TotalTooLargeError) Error() string {
	return fmt.Sprintf("the values of one SETMETADATA may be at most %d octets together", e.Max)
}

// maxEntryName bounds an entry name as read (a literal is refused before
// it is sent); the store's limit (store.MaxMetadataName) is lower and
// gives the precise refusal. maxGetEntries bounds the names of one
// GETMETADATA, so that one command holds little memory.
const (
	maxEntryName  = 1024
	maxGetEntries = 1000
)

// CheckEntryName checks an entry name against RFC 5464 3.2: its first
// component is "private" or "shared" (any case), it has no "*", "%",
// control or non-ASCII character (the RFC forbids 0x00-0x19; DEL and the
// other controls go too), no empty component and no trailing "/". To
// set an entry (set), it also needs two components at least, and four
// under a vendor prefix (/shared/vendor/<vendor-token>/...); a
// GETMETADATA may ask for the roots above entries (/private, /shared).
func CheckEntryName(name string, set bool) error {
	bad := func(why string) error { return fmt.Errorf("invalid entry name %q: %s", clip(name), why) }
	if !strings.HasPrefix(name, "/") {
		return bad(`it must start with "/private" or "/shared"`)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c < 0x20 || c >= 0x7f:
			return bad("control or non-ASCII character")
		case c == '*' || c == '%':
			return bad(`"*" and "%" are not allowed`)
		}
	}
	if strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return bad(`empty component ("//" or a trailing "/")`)
	}
	parts := strings.Split(name[1:], "/")
	if !strings.EqualFold(parts[0], "private") && !strings.EqualFold(parts[0], "shared") {
		return bad(`it must start with "/private" or "/shared"`)
	}
	if !set {
		return nil
	}
	if len(parts) < 2 {
		return bad("an entry needs a name below /private or /shared")
	}
	if strings.EqualFold(parts[1], "vendor") && len(parts) < 4 {
		return bad("a vendor entry is /private/vendor/<vendor-token>/<name> or /shared/vendor/<vendor-token>/<name>")
	}
	return nil
}

// entryName reads one entry name and checks it.
func (d *Decoder) entryName(set bool) (string, error) {
	if err := d.fill(); err != nil {
		return "", err
	}
	start := d.pos
	var name string
	if d.pos < len(d.line) && d.line[d.pos] == '{' {
		b, err := d.inlineLiteralMax(false, maxEntryName)
		var tooBig *LiteralTooLargeError
		if errors.As(err, &tooBig) {
			// A name, not a value: BAD, not SETMETADATA's MAXSIZE. The
			// literal was refused before it was sent (or is drained).
			return "", syntaxErr(start, "an entry name is at most %d octets, not %d", maxEntryName, tooBig.Size)
		}
		if err != nil {
			return "", err
		}
		name = string(b)
	} else {
		var err error
		if name, err = d.ReadAString(); err != nil {
			return "", err
		}
		if len(name) > maxEntryName {
			return "", syntaxErr(start, "an entry name is at most %d octets, not %d", maxEntryName, len(name))
		}
	}
	if d.pos < len(d.line) && (d.line[d.pos] == '*' || d.line[d.pos] == '%') {
		// Not ASTRING-CHARs, so the atom stopped short of them.
		return "", syntaxErr(d.pos, `invalid entry name: "*" and "%%" are not allowed`)
	}
	if err := CheckEntryName(name, set); err != nil {
		return "", syntaxErr(start, "%v", err)
	}
	return name, nil
}

// ReadGetMetadata reads GETMETADATA's arguments. The options may come
// before the mailbox, as the RFC's syntax has them, or after it, as its
// examples (4.2.1, 4.2.2) and clients that followed them do.
func (d *Decoder) ReadGetMetadata() (GetMetadata, error) {
	g := GetMetadata{MaxSize: -1}
	if err := d.ExpectSP(); err != nil {
		return g, err
	}
	seen := false
	if c, err := d.Peek(); err != nil {
		return g, err
	} else if c == '(' {
		if err := d.metadataOptions(&g); err != nil {
			return g, err
		}
		seen = true
		if err := d.ExpectSP(); err != nil {
			return g, err
		}
	}
	var err error
	if g.Mailbox, err = d.ReadMailbox(); err != nil {
		return g, err
	}
	if err := d.ExpectSP(); err != nil {
		return g, err
	}
	// Options after the mailbox: a list whose first item is a word
	// (entries start with "/", or are quoted or literals).
	if c, _ := d.Peek(); c == '(' && !seen && d.pos+1 < len(d.line) && isAlpha(d.line[d.pos+1]) {
		if err := d.metadataOptions(&g); err != nil {
			return g, err
		}
		if err := d.ExpectSP(); err != nil {
			return g, err
		}
	}
	if c, err := d.Peek(); err != nil {
		return g, err
	} else if c != '(' {
		name, err := d.entryName(false)
		if err != nil {
			return g, err
		}
		g.Entries = []string{name}
	} else if err := d.ReadList(func() error {
		if len(g.Entries) >= maxGetEntries {
			return syntaxErr(d.pos, "more than %d entry names in one GETMETADATA", maxGetEntries)
		}
		name, err := d.entryName(false)
		g.Entries = append(g.Entries, name)
		return err
	}); err != nil {
		return g, err
	}
	if len(g.Entries) == 0 {
		return g, syntaxErr(d.pos, "GETMETADATA needs at least one entry")
	}
	return g, d.ExpectCRLF()
}

// metadataOptions reads getmetadata-options into g.
func (d *Decoder) metadataOptions(g *GetMetadata) error {
	var maxSize, depth bool
	err := d.ReadList(func() error {
		start := d.pos
		b, err := d.atomBytes("an option")
		if err != nil {
			return err
		}
		switch {
		case equalFoldASCII(b, "MAXSIZE") && !maxSize:
			maxSize = true
			if err := d.ExpectSP(); err != nil {
				return err
			}
			n, err := d.ReadNumber()
			g.MaxSize = int64(n)
			return err
		case equalFoldASCII(b, "DEPTH") && !depth:
			depth = true
			if err := d.ExpectSP(); err != nil {
				return err
			}
			at := d.pos
			v, err := d.atomBytes("0, 1 or infinity")
			switch {
			case err != nil:
				return err
			case string(v) == "0":
				g.Depth = Depth0
			case string(v) == "1":
				g.Depth = Depth1
			case equalFoldASCII(v, "INFINITY"):
				g.Depth = DepthInfinity
			default:
				return syntaxErr(at, "DEPTH is 0, 1 or infinity, not %s", clip(v))
			}
			return nil
		case equalFoldASCII(b, "MAXSIZE"), equalFoldASCII(b, "DEPTH"):
			return syntaxErr(start, "option %s given twice", clip(b))
		}
		return syntaxErr(start, "unknown GETMETADATA option %s", clip(b))
	})
	if err == nil && !maxSize && !depth {
		return syntaxErr(d.pos, "empty GETMETADATA options")
	}
	return err
}

// ReadSetMetadata reads SETMETADATA's arguments, holding no more than lim
// allows.
func (d *Decoder) ReadSetMetadata(lim SetMetadataLimits) (SetMetadata, error) {
	var s SetMetadata
	var err error
	if s.Mailbox, err = d.spMailbox(); err != nil {
		return s, err
	}
	if err := d.ExpectSP(); err != nil {
		return s, err
	}
	total := int64(0)
	err = d.ReadList(func() error {
		if len(s.Entries) >= lim.MaxEntries {
			return &TooManyEntriesError{Max: lim.MaxEntries}
		}
		name, err := d.entryName(true)
		if err != nil {
			return err
		}
		if err := d.ExpectSP(); err != nil {
			return err
		}
		left := max(0, lim.MaxTotal-total)
		v, err := d.metadataValue(min(lim.MaxValue, left))
		var tooBig *LiteralTooLargeError
		if errors.As(err, &tooBig) && tooBig.Max < lim.MaxValue && tooBig.Size <= lim.MaxValue {
			// Not too large for a value: the command's total ran out.
			return &TotalTooLargeError{Max: lim.MaxTotal}
		}
		if err != nil {
			return err
		}
		if total += int64(len(v)); total > lim.MaxTotal {
			return &TotalTooLargeError{Max: lim.MaxTotal} // quoted values, bounded by the line
		}
		s.Entries = append(s.Entries, MetadataValue{Name: name, Value: v})
		return nil
	})
	if err != nil {
		return s, err
	}
	if len(s.Entries) == 0 {
		return s, syntaxErr(d.pos, "SETMETADATA needs at least one entry")
	}
	return s, d.ExpectCRLF()
}

// metadataValue reads a value (nstring / literal8) into a new slice: nil
// for NIL. A literal over max octets is refused.
func (d *Decoder) metadataValue(max int64) ([]byte, error) {
	if err := d.fill(); err != nil {
		return nil, err
	}
	if d.pos < len(d.line) && (d.line[d.pos] == '{' || d.line[d.pos] == '~') {
		b, err := d.inlineLiteralMax(true, max)
		if err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	}
	b, isNil, err := d.readStr(allowNIL, "a value: a string, NIL or a literal")
	if err != nil || isNil {
		return nil, err
	}
	return append([]byte{}, b...), nil
}

// Metadata writes a METADATA response's entry-values list: each name and
// its value, quoted where it can be, else a literal, or a literal8 when
// it holds a NUL (RFC 5464 5: value = nstring / literal8).
func (e *Encoder) Metadata(entries []MetadataValue) *Encoder {
	e.BeginList()
	for i, en := range entries {
		if i > 0 {
			e.SP()
		}
		e.AString(en.Name).SP()
		switch {
		case en.Value == nil:
			e.NIL()
		case strings.IndexByte(string(en.Value), 0) >= 0:
			e.Literal8(en.Value)
		case quotable(string(en.Value), false):
			e.Quoted(string(en.Value))
		default:
			e.LiteralBytes(en.Value)
		}
	}
	return e.EndList()
}
