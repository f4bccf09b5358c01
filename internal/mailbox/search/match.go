package search

import (
	"context"
	"slices"
	"strings"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// Match reports whether msg satisfies the criteria. It loads the
// message's structure, header and body only as far as the keys still
// undecided need them, each at most once, and closes the body it opened
// before returning. Errors come from the store or ctx; malformed message
// content never fails a match, it just does not match.
func (m *Matcher) Match(ctx context.Context, msg Message) (ok bool, err error) {
	return m.match(ctx, msg, nil)
}

func (m *Matcher) match(ctx context.Context, msg Message, idx Index) (ok bool, err error) {
	st := matchState{m: m, ctx: ctx, msg: msg, meta: msg.Meta(), idx: idx}
	if !m.needsContent {
		return st.eval(m.root)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	defer func() {
		if st.ts != nil {
			st.ts.ctx = nil
			m.scanners.Put(st.ts)
		}
		if st.body != nil {
			if cerr := st.body.Close(); err == nil && cerr != nil {
				ok, err = false, cerr
			}
		}
	}()
	return st.eval(m.root)
}

// matchState is one Match: the message and what was loaded of it.
type matchState struct {
	m    *Matcher
	ctx  context.Context
	msg  Message
	meta store.MessageMeta
	idx  Index // nil: no index

	structure *mime.Message
	haveStruc bool
	body      store.Body

	sentDone, sentOK bool
	sent             civilDay

	headerDone, bodyDone bool
	ts                   *textScanner // from the Matcher's pool, on first need
}

func (st *matchState) eval(n *node) (bool, error) {
	meta := &st.meta
	switch n.op {
	case opConst:
		return n.val, nil
	case opAnd:
		for _, k := range n.kids {
			if ok, err := st.eval(k); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	case opOr:
		for _, k := range n.kids {
			if ok, err := st.eval(k); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case opNot:
		ok, err := st.eval(n.kids[0])
		return !ok && err == nil, err
	case opFlags:
		return (meta.Flags&n.flags != 0) != n.neg, nil
	case opRecent:
		return st.msg.Recent(), nil
	case opNew:
		return meta.Flags&store.FlagSeen == 0 && st.msg.Recent(), nil
	case opKeyword:
		has := slices.ContainsFunc(meta.Keywords, func(k string) bool { return strings.EqualFold(k, n.str) })
		return has != n.neg, nil
	case opLarger:
		return meta.Size > 0 && uint64(meta.Size) > n.num, nil
	case opSmaller:
		return meta.Size < 0 || uint64(meta.Size) < n.num, nil
	case opSeq:
		return inSet(n.set, st.msg.Seq()), nil
	case opUID:
		return inSet(n.set, meta.UID), nil
	case opModSeq:
		return meta.ModSeq >= n.num, nil
	case opEmailID:
		return meta.ContentID == n.id, nil
	case opThreadID:
		return meta.ThreadID == n.id, nil
	case opInternal:
		return internalIn(n.rel, meta.InternalDate, n.lo, n.hi), nil
	case opSent:
		day, ok, err := st.sentDay()
		return ok && inRel(n.rel, day, n.day), err
	case opHeader, opBody, opText:
		return st.content(n)
	case opHasAttachment:
		// Not a content leaf (no leaf number for the index): the
		// structure decides.
		return st.hasAttachment()
	}
	return false, nil
}

// content answers a content key: from the index when it knows, else by
// reading the message.
func (st *matchState) content(n *node) (bool, error) {
	if v, decided := st.fromIndex(n); decided {
		return v, nil
	}
	switch n.op {
	case opHeader:
		if err := st.headerPass(); err != nil {
			return false, err
		}
		return st.ts.hit[n.leaf], nil
	case opBody, opText:
		if n.op == opText {
			if err := st.headerPass(); err != nil || st.ts.hit[n.leaf] {
				return err == nil, err
			}
		}
		if err := st.bodyPass(); err != nil {
			return false, err
		}
		return st.ts.bodyHit[n.leaf], nil
	}
	return false, nil
}

// fromIndex answers a content key from the index, when it decides it: a
// miss always does; a hit does unless the key is a HEADER the index only
// narrows.
func (st *matchState) fromIndex(n *node) (v, decided bool) {
	if st.idx == nil {
		return false, false
	}
	hit, known := st.idx.Lookup(n.leaf, st.meta.UID)
	switch {
	case known && !hit:
		return false, true
	case known && (n.op != opHeader || exactHeader(n)):
		return true, true
	}
	return false, false
}

// inSet reports whether v is in a resolved set (sorted, merged ranges).
func inSet(set Set, v uint32) bool {
	_, found := slices.BinarySearchFunc(set, v, func(r Range, v uint32) int {
		switch {
		case r.Stop < v:
			return -1
		case r.Start > v:
			return 1
		}
		return 0
	})
	return found
}

// loadStructure fetches the MIME structure once; nil when the message has
// none to speak of.
func (st *matchState) loadStructure() (*mime.Message, error) {
	if !st.haveStruc {
		s, err := st.msg.Structure(st.ctx)
		if err != nil {
			return nil, err
		}
		st.structure, st.haveStruc = s, true
	}
	if st.structure == nil || st.structure.Root == nil {
		return nil, nil
	}
	return st.structure, nil
}

func (st *matchState) openBody() (store.Body, error) {
	if st.body == nil {
		b, err := st.msg.Body(st.ctx)
		if err != nil {
			return nil, err
		}
		st.body = b
	}
	return st.body, nil
}

// sentDay returns the day of the Date: header, from the envelope the
// scanner recorded: no need to read the message.
func (st *matchState) sentDay() (civilDay, bool, error) {
	if !st.sentDone {
		s, err := st.loadStructure()
		if err != nil {
			return 0, false, err
		}
		st.sentDone = true
		if s != nil && s.Root.Envelope != nil {
			st.sent, st.sentOK = sentDay(s.Root.Envelope.Date)
		}
	}
	return st.sent, st.sentOK, nil
}

// scanner takes a textScanner from the pool, with cleared results.
func (st *matchState) scanner() *textScanner {
	if st.ts == nil {
		ts, _ := st.m.scanners.Get().(*textScanner)
		if ts == nil {
			ts = &textScanner{}
		}
		ts.ctx = st.ctx
		ts.hit = append(ts.hit[:0], make([]bool, st.m.leaves)...)
		ts.bodyHit = append(ts.bodyHit[:0], make([]bool, st.m.leaves)...)
		st.ts = ts
	}
	return st.ts
}
