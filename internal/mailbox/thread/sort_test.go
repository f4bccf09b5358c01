package thread

import (
	"slices"
	"strings"
	"testing"
)

// TestSortOneStringKeyIsStable: a single string criterion (sorted by
// counting its ranks) orders as a stable comparison sort of the keys
// would, REVERSE reversing the keys but not the ties' order.
func TestSortOneStringKeyIsStable(t *testing.T) {
	msgs := benchMessages(500)
	for _, k := range []Key{Subject, From, To, Cc, DisplayFrom, DisplayTo} {
		for _, rev := range []bool{false, true} {
			got := Sort(msgs, []Criterion{{Key: k, Reverse: rev}})
			want := make([]int, len(msgs))
			for i := range want {
				want[i] = i
			}
			slices.SortStableFunc(want, func(a, b int) int {
				r := strings.Compare(stringKey(msgs[a], k), stringKey(msgs[b], k))
				if rev {
					return -r
				}
				return r
			})
			if !slices.Equal(got, want) {
				t.Errorf("key %d reverse %v: order differs from a stable sort", k, rev)
			}
		}
	}
}
