package mailapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/mailbox/thread"
	"mailroom/internal/store"
)

// sortOptions are the Email/query sort properties supported (RFC 8621 §4.4.2).
var sortOptions = []string{"receivedAt", "size", "from", "to", "subject", "sentAt", "hasKeyword",
	"allInThreadHaveKeyword", "someInThreadHaveKeyword"}

// comparator is one sort criterion (RFC 8620 §5.5).
type comparator struct {
	Property    string  `json:"property"`
	IsAscending *bool   `json:"isAscending"`
	Collation   *string `json:"collation"`
	Keyword     *string `json:"keyword"`
}

type emailQueryArgs struct {
	AccountID      string          `json:"accountId"`
	Filter         json.RawMessage `json:"filter"`
	Sort           []comparator    `json:"sort"`
	Position       int             `json:"position"`
	Anchor         *string         `json:"anchor"`
	AnchorOffset   int             `json:"anchorOffset"`
	Limit          *int            `json:"limit"`
	CalculateTotal bool            `json:"calculateTotal"`
	// CollapseThreads: one Email per Thread, the first in the sort order.
	CollapseThreads bool `json:"collapseThreads"`
}

type queryResponse struct {
	AccountID           string   `json:"accountId"`
	QueryState          string   `json:"queryState"`
	CanCalculateChanges bool     `json:"canCalculateChanges"`
	Position            int      `json:"position"`
	IDs                 []string `json:"ids"`
	Total               *int     `json:"total,omitempty"`
	Limit               *int     `json:"limit,omitempty"`
}

// maxQueryLimit bounds one page of ids.
const maxQueryLimit = 10_000

// hit is one message a query found.
type hit struct {
	folder int
	meta   store.MessageMeta
	tm     *thread.Message // sort keys, when a sort needs them
}

func (a *API) emailQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var args emailQueryArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	if err := checkSort(c, args.Sort); err != nil {
		return nil, err
	}
	limit := maxQueryLimit
	if args.Limit != nil {
		if *args.Limit < 0 {
			return nil, jmap.Errorf(jmap.ErrInvalidArguments, "limit is not negative")
		}
		limit = min(*args.Limit, maxQueryLimit)
	}
	f, err := parseFilter(c, ac, args.Filter)
	if err != nil {
		return nil, err
	}
	state, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	hits, ts, err := a.findHits(ctx, ac, f, args.Sort)
	if err != nil {
		return nil, err
	}
	page, start, total, err := a.pageOf(ctx, ac, hits, ts, pageArgs{sort: args.Sort, collapse: args.CollapseThreads,
		position: args.Position, anchor: args.Anchor, anchorOffset: args.AnchorOffset, limit: limit})
	if err != nil {
		return nil, err
	}
	resp := queryResponse{AccountID: ac.jid, QueryState: state, CanCalculateChanges: true, IDs: make([]string, 0, len(page))}
	for _, h := range page {
		resp.IDs = append(resp.IDs, emailID(h.meta.ID))
	}
	a.remember(ctx, ac, page)
	resp.Position = start
	if args.CalculateTotal {
		resp.Total = &total
	}
	if args.Limit != nil && limit != *args.Limit {
		resp.Limit = &limit
	}
	return resp, nil
}

// checkSort checks the comparators of an Email query.
func checkSort(c *jmap.Call, sort []comparator) error {
	for _, s := range sort {
		if !slices.Contains(sortOptions, s.Property) {
			return jmap.Errorf(jmap.ErrUnsupportedSort, fmt.Sprintf("cannot sort by %q", s.Property))
		}
		if strings.HasSuffix(s.Property, "Keyword") && (s.Keyword == nil || !validKeyword(*s.Keyword)) {
			return jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("sorting by %s needs a keyword", s.Property))
		}
		if s.Collation != nil && !slices.Contains(c.Limits.CollationAlgorithms, *s.Collation) {
			return jmap.Errorf(jmap.ErrUnsupportedSort, fmt.Sprintf("no collation %q", *s.Collation))
		}
	}
	return nil
}

