package mailapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/jmap"
)

// One page of an Email/query without sorting every hit. A client's list
// asks for 50 of a folder that may hold 100,000 Emails: sorting them all
// (and collapsing them into threads) took most of the query's time. When
// every comparator is a number of the message (receivedAt, size, the
// keyword ones), each hit's comparison values go into a row of int64s;
// the page's end is found by selecting the smallest rows (linear), and
// only those are sorted. The total and an anchor's index are counts, not
// sorts. Orders, totals and indices are exactly those of the full sort
// (sortHits, then collapse): keys are distinct, since every row ends in
// the message's id.

// numericSort reports whether every comparator is a number of the message.
func numericSort(sort []comparator) bool {
	for _, s := range sort {
		switch s.Property {
		case "from", "to", "subject", "sentAt":
			return false
		}
	}
	return true
}

// sortRows are the hits' comparison values, w per hit, signed so that
// ascending order of the rows is the query's order.
type sortRows struct {
	w    int
	keys []int64
}

func newSortRows(hits []hit, sort []comparator, ts *threadStats) *sortRows {
	w := len(sort) + 2
	r := &sortRows{w: w, keys: make([]int64, len(hits)*w)}
	// Ties: arrival, then id, in the direction of the first comparator
	// (newest first without one), as sortHits orders them.
	tieDesc := len(sort) == 0 || (sort[0].IsAscending != nil && !*sort[0].IsAscending)
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	for i := range hits {
		m := &hits[i].meta
		row := r.keys[i*w : i*w+w]
		for j, s := range sort {
			var v int64
			switch s.Property {
			case "receivedAt":
				v = m.InternalDate
			case "size":
				v = m.Size
			case "hasKeyword":
				v = b2i(hasKeyword(*m, *s.Keyword))
			case "someInThreadHaveKeyword":
				v = b2i(ts.with[strings.ToLower(*s.Keyword)][m.ThreadID] > 0)
			case "allInThreadHaveKeyword":
				v = b2i(ts.with[strings.ToLower(*s.Keyword)][m.ThreadID] == ts.total[m.ThreadID])
			}
			if s.IsAscending != nil && !*s.IsAscending {
				v = -v
			}
			row[j] = v
		}
		row[w-2], row[w-1] = m.InternalDate, m.ID
		if tieDesc {
			row[w-2], row[w-1] = -m.InternalDate, -m.ID
		}
	}
	return r
}

func (r *sortRows) cmp(x, y int32) int {
	kx, ky := r.keys[int(x)*r.w:int(x)*r.w+r.w], r.keys[int(y)*r.w:int(y)*r.w+r.w]
	for j := range kx {
		if c := cmp.Compare(kx[j], ky[j]); c != 0 {
			return c
		}
	}
	return 0
}

// sortByNumbers sorts hits as sortHits does, for a numeric sort: an index
// is sorted by the rows, not the 100-byte hits.
func sortByNumbers(hits []hit, sort []comparator, ts *threadStats) {
	rows := newSortRows(hits, sort, ts)
	order := indices(len(hits))
	slices.SortFunc(order, rows.cmp)
	sorted := make([]hit, len(hits))
	for i, o := range order {
		sorted[i] = hits[o]
	}
	copy(hits, sorted)
}

func indices(n int) []int32 {
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	return order
}

// pageArgs are what of Email/query's arguments a page depends on.
type pageArgs struct {
	sort         []comparator
	collapse     bool
	position     int
	anchor       *string
	anchorOffset int
	limit        int
}

// pageOf is the query's page of hits (found in no order), its start
// index and the total, as Email/query answers them (RFC 8620 §5.5).
func (a *API) pageOf(ctx context.Context, ac *acct, hits []hit, ts *threadStats, p pageArgs) (page []hit, start, total int, err error) {
	if !numericSort(p.sort) || (p.anchor == nil && p.position < 0) {
		// A sort by strings, or a page counted from the end: sort them all.
		if err := a.sortHits(ctx, ac, hits, p.sort, ts); err != nil {
			return nil, 0, 0, err
		}
		hits = collapse(hits, p.collapse)
		if start, err = startOf(hits, p); err != nil {
			return nil, 0, 0, err
		}
		end := min(len(hits), start+p.limit)
		return hits[start:end], start, len(hits), nil
	}
	rows := newSortRows(hits, p.sort, ts)
	total = len(hits)
	if p.collapse {
		threads := newIDSet(len(hits))
		for i := range hits {
			threads.add(hits[i].meta.ThreadID)
		}
		total = threads.len()
	}
	start = p.position
	if p.anchor != nil {
		n, _ := parseID('M', *p.anchor)
		at := slices.IndexFunc(hits, func(h hit) bool { return h.meta.ID == n })
		if at < 0 {
			return nil, 0, 0, anchorNotFound(*p.anchor)
		}
		// The anchor's index is how many Emails (threads) come before it;
		// collapsed, it is in the results only if it is its thread's first.
		before := newIDSet(0)
		count := 0
		thread := hits[at].meta.ThreadID
		for i := range hits {
			if rows.cmp(int32(i), int32(at)) >= 0 {
				continue
			}
			if !p.collapse {
				count++
				continue
			}
			if hits[i].meta.ThreadID == thread {
				return nil, 0, 0, anchorNotFound(*p.anchor)
			}
			before.add(hits[i].meta.ThreadID)
		}
		if p.collapse {
			count = before.len()
		}
		start = max(0, count+p.anchorOffset)
	}
	start = min(start, total)
	end := min(total, start+p.limit)
	first := firstN(hits, rows, end, p.collapse)
	page = make([]hit, 0, end-start)
	for _, i := range first[start:end] {
		page = append(page, hits[i])
	}
	return page, start, total, nil
}

