// Package acl is the vocabulary of mailbox access control (RFC 4314):
// rights, the identifiers an access control list names, and how a user's
// rights follow from a list. It decides nothing by itself; the mailbox
// service applies it to every operation.
package acl

import (
	"errors"
	"fmt"
	"strings"
)

// Rights is a set of RFC 4314 rights.
type Rights uint16

// The standard rights (RFC 4314 2.1).
const (
	Lookup         Rights = 1 << iota // l: the mailbox is visible to LIST, SUBSCRIBE
	Read                              // r: SELECT, EXAMINE, STATUS, reading messages
	Seen                              // s: keep \Seen across sessions
	Write                             // w: set flags other than \Seen and \Deleted
	Insert                            // i: APPEND, COPY into the mailbox
	Post                              // p: send mail to the mailbox's address (not enforced by IMAP)
	Create                            // k: create child mailboxes, new parent in RENAME
	DeleteMailbox                     // x: DELETE, old name in RENAME
	DeleteMessages                    // t: set or clear \Deleted
	Expunge                           // e: EXPUNGE, expunge on CLOSE
	Admin                             // a: SETACL, DELETEACL, GETACL, LISTRIGHTS
)

// All is every right: what an owner has on their own mailboxes.
const All Rights = Lookup | Read | Seen | Write | Insert | Post | Create | DeleteMailbox | DeleteMessages | Expunge | Admin

// Common sets of rights, the presets a sharing dialog offers (with All
// for full control).
const (
	ReadOnly  Rights = Lookup | Read | Seen
	ReadWrite Rights = ReadOnly | Write | Insert | Post | DeleteMessages | Expunge
)

// Preset is a named set of rights, as the webmail's sharing form and the
// admin command offer them.
type Preset struct {
	Name   string // "read", "write", "full": what the form and the CLI take
	Label  string // what people are shown
	Rights Rights
}

// Presets are the access levels offered by name.
var Presets = []Preset{
	{"read", "Read only", ReadOnly},
	{"write", "Read and write", ReadWrite},
	{"full", "Full control", All},
}

// PresetNamed returns the preset called name (any case).
func PresetNamed(name string) (Preset, bool) {
	for _, p := range Presets {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetOf returns the preset whose rights are exactly r.
func PresetOf(r Rights) (Preset, bool) {
	for _, p := range Presets {
		if p.Rights == r {
			return p, true
		}
	}
	return Preset{}, false
}

// letters lists the rights in their canonical order ("lrswipkxtea").
var letters = []struct {
	c byte
	r Rights
}{
	{'l', Lookup}, {'r', Read}, {'s', Seen}, {'w', Write}, {'i', Insert}, {'p', Post},
	{'k', Create}, {'x', DeleteMailbox}, {'t', DeleteMessages}, {'e', Expunge}, {'a', Admin},
}

// The virtual rights of RFC 2086 (RFC 4314 2.1.1): this server counts
// "c" (create) as k alone and "d" (delete) as x, t and e.
const (
	virtualCreate = Create
	virtualDelete = DeleteMailbox | DeleteMessages | Expunge
)

// ExtraRights is what the RIGHTS= capability announces: the rights not
// defined in RFC 2086 (RFC 4314 2.2).
const ExtraRights = "texk"

// Has reports whether every right of want is in r.
func (r Rights) Has(want Rights) bool { return r&want == want }

// Letters is the rights in canonical order, without the virtual ones:
// what Parse reads back as exactly r.
func (r Rights) Letters() string {
	var b strings.Builder
	for _, l := range letters {
		if r&l.r != 0 {
			b.WriteByte(l.c)
		}
	}
	return b.String()
}

// String is the rights in canonical order, with the virtual "c" and "d"
// when any of their members is present, as MYRIGHTS and ACL responses
// must show them (RFC 4314 2.1.1).
func (r Rights) String() string {
	var b strings.Builder
	b.WriteString(r.Letters())
	if r&virtualCreate != 0 {
		b.WriteByte('c')
	}
	if r&virtualDelete != 0 {
		b.WriteByte('d')
	}
	return b.String()
}

// ErrUnknownRight is a rights string with a letter this server does not
// implement: SETACL must answer BAD, never ignore it (RFC 4314 3.1).
var ErrUnknownRight = errors.New("unknown right")

// Parse reads a rights string: lower-case letters of the standard rights
// and the virtual "c" and "d", in any order, repeats allowed. Upper-case
// letters, digits (site-defined rights; this server defines none) and
// anything else are ErrUnknownRight.
func Parse(s string) (Rights, error) {
	var r Rights
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 'c':
			r |= virtualCreate
			continue
		case 'd':
			r |= virtualDelete
			continue
		}
		found := false
		for _, l := range letters {
			if l.c == c {
				r |= l.r
				found = true
				break
			}
		}
		if !found {
			switch {
			case c >= 'A' && c <= 'Z':
				return 0, fmt.Errorf("%w: upper-case rights are not allowed (%q)", ErrUnknownRight, c)
			case c >= 0x20 && c < 0x7f:
				return 0, fmt.Errorf("%w: the %q right is not supported", ErrUnknownRight, c)
			default:
				return 0, fmt.Errorf("%w: octet 0x%02x in a rights string", ErrUnknownRight, c)
			}
		}
	}
	return r, nil
}

// Modification is how SETACL changes an identifier's rights.
type Modification int

// The modifications of SETACL's third argument (RFC 4314 3.1).
const (
	Replace Modification = iota // "lrs": these rights and no others
	Add                         // "+lrs": these in addition
	Remove                      // "-lrs": all but these
)

// ParseModification reads SETACL's rights argument: an optional "+" or
// "-" and a rights string.
func ParseModification(s string) (Modification, Rights, error) {
	mod := Replace
	switch {
	case strings.HasPrefix(s, "+"):
		mod, s = Add, s[1:]
	case strings.HasPrefix(s, "-"):
		mod, s = Remove, s[1:]
	}
	r, err := Parse(s)
	return mod, r, err
}

// Apply returns old changed by the modification.
func (m Modification) Apply(old, r Rights) Rights {
	switch m {
	case Add:
		return old | r
	case Remove:
		return old &^ r
	}
	return r
}

// Each returns every right on its own, in canonical order: what
// LISTRIGHTS offers for an identifier when no rights are tied.
func Each() []Rights {
	out := make([]Rights, len(letters))
	for i, l := range letters {
		out[i] = l.r
	}
	return out
}
