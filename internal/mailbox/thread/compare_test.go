package thread

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"mailroom/internal/mime"
)

// TestCompareAgreesWithSort: placing messages one by one with Compare
// (and the mailbox-order tie-break) gives Sort's order, for every key
// alone and in pairs, reversed or not, with and without Prepare's keys.
func TestCompareAgreesWithSort(t *testing.T) {
	subjects := []string{"Re: b", "a", "[list] Fwd: A", "B (fwd)", "", "Über", "über", "a"}
	names := []string{"carol", "alice", "Bob", "", "Zed", "émile"}
	var msgs []*Message
	for i := range 40 {
		a := func(j int) mime.Address {
			if n := names[(i*j+j)%len(names)]; n != "" {
				return mime.Address{DecodedName: names[(i+j)%len(names)], Mailbox: n, Host: "x"}
			}
			return mime.Address{}
		}
		msgs = append(msgs, &Message{Num: uint32(i + 1), Sent: int64(i * 7 % 5), Arrival: int64(i * 3 % 4),
			Size: int64(i % 3), Fields: &Fields{Subject: subjects[i*5%len(subjects)], From: a(1), To: a(2), Cc: a(3)}})
	}
	keys := []Key{Arrival, Cc, Date, From, Size, Subject, To, DisplayFrom, DisplayTo}
	var crits [][]Criterion
	for _, k := range keys {
		for _, r := range []bool{false, true} {
			crits = append(crits, []Criterion{{Key: k, Reverse: r}})
			for _, k2 := range keys {
				crits = append(crits, []Criterion{{Key: k, Reverse: r}, {Key: k2, Reverse: !r}})
			}
		}
	}
	for _, in := range [][]*Message{msgs, prepared(msgs), compacted(msgs)} {
		for _, c := range crits {
			want := Sort(in, c)
			got := make([]int, len(in))
			for i := range got {
				got[i] = i
			}
			slices.SortFunc(got, func(a, b int) int {
				if r := Compare(in[a], in[b], c); r != 0 {
					return r
				}
				return cmp.Compare(a, b)
			})
			if !slices.Equal(got, want) {
				t.Errorf("%s (prepared %v): Compare gives %v, Sort %v", fmt.Sprint(c), in[0].derived != nil, got, want)
			}
		}
	}
}
