package mailapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// TestPageOfMatchesFullSort: pageOf's selection gives the page, start and
// total the full sort and collapse give, for random hits (few and many
// threads, tied dates), every numeric sort shape, positions, anchors and
// limits.
func TestPageOfMatchesFullSort(t *testing.T) {
	no, yes := false, true
	kw := "$flagged"
	sorts := [][]comparator{
		nil,
		{{Property: "receivedAt", IsAscending: &no}},
		{{Property: "receivedAt"}},
		{{Property: "size", IsAscending: &yes}, {Property: "receivedAt", IsAscending: &no}},
		{{Property: "hasKeyword", Keyword: &kw, IsAscending: &no}},
	}
	a := &API{}
	rnd := rand.New(rand.NewPCG(3, 4))
	for round := range 3000 {
		n := rnd.IntN(400)
		threads := 1 + rnd.IntN(max(1, n))
		hits := make([]hit, n)
		for i := range hits {
			hits[i].meta = store.MessageMeta{ID: int64(i + 1), ThreadID: int64(rnd.IntN(threads)), InternalDate: int64(rnd.IntN(50)),
				Size: int64(rnd.IntN(5))}
			if rnd.IntN(3) == 0 {
				hits[i].meta.Flags = store.FlagFlagged
			}
		}
		p := pageArgs{sort: sorts[round%len(sorts)], collapse: round%2 == 0, position: rnd.IntN(n + 10), limit: rnd.IntN(60)}
		if round%3 == 0 && n > 0 {
			id := fmt.Sprintf("M%d", 1+rnd.IntN(n))
			p.anchor, p.anchorOffset = &id, rnd.IntN(7)-3
		}
		want := slices.Clone(hits)
		sortByNumbers(want, p.sort, nil)
		want = collapse(want, p.collapse)
		wantStart, wantErr := startOf(want, p)
		page, start, total, err := a.pageOf(context.Background(), nil, slices.Clone(hits), nil, p)
		var je, wje *jmap.MethodError
		if wantErr != nil || err != nil {
			if !errors.As(err, &je) || !errors.As(wantErr, &wje) || je.Type != wje.Type {
				t.Fatalf("round %d: error %v, want %v", round, err, wantErr)
			}
			continue
		}
		end := min(len(want), wantStart+p.limit)
		if start != wantStart || total != len(want) || len(page) != end-wantStart {
			t.Fatalf("round %d (%+v): start %d total %d len %d, want %d %d %d", round, p, start, total, len(page), wantStart, len(want), end-wantStart)
		}
		for i := range page {
			if page[i].meta.ID != want[wantStart+i].meta.ID {
				t.Fatalf("round %d: page[%d] is %d, want %d", round, i, page[i].meta.ID, want[wantStart+i].meta.ID)
			}
		}
	}
}

func TestIDSet(t *testing.T) {
	s := newIDSet(0)
	ref := map[int64]bool{}
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 10_000 {
		id := int64(rnd.IntN(3000))
		if got := s.add(id); got == ref[id] {
			t.Fatalf("add(%d) = %v with %v", id, got, ref[id])
		}
		ref[id] = true
	}
	if s.len() != len(ref) {
		t.Fatalf("len %d, want %d", s.len(), len(ref))
	}
}