// startOf is the page's start in sorted (and collapsed) hits.
func startOf(hits []hit, p pageArgs) (int, error) {
	start := p.position
	if p.anchor != nil {
		n, _ := parseID('M', *p.anchor)
		i := slices.IndexFunc(hits, func(h hit) bool { return h.meta.ID == n })
		if i < 0 {
			return 0, anchorNotFound(*p.anchor)
		}
		start = max(0, i+p.anchorOffset)
	} else if start < 0 {
		start = max(0, len(hits)+start)
	}
	return min(start, len(hits)), nil
}

func anchorNotFound(anchor string) error {
	return jmap.Errorf(jmap.ErrAnchorNotFound, fmt.Sprintf("%q is not in the results", anchor))
}

// firstN is the indices of the first n results in order (fewer if there
// are fewer): the smallest rows, collapsed to one per thread. Collapsed,
// it selects twice n rows, and four times more each time those hold
// fewer than n threads: the first n threads of a sorted prefix are the
// first n of all.
func firstN(hits []hit, rows *sortRows, n int, collapsed bool) []int32 {
	order := indices(len(hits))
	if n == 0 {
		return nil
	}
	m := n
	if collapsed {
		m = max(2*n, 64)
	}
	for {
		if m >= len(order) {
			slices.SortFunc(order, rows.cmp)
			return take(hits, order, n, collapsed)
		}
		selectSmallest(order, m, rows)
		slices.SortFunc(order[:m], rows.cmp)
		if out := take(hits, order[:m], n, collapsed); len(out) == n {
			return out
		}
		m *= 4
	}
}

// take is the first n of sorted indices, one per thread if collapsed.
func take(hits []hit, sorted []int32, n int, collapsed bool) []int32 {
	if !collapsed {
		return sorted[:min(n, len(sorted))]
	}
	out := make([]int32, 0, n)
	seen := newIDSet(n)
	for _, i := range sorted {
		if len(out) == n {
			break
		}
		if seen.add(hits[i].meta.ThreadID) {
			out = append(out, i)
		}
	}
	return out
}

// selectSmallest reorders order so that its first m hold the m smallest
// rows (in no order): quickselect with a median-of-three pivot, and a
// plain sort should a hostile order make it take too many rounds.
func selectSmallest(order []int32, m int, rows *sortRows) {
	lo, hi := 0, len(order) // the m-th smallest is within order[lo:hi]
	for round := 0; hi-lo > 1; round++ {
		if round > 64 {
			slices.SortFunc(order[lo:hi], rows.cmp)
			return
		}
		// The median of the first, middle and last to order[lo].
		x, y, z := lo, lo+(hi-lo)/2, hi-1
		if rows.cmp(order[x], order[y]) > 0 {
			x, y = y, x
		}
		if rows.cmp(order[y], order[z]) > 0 {
			y = z
			if rows.cmp(order[x], order[y]) > 0 {
				y = x
			}
		}
		order[lo], order[y] = order[y], order[lo]
		pivot := order[lo]
		// Lomuto: order[lo+1:store] < pivot.
		store := lo + 1
		for i := lo + 1; i < hi; i++ {
			if rows.cmp(order[i], pivot) < 0 {
				order[i], order[store] = order[store], order[i]
				store++
			}
		}
		order[lo], order[store-1] = order[store-1], order[lo]
		p := store - 1 // the pivot's final place
		switch {
		case p == m || p == m-1:
			return
		case p > m:
			hi = p
		default:
			lo = p + 1
		}
	}
}

// idSet is a set of positive ids (threads) by open addressing: the maps
// of Go cost several times more per id, and a query adds up to one per
// Email of the folder.
type idSet struct {
	slots []int64 // 0: empty
	n     int
	zero  bool // the id 0, which has no slot
}

func newIDSet(capacity int) *idSet {
	size := 16
	for size < 2*capacity {
		size *= 2
	}
	return &idSet{slots: make([]int64, size)}
}

// add adds id, false if it was there.
func (s *idSet) add(id int64) bool {
	if id == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		s.slots, s.n = make([]int64, 2*len(old)), 0
		for _, v := range old {
			if v != 0 {
				s.add(v)
			}
		}
	}
	mask := uint64(len(s.slots) - 1)
	for i := (uint64(id) * 0x9E3779B97F4A7C15) >> 32 & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case id:
			return false
		case 0:
			s.slots[i] = id
			s.n++
			return true
		}
	}
}

func (s *idSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}
