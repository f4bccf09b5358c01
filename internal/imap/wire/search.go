package wire

import "time"

// SearchKey is one node of a SEARCH criteria tree (RFC 9051 6.4.4
// search-key, with RFC 3501's NEW/OLD/RECENT, RFC 7162 MODSEQ, RFC 5182
// "$", RFC 8474 EMAILID/THREADID and RFC 8514 SAVEDATE keys).
//
// Op is the canonical upper-case key name, plus:
//
//   - "AND": a parenthesised group, or several keys side by side
//     (Children, two or more);
//   - "NOT": Children[0]; "OR": Children[0] or Children[1];
//   - "SEQ": a sequence set of message numbers (Set, or Saved for "$");
//   - "UID": a UID set (Set, or Saved for "UID $").
//
// Arguments by Op:
//
//   - BCC BODY CC FROM SUBJECT TEXT TO: Value;
//   - HEADER: Field and Value;
//   - KEYWORD UNKEYWORD: Value (the keyword flag);
//   - BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE SAVEDBEFORE SAVEDON
//     SAVEDSINCE: Date (midnight UTC of the given day);
//   - LARGER SMALLER: Number;
//   - MODSEQ: Number, and with the optional entry Field (the flag of
//     "/flags/<flag>") and EntryType ("priv", "shared" or "all");
//   - EMAILID THREADID: Value (the objectid);
//   - ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED
//     UNDELETED UNDRAFT UNFLAGGED UNSEEN SAVEDATESUPPORTED: none.
type SearchKey struct {
	Op        string
	Value     string
	Field     string
	EntryType string
	Date      time.Time
	Number    uint64
	Set       SeqSet // lives in the command arena (valid until the next ReadTag)
	Saved     bool
	Children  []*SearchKey
}

// Search is a SEARCH command's arguments after "SEARCH" SP.
type Search struct {
	Return  *SearchReturn // nil without RETURN: answer with SEARCH, not ESEARCH
	Charset string        // "" when absent
	Key     *SearchKey    // one key, or an AND of the top-level keys
	Update  bool          // RETURN (UPDATE): keep the result live (RFC 5267 4.3)
	// UpdateFetch is UPDATE's fetch-att list (RFC 5465 7), copies out of
	// the command arena; nil when not given.
	UpdateFetch []FetchItem
}

// SearchReturn holds the RETURN options (RFC 4731 ESEARCH, RFC 5182 SAVE,
// RFC 9394 PARTIAL). RETURN () is, as RFC 4731 section 3.1 says, the same
// as RETURN (ALL).
type SearchReturn struct {
	Min, Max, All, Count, Save bool
	Partial                    *PartialRange // nil without PARTIAL
}

// ReadSearch reads SEARCH's arguments, after the SP that follows "SEARCH":
//
//	[ "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" SP ]
//	[ "CHARSET" SP charset SP ] search-key *(SP search-key)
//
// Unknown RETURN options are refused. It stops before the line end.
func (d *Decoder) ReadSearch() (*Search, error) {
	s := &Search{}
	if d.peekWord("RETURN") {
		d.pos += len("RETURN")
		r, err := d.readReturnOpts(s)
		if err != nil {
			return nil, err
		}
		s.Return = r
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
	}
	if d.peekWord("CHARSET") {
		d.pos += len("CHARSET")
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
		cs, err := d.readCharset()
		if err != nil {
			return nil, err
		}
		s.Charset = cs
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
	}
	k, err := d.ReadSearchKeys()
	if err != nil {
		return nil, err
	}
	s.Key = k
	return s, nil
}

