package wire

import "strconv"

// PartialRange is RFC 9394's partial-range: the results at positions Lo
// to Hi (1-based, Lo <= Hi, as "4:2" means "2:4"), counted from the first
// result, or from the last one backwards when FromEnd ("-1:-100").
type PartialRange struct {
	Lo, Hi  uint32
	FromEnd bool
}

// String renders the range as the PARTIAL response echoes it.
func (p PartialRange) String() string {
	if p.FromEnd {
		return "-" + strconv.FormatUint(uint64(p.Lo), 10) + ":-" + strconv.FormatUint(uint64(p.Hi), 10)
	}
	return strconv.FormatUint(uint64(p.Lo), 10) + ":" + strconv.FormatUint(uint64(p.Hi), 10)
}

// Window returns the slice bounds [from, to) of the range within n
// results in their order (ascending, or sort order). Positions beyond n
// are left out; an empty window has from == to.
func (p PartialRange) Window(n int) (from, to int) {
	lo, hi := int(min(p.Lo, uint32(n+1))), int(min(p.Hi, uint32(n)))
	if lo > hi {
		return 0, 0
	}
	if p.FromEnd {
		return n - hi, n - lo + 1
	}
	return lo - 1, hi
}

// readPartialRange reads, after "PARTIAL",
//
//	SP partial-range
//	partial-range       = partial-range-first / partial-range-last
//	partial-range-first = nz-number ":" nz-number
//	partial-range-last  = MINUS nz-number ":" MINUS nz-number
//
// "*" is not allowed (RFC 9394 section 3.1), nor a single number.
func (d *Decoder) readPartialRange() (PartialRange, error) {
	var p PartialRange
	if err := d.ExpectSP(); err != nil {
		return p, err
	}
	start := d.pos
	neg := d.peekByte() == '-'
	if neg {
		d.pos++
	}
	a, err := d.ReadNZNumber()
	if err != nil {
		return p, err
	}
	if d.peekByte() != ':' {
		return p, syntaxErr(d.pos, "PARTIAL needs a range such as 1:100 or -1:-100")
	}
	d.pos++
	if (d.peekByte() == '-') != neg {
		return p, syntaxErr(start, "PARTIAL range ends must both be positive or both negative")
	}
	if neg {
		d.pos++
	}
	b, err := d.ReadNZNumber()
	if err != nil {
		return p, err
	}
	p.Lo, p.Hi, p.FromEnd = min(a, b), max(a, b), neg
	return p, nil
}

// SortKey is one RFC 5256 sort-key (with RFC 5957's DISPLAYFROM and
// DISPLAYTO), upper case.
type SortKey struct {
	Name    string // ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO
	Reverse bool
}

// Sort is a SORT command's arguments (RFC 5256, RFC 5267 ESORT).
type Sort struct {
	Return   *SearchReturn // nil without RETURN: answer with SORT, not ESEARCH
	Criteria []SortKey
	Charset  string
	Key      *SearchKey
	Update   bool // RETURN (UPDATE): keep the sorted result live (RFC 5267 4.3)
	// UpdateFetch is UPDATE's fetch-att list (RFC 5465 7), copies out of
	// the command arena; nil when not given.
	UpdateFetch []FetchItem
}

// ReadSort reads SORT's arguments after the SP that follows "SORT":
//
//	[sort-return-opts SP] sort-criteria SP search-criteria
//	sort-return-opts = "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
//	sort-criteria    = "(" sort-criterion *(SP sort-criterion) ")"
//	sort-criterion   = ["REVERSE" SP] sort-key
//	search-criteria  = charset 1*(SP search-key)
//
// It stops before the line end.
func (d *Decoder) ReadSort() (*Sort, error) {
	s := &Sort{}
	if d.peekWord("RETURN") {
		d.pos += len("RETURN")
		// UPDATE and CONTEXT as for SEARCH: CONTEXT=SORT (RFC 5267 4).
		var live Search
		r, err := d.readReturnOpts(&live)
		if err != nil {
			return nil, err
		}
		s.Return, s.Update, s.UpdateFetch = r, live.Update, live.UpdateFetch
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
	}
	err := d.ReadList(func() error {
		start := d.pos
		b, err := d.atomBytes("a sort key")
		if err != nil {
			return err
		}
		k := SortKey{}
		if equalFoldASCII(b, "REVERSE") {
			k.Reverse = true
			if err := d.ExpectSP(); err != nil {
				return err
			}
			start = d.pos
			if b, err = d.atomBytes("a sort key"); err != nil {
				return err
			}
		}
		if k.Name = sortKeyName(b); k.Name == "" {
			return syntaxErr(start, "unknown sort key %q", b)
		}
		s.Criteria = append(s.Criteria, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.Criteria) == 0 {
		return nil, syntaxErr(d.pos, "empty sort criteria")
	}
	if s.Charset, s.Key, err = d.readSearchCriteria(); err != nil {
		return nil, err
	}
	return s, nil
}

func sortKeyName(b []byte) string {
	for _, n := range [...]string{"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"} {
		if equalFoldASCII(b, n) {
			return n
		}
	}
	return ""
}

// Thread is a THREAD command's arguments (RFC 5256).
type Thread struct {
	Algorithm string // upper case: ORDEREDSUBJECT or REFERENCES
	Charset   string
	Key       *SearchKey
}

// ReadThread reads THREAD's arguments after the SP that follows "THREAD":
//
//	thread-alg SP search-criteria
//
// An algorithm other than ORDEREDSUBJECT and REFERENCES is a syntax
// error: the server announces no other. It stops before the line end.
func (d *Decoder) ReadThread() (*Thread, error) {
	start := d.pos
	b, err := d.atomBytes("a threading algorithm")
	if err != nil {
		return nil, err
	}
	t := &Thread{}
	switch {
	case equalFoldASCII(b, "ORDEREDSUBJECT"):
		t.Algorithm = "ORDEREDSUBJECT"
	case equalFoldASCII(b, "REFERENCES"):
		t.Algorithm = "REFERENCES"
	default:
		return nil, syntaxErr(start, "unknown threading algorithm %q", b)
	}
	if t.Charset, t.Key, err = d.readSearchCriteria(); err != nil {
		return nil, err
	}
	return t, nil
}

// readSearchCriteria reads SP charset 1*(SP search-key), the tail SORT
// and THREAD share.
func (d *Decoder) readSearchCriteria() (string, *SearchKey, error) {
	if err := d.ExpectSP(); err != nil {
		return "", nil, err
	}
	cs, err := d.readCharset()
	if err != nil {
		return "", nil, err
	}
	if err := d.ExpectSP(); err != nil {
		return "", nil, err
	}
	k, err := d.ReadSearchKeys()
	if err != nil {
		return "", nil, err
	}
	return cs, k, nil
}
