package seqset

import (
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		set     Set
		largest uint32
		want    Set
	}{
		{Set{{Start: 5, Stop: 7}, {Start: 1, Stop: 2}, {Start: 3, Stop: 3}}, 10, Set{{Start: 1, Stop: 3}, {Start: 5, Stop: 7}}},
		{Set{{Start: 5, Stop: 7}, {Start: 1, Stop: 4}}, 10, Set{{Start: 1, Stop: 7}}}, // adjacent ranges merge
		{Set{{Start: 7, Stop: 5}}, 10, Set{{Start: 5, Stop: 7}}},
		{Set{{Start: 4, Stop: 0}}, 10, Set{{Start: 4, Stop: 10}}},
		{Set{{Start: 20, Stop: 0}}, 10, Set{{Start: 10, Stop: 20}}}, // "20:*" covers the last, 10
		{Set{{Start: 0, Stop: 0}, {Start: 2, Stop: 2}}, 0, Set{{Start: 2, Stop: 2}}},
		{Set{{Start: 1, Stop: 3}, {Start: 5, Stop: 6}}, 10, Set{{Start: 1, Stop: 3}, {Start: 5, Stop: 6}}},
		{Set{{Start: 1, Stop: 4294967295}, {Start: 4294967295, Stop: 4294967295}}, 1, Set{{Start: 1, Stop: 4294967295}}},
	} {
		if got := tc.set.Resolve(tc.largest); !slices.Equal(got, tc.want) {
			t.Errorf("%v.Resolve(%d) = %v, want %v", tc.set, tc.largest, got, tc.want)
		}
	}
}

func TestContainsAndText(t *testing.T) {
	s := Set{{Start: 1, Stop: 3}, {Start: 7, Stop: 0}}
	for n, want := range map[uint32]bool{1: true, 3: true, 4: false, 7: true, 9: true, 10: true, 11: false} {
		if got := s.Contains(n, 10); got != want {
			t.Errorf("Contains(%d, 10) = %v", n, got)
		}
	}
	if s.Contains(7, 0) {
		t.Error("a range with * contains something in an empty mailbox")
	}
	if !s.HasStar() || (Set{{Start: 1, Stop: 2}}).HasStar() {
		t.Error("HasStar")
	}
	if got := s.String(); got != "1:3,7:*" {
		t.Errorf("String = %q", got)
	}
	c := s.Clone()
	c[0].Start = 2
	if s[0].Start != 1 {
		t.Error("Clone aliases")
	}
}
