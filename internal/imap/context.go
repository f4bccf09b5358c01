package imap

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/mailbox/thread"
)

// Live searches: SEARCH RETURN (UPDATE ...) of CONTEXT=SEARCH and SORT
// RETURN (UPDATE ...) of CONTEXT=SORT (RFC 5267 section 4). While the mailbox stays selected, the session keeps each
// such search's result and, wherever it reports the mailbox's changes
// (sendUpdatesExcept: NOOP, IDLE, after commands, between commands with
// NOTIFY), tells the client how the result changed with untagged
// "ESEARCH (TAG t) [UID] ADDTO (...)" / "REMOVEFROM (...)".
//
// Only the messages that changed are evaluated again (new ones, ones
// whose flags changed), against the search's own criteria through the
// session's single search path (searchKeyUIDs). Criteria that name
// messages by position — sequence numbers, "$", a UID set with "*" — can
// change for a message that did not change, so such a search is evaluated
// whole again on each change and its result compared.
//
// The result is kept in the context's order (result), with an ordering
// function (compare) that places new members: a SEARCH context is in
// mailbox (UID) order and reports position 0, as RFC 5267 4.3.3 allows
// for SEARCH; a sorted context (SORT RETURN (UPDATE), CONTEXT=SORT) is
// in its sort order and reports 1-based positions in it. A message's sort
// keys (envelope, size, INTERNALDATE) never change and flags are not sort
// keys (RFC 5256 3), so members keep their order; only membership
// changes. Positions are numbered as the client applies the updates, in
// the order given (RFC 5267 4.3.2): REMOVEFROM first, each at the
// position the message has once the earlier ones are gone; then ADDTO,
// each new member at its position in the final order, in that order, so
// every earlier member is already in place when it is inserted.

// maxLiveSearches is how many updating searches and sorts a session may
// keep; the next one still answers but is refused updates with NOUPDATE
// (RFC 5267 4.3.1: at least one must be possible).
const maxLiveSearches = 10

// liveSearch is one updating search or sort.
type liveSearch struct {
	tag      string
	uid      bool // UID SEARCH/SORT: updates carry UIDs, else sequence numbers
	key      *search.Key
	charset  string
	volatile bool     // criteria name messages by position: evaluate whole
	result   []uint32 // the matching UIDs, in the context's order
	// crit are a sorted context's criteria; keys (nil for SEARCH) are its
	// members' sort keys by UID, kept here rather than looked up again:
	// the mailbox's key cache drops a message when it is expunged, but
	// this session may still have it in its view and its result.
	crit []thread.Criterion
	keys map[uint32]*thread.Message
	// fetch is UPDATE's fetch-att list (RFC 5465 7), written for new
	// messages that join the result, before their ADDTO.
	fetch []wire.FetchItem
}

// sorted reports whether the context is a SORT's.
func (ls *liveSearch) sorted() bool { return ls.keys != nil }

// compare is the context's order: the sort criteria, then UID (RFC 5256
// breaks ties by sequence number, the same order); or UID alone.
func (ls *liveSearch) compare(a, b uint32) int {
	if ls.sorted() {
		if r := thread.Compare(ls.keys[a], ls.keys[b], ls.crit); r != 0 {
			return r
		}
	}
	return cmp.Compare(a, b)
}

// has reports whether u is in the result.
func (ls *liveSearch) has(u uint32) bool {
	if ls.sorted() {
		return ls.keys[u] != nil
	}
	_, ok := slices.BinarySearch(ls.result, u)
	return ok
}

// members returns the result's UIDs, ascending.
func (ls *liveSearch) members() []uint32 {
	if !ls.sorted() {
		return ls.result
	}
	m := slices.Clone(ls.result)
	slices.Sort(m)
	return m
}

// livePos is one message of an ADDTO or REMOVEFROM: its position in the
// context (0 for SEARCH) and its number (UID or sequence number).
type livePos struct {
	pos int
	num uint32
}

// remove takes out of the result the members gone names (with the number
// the update gives them), and returns their positions in the order the
// client removes them: ascending, each counted without the ones removed
// before it.
func (ls *liveSearch) remove(gone func(u uint32) (uint32, bool)) []livePos {
	var out []livePos
	kept := ls.result[:0]
	for i, u := range ls.result {
		num, ok := gone(u)
		if !ok {
			kept = append(kept, u)
			continue
		}
		pos := 0
		if ls.sorted() {
			pos = i + 1 - len(out)
			delete(ls.keys, u)
		}
		out = append(out, livePos{pos, num})
	}
	ls.result = kept
	return out
}

