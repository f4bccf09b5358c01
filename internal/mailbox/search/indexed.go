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
