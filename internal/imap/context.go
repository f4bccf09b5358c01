package imap

import (
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailbox/search"
)

// Live searches: SEARCH RETURN (UPDATE ...) of CONTEXT=SEARCH (RFC 5267
// section 4.3). While the mailbox stays selected, the session keeps each
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
// The result is kept in one order (result) and positions are computed
// from it (position): SEARCH keeps mailbox (UID) order and reports
// position 0, as RFC 5267 4.3.3 allows for SEARCH. A sorted context
// (CONTEXT=SORT, ESORT UPDATE) would give liveSearch an ordering other
// than UID order and report the 1-based positions the order gives.

// maxLiveSearches is how many updating searches a session may keep; the
// next one still answers but is refused updates with NOUPDATE (RFC 5267
// 4.3.1: at least one must be possible).
const maxLiveSearches = 10

// liveSearch is one updating search.
type liveSearch struct {
	tag      string
	uid      bool // UID SEARCH: updates carry UIDs, else sequence numbers
	key      *search.Key
	charset  string
	volatile bool     // criteria name messages by position: evaluate whole
	result   []uint32 // the matching UIDs, in the context's order (UID order)
	// fetch is UPDATE's fetch-att list (RFC 5465 7), written for new
	// messages that join the result, before their ADDTO.
	fetch []wire.FetchItem
}

// liveSearches are the selected mailbox's updating searches.
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

// startLive keeps a SEARCH RETURN (UPDATE) live, with hits (UIDs,
// ascending) as its current result. It reports false if the session has
// as many as it may keep (the caller answers NOUPDATE).
func (s *session) startLive(tag string, uid bool, key *search.Key, charset string, fetch []wire.FetchItem, hits []uint32) bool {
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
	ls := &liveSearch{tag: tag, uid: uid, key: key, charset: charset,
		volatile: volatileKey(key), result: slices.Clone(hits)}
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
		var gone []uint32 // UIDs or sequence numbers, ascending
		ls.result = slices.DeleteFunc(ls.result, func(x uint32) bool {
			seq, ok := seqOf[x]
			if ok {
				if ls.uid {
					gone = append(gone, x)
				} else {
					gone = append(gone, uint32(seq))
				}
			}
			return ok
		})
		slices.Sort(gone)
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
		var add, remove []uint32
		if among == nil {
			add, remove = diffSorted(ls.result, hits)
		} else {
			for _, x := range changed {
				_, was := slices.BinarySearch(ls.result, x)
				_, is := slices.BinarySearch(hits, x)
				switch {
				case is && !was:
					add = append(add, x)
				case was && !is:
					remove = append(remove, x)
				}
			}
		}
		if len(add) == 0 && len(remove) == 0 {
			continue
		}
		ls.result = slices.DeleteFunc(ls.result, func(x uint32) bool {
			_, ok := slices.BinarySearch(remove, x)
			return ok
		})
		ls.result = append(ls.result, add...)
		slices.Sort(ls.result)
		if ls.fetch != nil {
			// New messages that join the result: their FETCH before the
			// ADDTO (RFC 5465 7); flag changes get none.
			first, _ := slices.BinarySearch(add, newAbove+1)
			if err := s.fetchFor(ls.fetch, add[first:]); err != nil {
				return err
			}
		}
		if !ls.uid {
			add, remove = s.seqsOf(add), s.seqsOf(remove)
		}
		s.writeLive(ls, remove, add)
	}
	// Only now: if evaluating failed (the store away), the new messages
	// are evaluated again at the next report.
	if len(uids) > 0 {
		l.upTo = max(l.upTo, uids[len(uids)-1])
	}
	return nil
}

// seqsOf maps UIDs (ascending) to the view's sequence numbers.
func (s *session) seqsOf(uids []uint32) []uint32 {
	out := make([]uint32, 0, len(uids))
	for _, u := range uids {
		if seq := s.sel.view.Seq(u); seq != 0 {
			out = append(out, uint32(seq))
		}
	}
	return out
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
// client applies them in order (RFC 5267 4.3.2). Position 0: a SEARCH
// context is in mailbox order.
func (s *session) writeLive(ls *liveSearch, remove, add []uint32) {
	if len(remove) == 0 && len(add) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(`ESEARCH (TAG "` + ls.tag + `")`)
	if ls.uid {
		b.WriteString(" UID")
	}
	if len(remove) > 0 {
		b.WriteString(" REMOVEFROM (0 " + uidSet(remove) + ")")
	}
	if len(add) > 0 {
		b.WriteString(" ADDTO (0 " + uidSet(add) + ")")
	}
	s.untagged(b.String())
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
