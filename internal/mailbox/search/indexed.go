package search

import (
	"bytes"
	"context"

	"mailroom/internal/store"
)

// IndexLeaf is a content key of compiled criteria, as the full-text index
// can answer it: Field and the folded Needle. With Exact, a lookup
// decides the key; otherwise (HEADER, whose field name the index does not
// keep apart) a miss decides it false and a hit leaves it to the
// evaluator.
type IndexLeaf struct {
	Leaf   int // the key's number, passed back to Index.Lookup
	Field  store.TextField
	Needle string
	Exact  bool
}

// IndexLeaves lists the content keys the index can answer. A key whose
// needle is empty (HEADER name "": the field is present) or holds '\n' or
// NUL (the index's unit separator, see store.TextDoc) is left to the
// evaluator.
func (m *Matcher) IndexLeaves() []IndexLeaf {
	var out []IndexLeaf
	seen := make([]bool, m.leaves)
	add := func(n *node) {
		if seen[n.leaf] || len(n.needle) == 0 || bytes.IndexByte(n.needle, '\n') >= 0 || bytes.IndexByte(n.needle, 0) >= 0 {
			return
		}
		seen[n.leaf] = true
		l := IndexLeaf{Leaf: n.leaf, Needle: string(n.needle), Exact: true}
		switch n.op {
		case opText:
			l.Field = store.TextAll
		case opBody:
			l.Field = store.TextBody
		case opHeader:
			l.Field, l.Exact = headerField(n)
		}
		out = append(out, l)
	}
	for _, n := range m.headerLeaves {
		add(n)
	}
	for _, n := range m.bodyLeaves {
		add(n)
	}
	return out
}

// headerField is the index column of a header key: its own for FROM, TO,
// CC, BCC and SUBJECT as those keys compile (HEADER From is a plain
// header key, without the addresses), else the whole header, which only
// narrows.
func headerField(n *node) (store.TextField, bool) {
	if n.addr {
		switch {
		case bytes.EqualFold(n.field, []byte("FROM")):
			return store.TextFrom, true
		case bytes.EqualFold(n.field, []byte("TO")):
			return store.TextTo, true
		case bytes.EqualFold(n.field, []byte("CC")):
			return store.TextCc, true
		case bytes.EqualFold(n.field, []byte("BCC")):
			return store.TextBcc, true
		}
	}
	if bytes.EqualFold(n.field, []byte("SUBJECT")) {
		return store.TextSubject, true
	}
	return store.TextHeader, false
}

// Index answers content keys for one message from the full-text index:
// hit reports the key's answer (or, for a key that is not Exact, whether
// the message may match), known whether the index knows the message.
type Index interface {
	Lookup(leaf int, uid uint32) (hit, known bool)
}

// MatchIndexed is Match with content keys answered by idx where it knows
// the message; the rest are evaluated as Match does.
func (m *Matcher) MatchIndexed(ctx context.Context, msg Message, idx Index) (bool, error) {
	return m.match(ctx, msg, idx)
}

// exactHeader reports whether the index decides a header key.
func exactHeader(n *node) bool {
	_, exact := headerField(n)
	return exact
}

// Possible reports whether msg may still satisfy the criteria, from what
// can be known without reading it: its metadata (flags, keywords, size,
// dates of arrival, UIDs) and what idx (nil: nothing) answers about its
// content keys. It is false only when those rule the message out, so a
// caller may drop such messages before it asks the index about the
// others: the cheap keys narrow first. Keys that need the message itself
// (SENTBEFORE and the like, HASATTACHMENT, content keys idx does not
// decide) are unknown.
func (m *Matcher) Possible(msg Message, idx Index) bool {
	st := matchState{m: m, msg: msg, meta: msg.Meta(), idx: idx}
	v := st.maybe(m.root)
	return v != no
}

// tri is a three-valued truth: what Possible knows of a key.
type tri uint8

const (
	no tri = iota
	yes
	unknown
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// maybe is eval without the message's content.
func (st *matchState) maybe(n *node) tri {
	switch n.op {
	case opAnd:
		v := yes
		for _, k := range n.kids {
			switch st.maybe(k) {
			case no:
				return no
			case unknown:
				v = unknown
			}
		}
		return v
	case opOr:
		v := no
		for _, k := range n.kids {
			switch st.maybe(k) {
			case yes:
				return yes
			case unknown:
				v = unknown
			}
		}
		return v
	case opNot:
		switch st.maybe(n.kids[0]) {
		case yes:
			return no
		case no:
			return yes
		}
		return unknown
	case opHeader, opBody, opText:
		if v, decided := st.fromIndex(n); decided {
			return triOf(v)
		}
		return unknown
	case opSent, opHasAttachment:
		return unknown
	}
	// Every other key is decided by the metadata alone.
	ok, _ := st.eval(n)
	return triOf(ok)
}

// ContentOnly reports whether every key of the criteria is a content key
// (TEXT, BODY, HEADER and the header fields, under AND, OR and NOT):
// Possible then knows nothing without the index, and a caller need not
// ask it about every message before the index has answered.
func (m *Matcher) ContentOnly() bool {
	var walk func(n *node) bool
	walk = func(n *node) bool {
		switch n.op {
		case opAnd, opOr, opNot:
			for _, k := range n.kids {
				if !walk(k) {
					return false
				}
			}
			return true
		case opText, opBody, opHeader:
			return true
		}
		return false
	}
	return walk(m.root)
}

// Required lists the leaves (IndexLeaf.Leaf) of index keys that every
// matching message satisfies and a lookup decides (Exact): the root when
// it is one, or such children of a root AND. A message the index knows
// and finds no hit for in one of them cannot match, so a caller may take
// its candidates from that key's hits.
func (m *Matcher) Required() []int {
	exact := map[int]bool{}
	for _, l := range m.IndexLeaves() {
		if l.Exact {
			exact[l.Leaf] = true
		}
	}
	isLeaf := func(n *node) bool {
		return (n.op == opText || n.op == opBody || n.op == opHeader) && exact[n.leaf]
	}
	var out []int
	switch {
	case isLeaf(m.root):
		out = append(out, m.root.leaf)
	case m.root.op == opAnd:
		for _, k := range m.root.kids {
			if isLeaf(k) {
				out = append(out, k.leaf)
			}
		}
	}
	return out
}
