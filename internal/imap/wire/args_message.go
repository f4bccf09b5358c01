package wire

import "time"

// Fetch is FETCH's arguments (RFC 9051 6.4.5, RFC 7162 modifiers):
//
//	fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
//	        fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
//
// Set (nil when Saved, "$" of RFC 5182) and Items live in the command
// arena, valid until the next ReadTag.
type Fetch struct {
	Set       SeqSet
	Saved     bool
	Items     []FetchItem
	Modifiers FetchModifiers
}

// ReadFetch reads FETCH's (or UID FETCH's) arguments. It costs no
// allocation once the decoder is warm.
func (d *Decoder) ReadFetch() (Fetch, error) {
	var f Fetch
	var err error
	if f.Set, f.Saved, err = d.spSeqSet(); err != nil {
		return Fetch{}, err
	}
	if err = d.ExpectSP(); err != nil {
		return Fetch{}, err
	}
	if f.Items, err = d.ReadFetchItems(); err != nil {
		return Fetch{}, err
	}
	if d.SP() {
		if f.Modifiers, err = d.ReadFetchModifiers(); err != nil {
			return Fetch{}, err
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return Fetch{}, err
	}
	return f, nil
}

// spSeqSet reads SP sequence-set.
func (d *Decoder) spSeqSet() (SeqSet, bool, error) {
	if err := d.ExpectSP(); err != nil {
		return nil, false, err
	}
	return d.ReadSequenceSet()
}

// StoreOp is what STORE does with its flags.
type StoreOp uint8

const (
	StoreReplace StoreOp = iota // FLAGS
	StoreAdd                    // +FLAGS
	StoreRemove                 // -FLAGS
)

func (op StoreOp) String() string {
	switch op {
	case StoreAdd:
		return "+FLAGS"
	case StoreRemove:
		return "-FLAGS"
	}
	return "FLAGS"
}

// Store is STORE's arguments (RFC 9051 6.4.6, UNCHANGEDSINCE RFC 7162
// 3.1.3):
//
//	store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
//	store-modifiers = SP "(" store-modifier *(SP store-modifier) ")"
//	store-modifier = "UNCHANGEDSINCE" SP mod-sequence-valzer
//	store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
//	                  (flag-list / (flag *(SP flag)))
//
// Flags are as ReadFlag returns them (system flags canonical); whether a
// flag may be stored is the caller's business. Set (nil when Saved) and
// Flags live in the command arena, valid until the next ReadTag.
type Store struct {
	Set            SeqSet
	Saved          bool
	UnchangedSince *uint64 // nil without UNCHANGEDSINCE; 0 is allowed
	Op             StoreOp
	Silent         bool
	Flags          []string
}

// ReadStore reads STORE's (or UID STORE's) arguments.
func (d *Decoder) ReadStore() (Store, error) {
	var s Store
	var err error
	if s.Set, s.Saved, err = d.spSeqSet(); err != nil {
		return Store{}, err
	}
	if err := d.ExpectSP(); err != nil {
		return Store{}, err
	}
	if d.peekByte() == '(' {
		if d.pos+1 < len(d.line) && d.line[d.pos+1] == ')' {
			return Store{}, syntaxErr(d.pos, "empty STORE modifier list")
		}
		err := d.ReadList(func() error {
			b, err := d.atomBytes("an atom")
			if err != nil {
				return err
			}
			if !equalFoldASCII(b, "UNCHANGEDSINCE") {
				return syntaxErr(d.pos-len(b), "unknown STORE modifier %s", clip(b))
			}
			if err := d.ExpectSP(); err != nil {
				return err
			}
			v, err := d.ReadNumber64()
			s.UnchangedSince = &v
			return err
		})
		if err != nil {
			return Store{}, err
		}
		if err := d.ExpectSP(); err != nil {
			return Store{}, err
		}
	}
	start := d.pos
	item, err := d.atomBytes("an atom")
	if err != nil {
		return Store{}, err
	}
	if n := len(item) - len(".SILENT"); n > 0 && equalFoldASCII(item[n:], ".SILENT") {
		s.Silent = true
		item = item[:n]
	}
	switch {
	case equalFoldASCII(item, "FLAGS"):
		s.Op = StoreReplace
	case equalFoldASCII(item, "+FLAGS"):
		s.Op = StoreAdd
	case equalFoldASCII(item, "-FLAGS"):
		s.Op = StoreRemove
	default:
		return Store{}, syntaxErr(start, "STORE wants FLAGS, +FLAGS or -FLAGS")
	}
	if err := d.ExpectSP(); err != nil {
		return Store{}, err
	}
	if d.peekByte() == '(' {
		if s.Flags, err = d.ReadFlagList(); err != nil {
			return Store{}, err
		}
	} else {
		begin := len(d.arena.strs)
		for {
			f, err := d.ReadFlag()
			if err != nil {
				return Store{}, err
			}
			d.arena.strs = append(d.arena.strs, f)
			if !d.SP() {
				break
			}
		}
		s.Flags = d.arenaStrs(begin)
	}
	if err := d.ExpectCRLF(); err != nil {
		return Store{}, err
	}
	return s, nil
}

// Copy is COPY's or MOVE's arguments (RFC 9051 6.4.7, 6.4.8):
//
//	copy = "COPY" SP sequence-set SP mailbox
//
// Set (nil when Saved) lives in the command arena.
type Copy struct {
	Set     SeqSet
	Saved   bool
	Mailbox string
}

// ReadCopy reads COPY's or MOVE's (or their UID forms') arguments.
func (d *Decoder) ReadCopy() (Copy, error) {
	var c Copy
	var err error
	if c.Set, c.Saved, err = d.spSeqSet(); err != nil {
		return Copy{}, err
	}
	if c.Mailbox, err = d.spMailbox(); err != nil {
		return Copy{}, err
	}
	if err := d.ExpectCRLF(); err != nil {
		return Copy{}, err
	}
	return c, nil
}

// UIDExpunge is UID EXPUNGE's argument (RFC 9051 6.4.9, UIDPLUS RFC 4315):
//
//	uid-expunge = "UID" SP "EXPUNGE" SP sequence-set
//
// Set (nil when Saved) lives in the command arena. EXPUNGE itself has no
// argument (ExpectCRLF).
type UIDExpunge struct {
	Set   SeqSet
	Saved bool
}

// ReadUIDExpunge reads UID EXPUNGE's argument.
func (d *Decoder) ReadUIDExpunge() (UIDExpunge, error) {
	var u UIDExpunge
	var err error
	if u.Set, u.Saved, err = d.spSeqSet(); err != nil {
		return UIDExpunge{}, err
	}
	if err := d.ExpectCRLF(); err != nil {
		return UIDExpunge{}, err
	}
	return u, nil
}

// Append is APPEND's arguments before its messages (RFC 9051 6.3.12,
// MULTIAPPEND RFC 3502):
//
//	append = "APPEND" SP mailbox 1*append-message
//	append-message = SP [flag-list SP] [date-time SP] literal
//
// The messages are read one by one with ReadAppendMessage, so that each
// is streamed from the connection and never held in memory.
type Append struct {
	Mailbox string
}

// ReadAppend reads APPEND's mailbox and checks that a message follows.
func (d *Decoder) ReadAppend() (Append, error) {
	name, err := d.spMailbox()
	if err != nil {
		return Append{}, err
	}
	if d.peekByte() != ' ' {
		if err := d.fill(); err != nil {
			return Append{}, err
		}
		if d.pos >= len(d.line) && !d.truncated {
			return Append{}, syntaxErr(d.pos, "APPEND needs a message")
		}
		return Append{}, d.ExpectSP()
	}
	return Append{Mailbox: name}, nil
}

// AppendMessage is one message of an APPEND. Flags (in the command arena)
// are as ReadFlag returns them, and nil without a flag list; Date is zero
// without a date-time.
type AppendMessage struct {
	Flags []string
	Date  time.Time
	// Literal streams the message. It is only readable until the next
	// Decoder call, which skips what was not read.
	Literal *Literal
	// Catenate is set, and Literal nil, for "CATENATE (" (RFC 4469): the
	// parts follow, read with ReadCatenatePart.
	Catenate bool
}

// ReadAppendMessage reads the next message of APPEND, after ReadAppend or
// the previous message: SP [flag-list SP] [date-time SP] and the literal's
// announcement, leaving its octets to be read from Literal (for a
// synchronizing literal the continuation has been sent). At the end of
// the line it returns ok false: the command is complete.
func (d *Decoder) ReadAppendMessage() (m AppendMessage, ok bool, err error) {
	if !d.SP() {
		return AppendMessage{}, false, d.ExpectCRLF()
	}
	c, err := d.Peek()
	if err != nil {
		return AppendMessage{}, false, err
	}
	if c == '(' {
		if m.Flags, err = d.ReadFlagList(); err != nil {
			return AppendMessage{}, false, err
		}
		if err := d.ExpectSP(); err != nil {
			return AppendMessage{}, false, err
		}
		c = d.peekByte()
	}
	if c == '"' {
		if m.Date, err = d.ReadDateTime(); err != nil {
			return AppendMessage{}, false, err
		}
		if err := d.ExpectSP(); err != nil {
			return AppendMessage{}, false, err
		}
	}
	if c := d.peekByte(); c == 'C' || c == 'c' {
		if err := d.readCatenateOpen(); err != nil {
			return AppendMessage{}, false, err
		}
		m.Catenate = true
		return m, true, nil
	}
	if m.Literal, err = d.LiteralReader(); err != nil {
		return AppendMessage{}, false, err
	}
	return m, true, nil
}
