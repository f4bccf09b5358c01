package wire

import "strings"

// Select is SELECT's or EXAMINE's arguments (RFC 9051 6.3.2, RFC 7162
// CONDSTORE/QRESYNC parameters):
//
//	select = "SELECT" SP mailbox [select-params]
//	select-params = SP "(" select-param *(SP select-param) ")"
//	select-param = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP
//	    mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
//
// An empty parameter list "()" is accepted.
type Select struct {
	Mailbox   string
	CondStore bool
	QResync   *QResync // nil without QRESYNC
}

// QResync is SELECT's QRESYNC parameter (RFC 7162 3.2.5).
type QResync struct {
	UIDValidity uint32
	// ModSeq is the client's last known mod-sequence; 0 is accepted.
	ModSeq uint64
	// KnownUIDs is nil when absent: all UIDs.
	KnownUIDs SeqSet
	// KnownSeqs and KnownSeqUIDs are seq-match-data, "(" known-sequence-set
	// SP known-uid-set ")"; nil when absent.
	KnownSeqs, KnownSeqUIDs SeqSet
}

// ReadSelect reads SELECT's or EXAMINE's arguments.
func (d *Decoder) ReadSelect() (Select, error) {
	var s Select
	var err error
	if s.Mailbox, err = d.spMailbox(); err != nil {
		return Select{}, err
	}
	if d.SP() {
		err = d.ReadList(func() error {
			b, err := d.atomBytes("an atom")
			if err != nil {
				return err
			}
			switch {
			case equalFoldASCII(b, "CONDSTORE"):
				s.CondStore = true
			case equalFoldASCII(b, "QRESYNC"):
				if err := d.ExpectSP(); err != nil {
					return err
				}
				s.QResync, err = d.qresync()
				return err
			default:
				return syntaxErr(d.pos-len(b), "unknown SELECT parameter %s", clip(b))
			}
			return nil
		})
		if err != nil {
			return Select{}, err
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return Select{}, err
	}
	return s, nil
}

// qresync reads QRESYNC's parenthesised parameters.
func (d *Decoder) qresync() (*QResync, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	defer d.close()
	q := &QResync{}
	var err error
	if q.UIDValidity, err = d.ReadNZNumber(); err != nil {
		return nil, err
	}
	if err = d.ExpectSP(); err != nil {
		return nil, err
	}
	if q.ModSeq, err = d.ReadNumber64(); err != nil {
		return nil, err
	}
	if d.SP() {
		more := true
		if d.peekByte() != '(' {
			if q.KnownUIDs, err = d.plainSeqSet(); err != nil {
				return nil, err
			}
			more = d.SP()
		}
		if more {
			if err := d.open(); err != nil {
				return nil, err
			}
			q.KnownSeqs, err = d.plainSeqSet()
			if err == nil {
				if err = d.ExpectSP(); err == nil {
					q.KnownSeqUIDs, err = d.plainSeqSet()
				}
			}
			d.close()
			if err != nil {
				return nil, err
			}
			if err := d.expectByte(')'); err != nil {
				return nil, err
			}
		}
	}
	if err := d.expectByte(')'); err != nil {
		return nil, err
	}
	return q, nil
}

// plainSeqSet reads a sequence set where "$" (RFC 5182) has no meaning.
func (d *Decoder) plainSeqSet() (SeqSet, error) {
	start := d.pos
	set, saved, err := d.ReadSequenceSet()
	if err != nil {
		return nil, err
	}
	if saved {
		return nil, syntaxErr(start, `"$" is not allowed here`)
	}
	return set, nil
}

// spMailbox reads SP mailbox.
func (d *Decoder) spMailbox() (string, error) {
	if err := d.ExpectSP(); err != nil {
		return "", err
	}
	return d.ReadMailbox()
}

// ReadMailboxArg reads the one mailbox argument of DELETE, SUBSCRIBE and
// UNSUBSCRIBE (RFC 9051 6.3.5, 6.3.7, 6.3.8): SP mailbox.
func (d *Decoder) ReadMailboxArg() (string, error) {
	name, err := d.spMailbox()
	if err != nil {
		return "", err
	}
	if err := d.ExpectCRLF(); err != nil {
		return "", err
	}
	return name, nil
}

// Create is CREATE's arguments (RFC 9051 6.3.4, CREATE-SPECIAL-USE RFC
// 6154):
//
//	create = "CREATE" SP mailbox [create-params]
//	create-params = SP "(" create-param *(SP create-param) ")"
//	create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")"
//
// A trailing hierarchy delimiter is left on the name for the caller.
type Create struct {
	Mailbox string
	Use     []string // the special-use attributes, as ReadFlag returns them
}

// ReadCreate reads CREATE's arguments.
func (d *Decoder) ReadCreate() (Create, error) {
	var c Create
	var err error
	if c.Mailbox, err = d.spMailbox(); err != nil {
		return Create{}, err
	}
	if d.SP() {
		err := d.ReadList(func() error {
			b, err := d.atomBytes("an atom")
			if err != nil {
				return err
			}
			if !equalFoldASCII(b, "USE") {
				return syntaxErr(d.pos-len(b), "unknown CREATE parameter %s", clip(b))
			}
			if err := d.ExpectSP(); err != nil {
				return err
			}
			return d.ReadList(func() error {
				f, err := d.ReadFlag()
				if err == nil {
					c.Use = append(c.Use, f)
				}
				return err
			})
		})
		if err != nil {
			return Create{}, err
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return Create{}, err
	}
	return c, nil
}

// Rename is RENAME's arguments (RFC 9051 6.3.6):
//
//	rename = "RENAME" SP mailbox SP mailbox
type Rename struct {
	From, To string
}

// ReadRename reads RENAME's arguments.
func (d *Decoder) ReadRename() (Rename, error) {
	var r Rename
	var err error
	if r.From, err = d.spMailbox(); err != nil {
		return Rename{}, err
	}
	if r.To, err = d.spMailbox(); err != nil {
		return Rename{}, err
	}
	if err := d.ExpectCRLF(); err != nil {
		return Rename{}, err
	}
	return r, nil
}

// List is LIST's arguments (RFC 9051 6.3.9, LIST-EXTENDED RFC 5258,
// LIST-STATUS RFC 5819), or LSUB's (RFC 3501 6.3.9: a reference and one
// pattern, nothing else):
//
//	list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
//	       [SP list-return-opts]
//	list-select-opts = "(" [list-select-opt *(SP list-select-opt)] ")"
//	mbox-or-pat = list-mailbox / patterns
//	patterns = "(" list-mailbox *(SP list-mailbox) ")"
//	list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
//	return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
//	                "STATUS" SP "(" [status-att *(SP status-att)] ")"
//
// The reference is read as ReadMailbox reads it, the patterns as
// ReadListMailbox does. An empty pattern list "()" is accepted.
type List struct {
	// Selection options.
	SelectSubscribed, SelectRemote, SelectSpecialUse, RecursiveMatch bool

	Reference string
	Patterns  []string

	// Return options. StatusItems are the STATUS items (see ReadStatus)
	// when ReturnStatus is set.
	ReturnSubscribed, ReturnChildren, ReturnSpecialUse bool
	ReturnStatus                                       bool
	StatusItems                                        []string
}

// ReadListCommand reads LIST's arguments (ReadList is the reader of any
// parenthesised list).
func (d *Decoder) ReadListCommand() (List, error) {
	var l List
	if err := d.ExpectSP(); err != nil {
		return List{}, err
	}
	if d.peekByte() == '(' {
		err := d.ReadList(func() error {
			b, err := d.atomBytes("an atom")
			if err != nil {
				return err
			}
			switch {
			case equalFoldASCII(b, "SUBSCRIBED"):
				l.SelectSubscribed = true
			case equalFoldASCII(b, "SPECIAL-USE"):
				l.SelectSpecialUse = true
			case equalFoldASCII(b, "RECURSIVEMATCH"):
				l.RecursiveMatch = true
			case equalFoldASCII(b, "REMOTE"):
				l.SelectRemote = true
			default:
				return syntaxErr(d.pos-len(b), "unknown LIST selection option %s", clip(b))
			}
			return nil
		})
		if err != nil {
			return List{}, err
		}
		// RFC 5258 3.1: RECURSIVEMATCH with no other selection option (or
		// only REMOTE) is an error.
		if l.RecursiveMatch && !l.SelectSubscribed && !l.SelectSpecialUse {
			return List{}, syntaxErr(d.pos, "RECURSIVEMATCH needs another selection option (RFC 5258 3.1)")
		}
		if err := d.ExpectSP(); err != nil {
			return List{}, err
		}
	}
	var err error
	if l.Reference, err = d.ReadMailbox(); err != nil {
		return List{}, err
	}
	if err := d.ExpectSP(); err != nil {
		return List{}, err
	}
	if d.peekByte() == '(' {
		start := len(d.arena.strs)
		err := d.ReadList(func() error {
			p, err := d.ReadListMailbox()
			d.arena.strs = append(d.arena.strs, p)
			return err
		})
		if err != nil {
			return List{}, err
		}
		l.Patterns = d.arenaStrs(start)
	} else {
		p, err := d.ReadListMailbox()
		if err != nil {
			return List{}, err
		}
		l.Patterns = []string{p}
	}
	if d.SP() {
		start := d.pos
		kw, err := d.atomBytes("an atom")
		if err != nil {
			return List{}, err
		}
		if !equalFoldASCII(kw, "RETURN") {
			return List{}, syntaxErr(start, "expected RETURN, got %s", clip(kw))
		}
		if err := d.ExpectSP(); err != nil {
			return List{}, err
		}
		err = d.ReadList(func() error {
			b, err := d.atomBytes("an atom")
			if err != nil {
				return err
			}
			switch {
			case equalFoldASCII(b, "SUBSCRIBED"):
				l.ReturnSubscribed = true
			case equalFoldASCII(b, "CHILDREN"):
				l.ReturnChildren = true
			case equalFoldASCII(b, "SPECIAL-USE"):
				l.ReturnSpecialUse = true
			case equalFoldASCII(b, "STATUS"):
				if err := d.ExpectSP(); err != nil {
					return err
				}
				l.ReturnStatus = true
				l.StatusItems, err = d.statusAtts()
				return err
			default:
				return syntaxErr(d.pos-len(b), "unknown LIST return option %s", clip(b))
			}
			return nil
		})
		if err != nil {
			return List{}, err
		}
	}
	if err := d.ExpectCRLF(); err != nil {
		return List{}, err
	}
	return l, nil
}

// ReadLsub reads LSUB's arguments: SP mailbox SP list-mailbox.
func (d *Decoder) ReadLsub() (List, error) {
	var l List
	var err error
	if l.Reference, err = d.spMailbox(); err != nil {
		return List{}, err
	}
	if err := d.ExpectSP(); err != nil {
		return List{}, err
	}
	p, err := d.ReadListMailbox()
	if err != nil {
		return List{}, err
	}
	l.Patterns = []string{p}
	if err := d.ExpectCRLF(); err != nil {
		return List{}, err
	}
	return l, nil
}

// Status is STATUS's arguments (RFC 9051 6.3.11):
//
//	status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
//
// Items are the canonical upper-case names: MESSAGES, UIDNEXT,
// UIDVALIDITY, UNSEEN, DELETED, SIZE (RFC 8438), RECENT (RFC 3501),
// HIGHESTMODSEQ (RFC 7162), MAILBOXID (RFC 8474); unknown ones are a
// syntax error. An empty list "()" is accepted.
type Status struct {
	Mailbox string
	Items   []string
}

// ReadStatus reads STATUS's arguments.
func (d *Decoder) ReadStatus() (Status, error) {
	var s Status
	var err error
	if s.Mailbox, err = d.spMailbox(); err != nil {
		return Status{}, err
	}
	if err := d.ExpectSP(); err != nil {
		return Status{}, err
	}
	if s.Items, err = d.statusAtts(); err != nil {
		return Status{}, err
	}
	if err := d.ExpectCRLF(); err != nil {
		return Status{}, err
	}
	return s, nil
}

// statusAtts reads "(" [status-att *(SP status-att)] ")". The slice lives
// in the command arena.
func (d *Decoder) statusAtts() ([]string, error) {
	start := len(d.arena.strs)
	err := d.ReadList(func() error {
		b, err := d.atomBytes("an atom")
		if err != nil {
			return err
		}
		a := statusAtt(b)
		if a == "" {
			return syntaxErr(d.pos-len(b), "unknown STATUS item %s", clip(strings.ToUpper(string(b))))
		}
		d.arena.strs = append(d.arena.strs, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.arenaStrs(start), nil
}

func statusAtt(b []byte) string {
	for _, a := range [...]string{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
		"RECENT", "HIGHESTMODSEQ", "MAILBOXID"} {
		if equalFoldASCII(b, a) {
			return a
		}
	}
	return ""
}

// arenaStrs returns the strings appended to the arena since start.
func (d *Decoder) arenaStrs(start int) []string {
	s := d.arena.strs
	return s[start:len(s):len(s)]
}
