package search

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// maxDepth bounds the nesting of a key tree. The wire decoder stops far
// earlier; this guards trees built elsewhere, since compiling and
// evaluating recurse.
const maxDepth = 2000

// op is a compiled key.
type op uint8

const (
	opConst    op = iota // val
	opAnd                // every kid
	opOr                 // any kid
	opNot                // not kids[0]
	opFlags              // meta.Flags&flags != 0, or == 0 with neg
	opRecent             // \Recent
	opNew                // \Recent and not \Seen
	opKeyword            // has keyword str (neg: has not)
	opLarger             // size > num
	opSmaller            // size < num
	opSeq                // seq in set
	opUID                // UID in set
	opModSeq             // modseq >= num
	opEmailID            // ContentID == id
	opThreadID           // ThreadID == id
	opInternal           // INTERNALDATE day compared by rel to [lo, hi)
	opSent               // Date: header day compared by rel to day
	opHeader             // header field named field contains needle; content leaf
	opBody               // body contains needle; content leaf
	opText               // header or body contains needle; content leaf
)

// Costs, for ordering the children of AND and OR: cheaper keys decide first.
const (
	costMeta      = iota // the in-memory index
	costStructure        // the stored MIME structure
	costHeader           // the message header
	costBody             // the message body
)

// rel is a date comparison.
type rel uint8

const (
	relBefore rel = iota
	relOn
	relSince
)

type node struct {
	op    op
	cost  uint8
	val   bool // opConst
	neg   bool // opFlags, opKeyword
	rel   rel  // opInternal, opSent
	flags store.Flags
	num   uint64
	id    int64
	str   string
	set   Set      // resolved: sorted, merged, no "*"
	lo    int64    // opInternal: the key day's first second in Context.Loc
	hi    int64    // opInternal: the next day's first second
	day   civilDay // opSent
	// needle is the folded search string of a content leaf.
	needle []byte
	field  []byte // opHeader: the field name
	// addr: opHeader of FROM, TO, CC or BCC, which match the addresses
	// (the envelope's field, RFC 3501 6.4.4) as well as the header text.
	addr bool
	// leaf numbers the content leaf, an index into the per-Match results.
	leaf int
	kids []*node
}

// Matcher is compiled search criteria. It is immutable and safe for
// concurrent use.
type Matcher struct {
	root         *node
	needsContent bool
	headerLeaves []*node // opHeader and opText: answered by one header pass
	bodyLeaves   []*node // opBody and opText: answered by one body pass
	leaves       int
	// scanners recycles the content passes' buffers between Matches.
	scanners sync.Pool
}

// NeedsContent reports whether Match may load the message's structure,
// header or body; when false it only uses Meta, Seq and Recent.
func (m *Matcher) NeedsContent() bool { return m.needsContent }

// compiler carries what Compile needs along the tree.
type compiler struct {
	c     Context
	loc   *time.Location
	saved Set // the resolved "$" set
	m     *Matcher
}