// insert puts add (UIDs not in the result; for a sorted context with
// their keys already in ls.keys) into the result at their places, and
// returns their positions in the final order, ascending, with UIDs as
// numbers.
func (ls *liveSearch) insert(add []uint32) []livePos {
	add = slices.Clone(add)
	slices.SortFunc(add, ls.compare)
	merged := make([]uint32, 0, len(ls.result)+len(add))
	out := make([]livePos, 0, len(add))
	i, j := 0, 0
	for i < len(ls.result) || j < len(add) {
		if j < len(add) && (i == len(ls.result) || ls.compare(add[j], ls.result[i]) < 0) {
			merged = append(merged, add[j])
			pos := 0
			if ls.sorted() {
				pos = len(merged)
			}
			out = append(out, livePos{pos, add[j]})
			j++
			continue
		}
		merged = append(merged, ls.result[i])
		i++
	}
	ls.result = merged
	return out
}

// liveSearches are the selected mailbox's updating searches and sorts.
type liveSearches struct {
	list []*liveSearch
	// upTo is the highest UID the searches have been evaluated for: a
	// message above it in the view is new to them.
	upTo uint32
}

// has reports whether tag names an updating search.
func (l *liveSearches) has(tag string) bool {
	return slices.ContainsFunc(l.list, func(ls *liveSearch) bool { return ls.tag == tag })
}

// volatileKey reports whether the criteria select messages by position or
// by the session's state, so that a message's match can change without the
// message changing.
func volatileKey(k *search.Key) bool {
	if k == nil {
		return false
	}
	switch {
	case k.Op == "SEQ", k.Saved, k.Op == "UID" && k.Set.HasStar():
		return true
	}
	return slices.ContainsFunc(k.Children, volatileKey)
}

// startLive keeps ls (tag, uid, key, charset, result and for a sort crit
// and keys set) live, with UPDATE's fetch-att list. It reports false if
// the session has as many as it may keep (the caller answers NOUPDATE).
func (s *session) startLive(ls *liveSearch, fetch []wire.FetchItem) bool {
	l := &s.sel.live
	if len(l.list) >= maxLiveSearches {
		return false
	}
	if len(l.list) == 0 {
		l.upTo = 0
		if uids := s.sel.view.UIDs(); len(uids) > 0 {
			l.upTo = uids[len(uids)-1]
		}
	}
	ls.volatile = volatileKey(ls.key)
	for _, it := range fetch {
		it.Peek = true
		ls.fetch = append(ls.fetch, it)
	}
	l.list = append(l.list, ls)
	return true
}

// liveBeforeExpunge writes REMOVEFROM for results that u expunges. It
// runs before the EXPUNGE (or VANISHED) responses: sequence numbers are
// those before the expunges, which the client still has (RFC 5267 4.3.4).
func (s *session) liveBeforeExpunge(u *mailbox.Updates) {
	if len(s.sel.live.list) == 0 || len(u.Expunged) == 0 {
		return
	}
	seqOf := make(map[uint32]int, len(u.Expunged))
	for _, e := range u.Expunged {
		seqOf[e.UID] = e.Seq
	}
	for _, ls := range s.sel.live.list {
		gone := ls.remove(func(x uint32) (uint32, bool) {
			seq, ok := seqOf[x]
			if ls.uid {
				return x, ok
			}
			return uint32(seq), ok
		})
		s.writeLive(ls, gone, nil)
	}
}