// runQuery finds and sorts the messages the filter matches.
func (a *API) runQuery(ctx context.Context, ac *acct, f *filter, sort []comparator) ([]hit, error) {
	hits, ts, err := a.findHits(ctx, ac, f, sort)
	if err != nil {
		return nil, err
	}
	if err := a.sortHits(ctx, ac, hits, sort, ts); err != nil {
		return nil, err
	}
	return hits, nil
}

// findHits finds the messages the filter matches, in no order, with the
// thread keyword counts the filter and the sort need (nil if none).
func (a *API) findHits(ctx context.Context, ac *acct, f *filter, sort []comparator) ([]hit, *threadStats, error) {
	var scope []int
	switch only := f.onlyFolder(); {
	case only < 0:
		return nil, nil, nil
	case only > 0:
		scope = []int{ac.byID[only]}
	default:
		scope = []int{}
		for i, fo := range ac.folders {
			if f.mayMatchFolder(f.root, fo.ID()) {
				scope = append(scope, i)
			}
		}
	}
	// Thread keyword counts cover the whole account, whatever the scope.
	var ts *threadStats
	kws := map[string]bool{}
	f.threadKeywords(f.root, kws)
	for _, s := range sort {
		if s.Property == "allInThreadHaveKeyword" || s.Property == "someInThreadHaveKeyword" {
			kws[strings.ToLower(*s.Keyword)] = true
		}
	}
	if len(kws) > 0 {
		ts = &threadStats{total: map[int64]int{}, with: map[string]map[int64]int{}}
		for kw := range kws {
			ts.with[kw] = map[int64]int{}
		}
		err := a.eachMessage(ctx, ac, nil, func(_ int, m store.MessageMeta) bool {
			ts.total[m.ThreadID]++
			for kw := range kws {
				if hasKeyword(m, kw) {
					ts.with[kw][m.ThreadID]++
				}
			}
			return true
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if len(f.content) == 0 {
		// Nothing to search in the messages' content: one pass over the
		// in-memory state decides. Sized once: an INBOX of 100,000 would
		// otherwise grow the slice (of 100-byte hits) some 20 times.
		hits := make([]hit, 0, a.countMessages(ctx, ac, scope))
		err := a.eachMessage(ctx, ac, scope, func(folder int, m store.MessageMeta) bool {
			if f.root == nil || f.match(f.root, ac.folders[folder].ID(), m, nil, ts) {
				hits = append(hits, hit{folder: folder, meta: m})
			}
			return true
		})
		return hits, ts, err
	}
	// Candidates per folder, then the content searches per folder.
	perFolder := map[int][]store.MessageMeta{}
	err := a.eachMessage(ctx, ac, scope, func(folder int, m store.MessageMeta) bool {
		perFolder[folder] = append(perFolder[folder], m)
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	var hits []hit
	for folder, metas := range perFolder {
		fo := ac.folders[folder]
		var answers []map[uint32]bool
		if len(f.content) > 0 {
			box, err := a.svc.Open(ctx, fo.ID())
			if err != nil {
				return nil, nil, fmt.Errorf("open mailbox %d: %w", fo.ID(), err)
			}
			for _, k := range f.content {
				// Days in the server's zone: the search language's before: and
				// after: (JMAP's own dates are instants, compared in match).
				m, err := search.Compile(k, search.Context{MaxSeq: uint32(len(metas)), MaxUID: ^uint32(0), Now: time.Now(), Loc: time.Local})
				if err != nil {
					a.svc.Release(box)
					return nil, nil, jmap.Errorf(jmap.ErrUnsupportedFilter, err.Error())
				}
				uids, err := a.svc.SearchMetas(ctx, box, m, metas)
				if err != nil {
					a.svc.Release(box)
					return nil, nil, fmt.Errorf("search mailbox %d: %w", fo.ID(), err)
				}
				set := make(map[uint32]bool, len(uids))
				for _, u := range uids {
					set[u] = true
				}
				answers = append(answers, set)
			}
			a.svc.Release(box)
		}
		for _, m := range metas {
			if f.root == nil || f.match(f.root, fo.ID(), m, answers, ts) {
				hits = append(hits, hit{folder: folder, meta: m})
			}
		}
	}
	return hits, ts, nil
}

// countMessages is how many messages the folders hold (all, if nil),
// deleted or not: a capacity.
func (a *API) countMessages(ctx context.Context, ac *acct, folders []int) int {
	n := 0
	count := func(i int) {
		if box, err := a.svc.Open(ctx, ac.folders[i].ID()); err == nil {
			total, _ := box.Counts()
			n += total
			a.svc.Release(box)
		}
	}
	if folders == nil {
		for i := range ac.folders {
			count(i)
		}
	}
	for _, i := range folders {
		count(i)
	}
	return n
}

// sortHits orders the hits by the comparators, then by arrival and id, so
// that every query has one order.
func (a *API) sortHits(ctx context.Context, ac *acct, hits []hit, sort []comparator, ts *threadStats) error {
	if numericSort(sort) {
		sortByNumbers(hits, sort, ts)
		return nil
	}
	// Strings to compare: each hit's sort keys from its structure.
	byFolder := map[int][]int{}
	for i, h := range hits {
		byFolder[h.folder] = append(byFolder[h.folder], i)
	}
	for folder, idx := range byFolder {
		box, err := a.svc.Open(ctx, ac.folders[folder].ID())
		if err != nil {
			return fmt.Errorf("open mailbox: %w", err)
		}
		for _, i := range idx {
			tms, err := box.ThreadInputs(ctx, []uint32{hits[i].meta.UID})
			if err != nil {
				a.svc.Release(box)
				return err
			}
			if len(tms) == 1 {
				hits[i].tm = tms[0]
			}
		}
		a.svc.Release(box)
	}
	keyOf := map[string]thread.Key{"from": thread.From, "to": thread.To, "subject": thread.Subject, "sentAt": thread.Date}
	// Every comparison ends in a distinct id, so no stable sort is needed.
	slices.SortFunc(hits, func(x, y hit) int {
		for _, s := range sort {
			var r int
			switch s.Property {
			case "receivedAt":
				r = cmp.Compare(x.meta.InternalDate, y.meta.InternalDate)
			case "size":
				r = cmp.Compare(x.meta.Size, y.meta.Size)
			case "hasKeyword":
				r = cmpBool(hasKeyword(x.meta, *s.Keyword), hasKeyword(y.meta, *s.Keyword))
			case "someInThreadHaveKeyword":
				kw := strings.ToLower(*s.Keyword)
				r = cmpBool(ts.with[kw][x.meta.ThreadID] > 0, ts.with[kw][y.meta.ThreadID] > 0)
			case "allInThreadHaveKeyword":
				kw := strings.ToLower(*s.Keyword)
				r = cmpBool(ts.with[kw][x.meta.ThreadID] == ts.total[x.meta.ThreadID], ts.with[kw][y.meta.ThreadID] == ts.total[y.meta.ThreadID])
			default:
				if x.tm != nil && y.tm != nil {
					r = thread.Compare(x.tm, y.tm, []thread.Criterion{{Key: keyOf[s.Property]}})
				}
			}
			if s.IsAscending != nil && !*s.IsAscending {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		// Ties in the direction of the first comparator (newest first
		// without one): arrival, then id, which follows arrival.
		r := cmp.Compare(y.meta.InternalDate, x.meta.InternalDate)
		if r == 0 {
			r = cmp.Compare(y.meta.ID, x.meta.ID)
		}
		if len(sort) > 0 && (sort[0].IsAscending == nil || *sort[0].IsAscending) {
			r = -r
		}
		return r
	})
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