// readReturnOpts reads, after "RETURN", SP "(" [search-return-opt
// *(SP search-return-opt)] ")" (SEARCH's and SORT's). With live, the
// CONTEXT=SEARCH options (UPDATE, CONTEXT) are accepted and set there;
// without, they are unknown options.
func (d *Decoder) readReturnOpts(live *Search) (*SearchReturn, error) {
	if err := d.ExpectSP(); err != nil {
		return nil, err
	}
	r := &SearchReturn{}
	given := false
	err := d.ReadList(func() error {
		b, err := d.atomBytes("a RETURN option")
		if err != nil {
			return err
		}
		if live != nil {
			if ok, err := d.contextOption(b, live); ok || err != nil {
				return err
			}
		}
		given = true
		switch {
		case equalFoldASCII(b, "MIN"):
			r.Min = true
		case equalFoldASCII(b, "MAX"):
			r.Max = true
		case equalFoldASCII(b, "ALL"):
			r.All = true
		case equalFoldASCII(b, "COUNT"):
			r.Count = true
		case equalFoldASCII(b, "SAVE"):
			r.Save = true
		case equalFoldASCII(b, "PARTIAL"):
			if r.Partial != nil {
				return syntaxErr(d.pos-len(b), "PARTIAL given twice")
			}
			p, err := d.readPartialRange()
			if err != nil {
				return err
			}
			r.Partial = &p
		default:
			return syntaxErr(d.pos-len(b), "unknown RETURN option %q", b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !given {
		r.All = true
	}
	return r, nil
}

// readCharset reads charset = atom / quoted.
func (d *Decoder) readCharset() (string, error) {
	if d.peekByte() == '"' {
		b, err := d.quoted()
		return string(b), err
	}
	b, err := d.atomBytes("a charset name")
	return string(b), err
}

// peekWord reports whether the upper-case word w (any case) is next,
// followed by a space or the end of the line.
func (d *Decoder) peekWord(w string) bool {
	if d.fill() != nil {
		return false
	}
	rest := d.line[d.pos:]
	if len(rest) < len(w) || !equalFoldASCII(rest[:len(w)], w) {
		return false
	}
	return len(rest) == len(w) || rest[len(w)] == ' '
}

// ReadSearchKeys reads search-key *(SP search-key) up to the end of the
// line (not consumed) and returns the key, or an AND of the keys. SORT and
// THREAD, whose charset comes before the keys, use it directly.
func (d *Decoder) ReadSearchKeys() (*SearchKey, error) {
	first, err := d.searchKey(0)
	if err != nil {
		return nil, err
	}
	if d.peekByte() != ' ' {
		return first, nil
	}
	and := &SearchKey{Op: "AND", Children: []*SearchKey{first}}
	for d.SP() {
		k, err := d.searchKey(0)
		if err != nil {
			return nil, err
		}
		and.Children = append(and.Children, k)
	}
	return and, nil
}

// searchKey reads one search-key. nest counts the NOT/OR levels above it,
// which recurse without parentheses and are bounded at 16*MaxDepth.
func (d *Decoder) searchKey(nest int) (*SearchKey, error) {
	if err := d.fill(); err != nil {
		return nil, err
	}
	if d.pos >= len(d.line) {
		return nil, d.endErr("a search key")
	}
	switch c := d.line[d.pos]; {
	case c == '(':
		return d.searchGroup(nest)
	case isDigit(c) || c == '*' || c == '$':
		set, saved, err := d.ReadSequenceSet()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: "SEQ", Set: set, Saved: saved}, nil
	}
	start := d.pos
	b, err := d.atomBytes("a search key")
	if err != nil {
		return nil, err
	}
	u, ok := upperInto(d.nameBuf[:], b)
	if !ok {
		return nil, syntaxErr(start, "unknown search key %q", b)
	}
	op := searchOp(u)
	if op == "" {
		return nil, syntaxErr(start, "unknown search key %q", b)
	}
	k := &SearchKey{Op: op}
	switch op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "SAVEDATESUPPORTED":
		return k, nil
	}
	if err := d.ExpectSP(); err != nil {
		return nil, err
	}
	switch op {
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		k.Value, err = d.ReadAString()
	case "HEADER":
		if k.Field, err = d.ReadAString(); err == nil {
			if err = d.ExpectSP(); err == nil {
				k.Value, err = d.ReadAString()
			}
		}
	case "KEYWORD", "UNKEYWORD":
		var b []byte
		if b, err = d.atomBytes("a keyword"); err == nil {
			k.Value = internKeyword(b)
		}
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		k.Date, err = d.ReadDate()
	case "LARGER", "SMALLER":
		k.Number, err = d.ReadNumber64()
	case "UID":
		k.Set, k.Saved, err = d.ReadSequenceSet()
	case "MODSEQ":
		err = d.searchModSeq(k)
	case "EMAILID", "THREADID":
		k.Value, err = d.objectID()
	case "NOT", "OR":
		if nest >= 16*d.lim.MaxDepth {
			return nil, syntaxErr(start, "search criteria too deeply nested")
		}
		var a, b *SearchKey
		if a, err = d.searchKey(nest + 1); err != nil {
			return nil, err
		}
		k.Children = []*SearchKey{a}
		if op == "OR" {
			if err = d.ExpectSP(); err != nil {
				return nil, err
			}
			if b, err = d.searchKey(nest + 1); err != nil {
				return nil, err
			}
			k.Children = append(k.Children, b)
		}
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// searchGroup reads "(" search-key *(SP search-key) ")"; a group of one key
// is that key.
func (d *Decoder) searchGroup(nest int) (*SearchKey, error) {
	var keys []*SearchKey
	err := d.ReadList(func() error {
		k, err := d.searchKey(nest)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(keys) {
	case 0:
		return nil, syntaxErr(d.pos, "empty search key group")
	case 1:
		return keys[0], nil
	}
	return &SearchKey{Op: "AND", Children: keys}, nil
}

// searchModSeq reads the rest of RFC 7162's
//
//	search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
//	search-modseq-ext  = SP entry-name SP entry-type-req
//	entry-flag-name    = DQUOTE "/flags/" attr-flag DQUOTE
//	entry-type-req     = "priv" / "shared" / "all"
func (d *Decoder) searchModSeq(k *SearchKey) error {
	if d.peekByte() == '"' {
		start := d.pos
		b, err := d.quoted()
		if err != nil {
			return err
		}
		const prefix = "/FLAGS/"
		if len(b) <= len(prefix) || !equalFoldASCII(b[:len(prefix)], prefix) {
			return syntaxErr(start, `MODSEQ entry name must be "/flags/<flag>"`)
		}
		k.Field = CanonicalFlag(string(b[len(prefix):]))
		if err := d.ExpectSP(); err != nil {
			return err
		}
		t, err := d.atomBytes("priv, shared or all")
		if err != nil {
			return err
		}
		switch {
		case equalFoldASCII(t, "PRIV"):
			k.EntryType = "priv"
		case equalFoldASCII(t, "SHARED"):
			k.EntryType = "shared"
		case equalFoldASCII(t, "ALL"):
			k.EntryType = "all"
		default:
			return syntaxErr(d.pos-len(t), "MODSEQ entry type must be priv, shared or all")
		}
		if err := d.ExpectSP(); err != nil {
			return err
		}
	}
	v, err := d.ReadNumber64()
	k.Number = v
	return err
}

// objectID reads an RFC 8474 objectid = 1*255(ALPHA / DIGIT / "_" / "-").
func (d *Decoder) objectID() (string, error) {
	start := d.pos
	b, err := d.atomBytes("an object id")
	if err != nil {
		return "", err
	}
	if len(b) > 255 {
		return "", syntaxErr(start, "invalid object id")
	}
	for _, c := range b {
		if !isAlpha(c) && !isDigit(c) && c != '_' && c != '-' {
			return "", syntaxErr(start, "invalid object id")
		}
	}
	return string(b), nil
}

// searchOp returns the canonical name of a search key, or "".
func searchOp(u []byte) string {
	switch string(u) {
	case "ALL":
		return "ALL"
	case "ANSWERED":
		return "ANSWERED"
	case "BCC":
		return "BCC"
	case "BEFORE":
		return "BEFORE"
	case "BODY":
		return "BODY"
	case "CC":
		return "CC"
	case "DELETED":
		return "DELETED"
	case "DRAFT":
		return "DRAFT"
	case "FLAGGED":
		return "FLAGGED"
	case "FROM":
		return "FROM"
	case "HEADER":
		return "HEADER"
	case "KEYWORD":
		return "KEYWORD"
	case "LARGER":
		return "LARGER"
	case "NEW":
		return "NEW"
	case "NOT":
		return "NOT"
	case "OLD":
		return "OLD"
	case "ON":
		return "ON"
	case "OR":
		return "OR"
	case "RECENT":
		return "RECENT"
	case "SEEN":
		return "SEEN"
	case "SENTBEFORE":
		return "SENTBEFORE"
	case "SENTON":
		return "SENTON"
	case "SENTSINCE":
		return "SENTSINCE"
	case "SINCE":
		return "SINCE"
	case "SMALLER":
		return "SMALLER"
	case "SUBJECT":
		return "SUBJECT"
	case "TEXT":
		return "TEXT"
	case "TO":
		return "TO"
	case "UID":
		return "UID"
	case "UNANSWERED":
		return "UNANSWERED"
	case "UNDELETED":
		return "UNDELETED"
	case "UNDRAFT":
		return "UNDRAFT"
	case "UNFLAGGED":
		return "UNFLAGGED"
	case "UNKEYWORD":
		return "UNKEYWORD"
	case "UNSEEN":
		return "UNSEEN"
	case "MODSEQ":
		return "MODSEQ"
	case "EMAILID":
		return "EMAILID"
	case "THREADID":
		return "THREADID"
	case "SAVEDBEFORE":
		return "SAVEDBEFORE"
	case "SAVEDON":
		return "SAVEDON"
	case "SAVEDSINCE":
		return "SAVEDSINCE"
	case "SAVEDATESUPPORTED":
		return "SAVEDATESUPPORTED"
	}
	return ""
}