// liveAfterChanges evaluates the live searches again for what u reported
// after the expunges: new messages and flag changes. It runs after EXISTS
// and the FETCH responses, so new sequence numbers are valid (RFC 5267
// 4.3.3).
func (s *session) liveAfterChanges(u *mailbox.Updates) error {
	l := &s.sel.live
	if len(l.list) == 0 {
		return nil
	}
	view := s.sel.view
	uids := view.UIDs()
	first, _ := slices.BinarySearch(uids, l.upTo+1)
	changed := slices.Clone(uids[first:]) // new to the searches
	newAbove := l.upTo
	for _, m := range u.Flags {
		changed = append(changed, m.UID)
	}
	slices.Sort(changed)
	changed = slices.Compact(changed)
	expunged := len(u.Expunged) > 0 // moves sequence numbers
	for _, ls := range l.list {
		among := changed
		switch {
		case ls.volatile && (len(changed) > 0 || expunged):
			among = nil // all of them
		case len(changed) == 0:
			continue
		}
		hits, err := s.searchKeyUIDs(ls.key, ls.charset, among)
		if err != nil {
			return err
		}
		var add, remove []uint32 // UIDs, ascending
		if among == nil {
			add, remove = diffSorted(ls.members(), hits)
		} else {
			for _, x := range changed {
				was := ls.has(x)
				_, is := slices.BinarySearch(hits, x)
				switch {
				case is && !was:
					add = append(add, x)
				case was && !is:
					remove = append(remove, x)
				}
			}
		}
		if ls.sorted() && len(add) > 0 {
			// The new members' sort keys; one expunged meanwhile is left
			// out, as the search would have.
			msgs, err := s.threadInputs(add)
			if err != nil {
				return err
			}
			add = add[:0]
			for _, m := range msgs {
				ls.keys[m.Num] = m
				add = append(add, m.Num)
			}
		}
		if len(add) == 0 && len(remove) == 0 {
			continue
		}
		if ls.fetch != nil && len(add) > 0 {
			// New messages that join the result: their FETCH before the
			// ADDTO (RFC 5465 7); flag changes get none.
			first, _ := slices.BinarySearch(add, newAbove+1)
			if err := s.fetchFor(ls.fetch, add[first:]); err != nil {
				return err
			}
		}
		removed := ls.remove(func(x uint32) (uint32, bool) {
			if _, ok := slices.BinarySearch(remove, x); !ok {
				return 0, false
			}
			return s.liveNum(ls, x), true
		})
		added := ls.insert(add)
		for i := range added {
			added[i].num = s.liveNum(ls, added[i].num)
		}
		s.writeLive(ls, removed, added)
	}
	// Only now: if evaluating failed (the store away), the new messages
	// are evaluated again at the next report.
	if len(uids) > 0 {
		l.upTo = max(l.upTo, uids[len(uids)-1])
	}
	return nil
}

// liveNum is what an update of ls names message u by: its UID, or its
// sequence number in the view.
func (s *session) liveNum(ls *liveSearch, u uint32) uint32 {
	if ls.uid {
		return u
	}
	return uint32(s.sel.view.Seq(u))
}

// diffSorted returns what is in b and not in a, and what is in a and not
// in b; both ascending.
func diffSorted(a, b []uint32) (added, removed []uint32) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			removed = append(removed, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			added = append(added, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// writeLive writes one ESEARCH update: REMOVEFROM, then ADDTO, as the
// client applies them in order (RFC 5267 4.3.2).
func (s *session) writeLive(ls *liveSearch, remove, add []livePos) {
	if len(remove) == 0 && len(add) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(`ESEARCH (TAG "` + ls.tag + `")`)
	if ls.uid {
		b.WriteString(" UID")
	}
	if len(remove) > 0 {
		b.WriteString(" REMOVEFROM (" + livePairs(remove, false) + ")")
	}
	if len(add) > 0 {
		b.WriteString(" ADDTO (" + livePairs(add, true) + ")")
	}
	s.untagged(b.String())
}

// livePairs renders context-position SP sequence-set pairs. Position 0
// (SEARCH): one pair of all the numbers, ascending. Otherwise one pair
// per run of messages whose numbers ascend by one and whose positions
// follow as the client applies them: the next position for additions,
// the same position for removals (the next message moved up into it).
// A set of one run means the same read in order or as a set, as the RFC
// 5267 4.3.3 example "ADDTO (1 2731:2732)" reads.
func livePairs(ps []livePos, adding bool) string {
	if ps[0].pos == 0 {
		nums := make([]uint32, len(ps))
		for i, p := range ps {
			nums[i] = p.num
		}
		slices.Sort(nums)
		return "0 " + uidSet(nums)
	}
	var b strings.Builder
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1].num == ps[j].num+1 &&
			(adding && ps[j+1].pos == ps[j].pos+1 || !adding && ps[j+1].pos == ps[i].pos) {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(ps[i].pos) + " " + strconv.FormatUint(uint64(ps[i].num), 10))
		if j > i {
			b.WriteString(":" + strconv.FormatUint(uint64(ps[j].num), 10))
		}
		i = j + 1
	}
	return b.String()
}

// cmdCancelUpdate ends updating searches (RFC 5267 4.3.5):
// CANCELUPDATE 1*(SP quoted).
func cmdCancelUpdate(s *session, tag string, _ bool) error {
	tags, err := s.dec.ReadCancelUpdate()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	l := &s.sel.live
	for _, t := range tags {
		if !l.has(t) {
			return no("", "no updating search has the tag %s", strconv.Quote(truncate(t)))
		}
	}
	l.list = slices.DeleteFunc(l.list, func(ls *liveSearch) bool { return slices.Contains(tags, ls.tag) })
	return s.ok(tag, "", "CANCELUPDATE completed")
}