// Compile validates a key tree and prepares it for Match: strings are
// converted from c.Charset and folded, sets resolved, dates turned into
// ranges, constant keys folded away, and the children of AND and OR
// ordered by cost. key is not retained (its sets may live in the wire
// decoder's arena).
func Compile(key *Key, c Context) (*Matcher, error) {
	if !mime.KnownCharset(c.Charset) {
		return nil, fmt.Errorf("%w: %q", ErrBadCharset, c.Charset)
	}
	cp := &compiler{c: c, loc: c.Loc, m: &Matcher{}}
	if cp.loc == nil {
		cp.loc = time.UTC
	}
	cp.saved = uidSet(c.Saved).Resolve(c.MaxUID)
	root, err := cp.compile(key, 0)
	if err != nil {
		return nil, err
	}
	cp.m.root = root
	cp.m.needsContent = root.cost > costMeta
	return cp.m, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func constNode(v bool) *node { return &node{op: opConst, val: v} }

var systemFlags = map[string]store.Flags{
	"ANSWERED": store.FlagAnswered, "DELETED": store.FlagDeleted, "DRAFT": store.FlagDraft,
	"FLAGGED": store.FlagFlagged, "SEEN": store.FlagSeen,
}

func (cp *compiler) compile(k *Key, depth int) (*node, error) {
	if k == nil {
		return nil, invalid("missing search key")
	}
	if depth > maxDepth {
		return nil, invalid("search criteria nested too deeply")
	}
	switch k.Op {
	case "AND", "OR":
		return cp.compileList(k, depth)
	case "NOT":
		if len(k.Children) != 1 {
			return nil, invalid("NOT takes one key")
		}
		kid, err := cp.compile(k.Children[0], depth+1)
		if err != nil {
			return nil, err
		}
		if kid.op == opConst {
			return constNode(!kid.val), nil
		}
		return &node{op: opNot, cost: kid.cost, kids: []*node{kid}}, nil
	case "ALL", "SAVEDATESUPPORTED":
		// RFC 8514: SAVEDATESUPPORTED matches every message of a mailbox
		// with save dates, and every mailbox has them here (the
		// INTERNALDATE).
		return constNode(true), nil
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		return &node{op: opFlags, flags: systemFlags[k.Op]}, nil
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return &node{op: opFlags, flags: systemFlags[k.Op[2:]], neg: true}, nil
	case "RECENT":
		return &node{op: opRecent}, nil
	case "OLD":
		return &node{op: opNot, kids: []*node{{op: opRecent}}}, nil
	case "NEW":
		return &node{op: opNew}, nil
	case "KEYWORD", "UNKEYWORD":
		return cp.keyword(k)
	case "LARGER":
		return &node{op: opLarger, num: k.Number}, nil
	case "SMALLER":
		return &node{op: opSmaller, num: k.Number}, nil
	case "SEQ":
		if k.Saved {
			// RFC 5182: "$" names the saved messages, kept as UIDs.
			return &node{op: opUID, set: cp.saved}, nil
		}
		return &node{op: opSeq, set: k.Set.Resolve(cp.c.MaxSeq)}, nil
	case "UID":
		if k.Saved {
			return &node{op: opUID, set: cp.saved}, nil
		}
		return &node{op: opUID, set: k.Set.Resolve(cp.c.MaxUID)}, nil
	case "MODSEQ":
		return cp.modseq(k)
	case "EMAILID", "THREADID":
		if !validObjectID(k.Value) {
			return nil, invalid("invalid object id %q", k.Value)
		}
		op, parse := opEmailID, parseEmailID
		if k.Op == "THREADID" {
			op, parse = opThreadID, parseThreadID
		}
		id, ok := parse(k.Value)
		if !ok {
			return constNode(false), nil // an id this server never hands out
		}
		return &node{op: op, id: id}, nil
	case "BEFORE", "ON", "SINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		return cp.internalDate(k)
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		return &node{op: opSent, cost: costStructure, rel: relOf(k.Op), day: dayOf(k.Date.UTC())}, nil
	case "BCC", "CC", "FROM", "TO":
		n, err := cp.header(k.Op, k.Value)
		if err == nil {
			n.addr = true
		}
		return n, err
	case "SUBJECT":
		return cp.header(k.Op, k.Value)
	case "HEADER":
		return cp.header(k.Field, k.Value)
	case "BODY", "TEXT":
		return cp.text(k)
	case "HASATTACHMENT":
		return &node{op: opHasAttachment, cost: costStructure}, nil
	}
	return nil, invalid("unknown search key %q", k.Op)
}

// compileList compiles AND and OR: constants are folded, nested nodes of
// the same kind flattened, and the children sorted by cost, stably, so
// that the cheap keys short-circuit the expensive ones.
func (cp *compiler) compileList(k *Key, depth int) (*node, error) {
	isAnd := k.Op == "AND"
	if isAnd && len(k.Children) == 0 || !isAnd && len(k.Children) != 2 {
		return nil, invalid("%s with %d keys", k.Op, len(k.Children))
	}
	n := &node{op: opOr}
	if isAnd {
		n.op = opAnd
	}
	for _, ck := range k.Children {
		kid, err := cp.compile(ck, depth+1)
		if err != nil {
			return nil, err
		}
		switch {
		case kid.op == opConst && kid.val == isAnd:
			// true in an AND, false in an OR: no effect
		case kid.op == opConst:
			return constNode(!isAnd), nil
		case kid.op == n.op:
			n.kids = append(n.kids, kid.kids...)
		default:
			n.kids = append(n.kids, kid)
		}
	}
	switch len(n.kids) {
	case 0:
		return constNode(isAnd), nil
	case 1:
		return n.kids[0], nil
	}
	slices.SortStableFunc(n.kids, func(a, b *node) int { return cmp.Compare(a.cost, b.cost) })
	n.cost = n.kids[len(n.kids)-1].cost
	return n, nil
}

func (cp *compiler) keyword(k *Key) (*node, error) {
	neg := k.Op == "UNKEYWORD"
	// A system flag named as a keyword means the flag: clients do send
	// KEYWORD \Seen, and it cannot mean anything else.
	if f, ok := store.ParseFlag(k.Value); ok {
		return &node{op: opFlags, flags: f, neg: neg}, nil
	}
	if !store.ValidKeyword(k.Value) {
		// Never stored, so never set.
		return constNode(neg), nil
	}
	return &node{op: opKeyword, str: k.Value, neg: neg}, nil
}

func (cp *compiler) modseq(k *Key) (*node, error) {
	// RFC 7162 3.1.5: mod-sequence-valzer is at most 2^63-1.
	if k.Number > math.MaxInt64 {
		return nil, invalid("MODSEQ %d out of range", k.Number)
	}
	// The entry names a flag's own modseq; there is one modseq per
	// message here, an upper bound of every flag's, which RFC 7162 3.1.5
	// allows. The entry is only checked.
	switch k.EntryType {
	case "", "priv", "shared", "all":
	default:
		return nil, invalid("MODSEQ entry type %q", k.EntryType)
	}
	if (k.Field == "") != (k.EntryType == "") {
		return nil, invalid("MODSEQ entry name without type")
	}
	if k.Number == 0 {
		return constNode(true), nil
	}
	return &node{op: opModSeq, num: k.Number}, nil
}

func relOf(op string) rel {
	switch {
	case strings.HasSuffix(op, "BEFORE"):
		return relBefore
	case strings.HasSuffix(op, "ON"):
		return relOn
	}
	return relSince
}

// internalDate turns the key's day into the range of Unix seconds it
// covers in the server's zone (23 or 25 hours long across DST changes).
func (cp *compiler) internalDate(k *Key) (*node, error) {
	y, mo, d := k.Date.UTC().Date()
	lo := time.Date(y, mo, d, 0, 0, 0, 0, cp.loc).Unix()
	hi := time.Date(y, mo, d+1, 0, 0, 0, 0, cp.loc).Unix()
	return &node{op: opInternal, rel: relOf(k.Op), lo: lo, hi: hi}, nil
}

// header compiles a header field key.
func (cp *compiler) header(field, value string) (*node, error) {
	needle, err := cp.needle(value)
	if err != nil {
		return nil, err
	}
	// An empty needle asks whether the field is present (RFC 9051).
	n := &node{op: opHeader, cost: costHeader, field: []byte(field), needle: needle, leaf: cp.m.leaves}
	cp.m.leaves++
	cp.m.headerLeaves = append(cp.m.headerLeaves, n)
	return n, nil
}

// text compiles BODY and TEXT. An empty string is in every text.
func (cp *compiler) text(k *Key) (*node, error) {
	needle, err := cp.needle(k.Value)
	if err != nil {
		return nil, err
	}
	if len(needle) == 0 {
		return constNode(true), nil
	}
	n := &node{op: opBody, cost: costBody, needle: needle, leaf: cp.m.leaves}
	cp.m.leaves++
	if k.Op == "TEXT" {
		n.op = opText
		cp.m.headerLeaves = append(cp.m.headerLeaves, n)
	}
	cp.m.bodyLeaves = append(cp.m.bodyLeaves, n)
	return n, nil
}

// needle converts a search string from the command's charset to UTF-8
// and folds it.
func (cp *compiler) needle(s string) ([]byte, error) {
	enc, known := mime.LookupCharset(cp.c.Charset)
	if !known {
		return nil, fmt.Errorf("%w: %q", ErrBadCharset, cp.c.Charset)
	}
	if enc != nil {
		r := enc.NewDecoder().Reader(strings.NewReader(s))
		// A charset conversion grows text at most fourfold (one byte to
		// a four-byte rune); the limit only fences a broken decoder.
		b, err := io.ReadAll(io.LimitReader(r, int64(4*len(s)+16)))
		if err != nil {
			return nil, invalid("search string not in %s", cp.c.Charset)
		}
		s = string(b)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return foldString(nil, s), nil
}

// validObjectID checks RFC 8474 objectid = 1*255(ALPHA / DIGIT / "_" / "-").
func validObjectID(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
