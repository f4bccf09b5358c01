package thread

import (
	"cmp"
	"slices"
	"strings"
)

// Key is one SORT criterion (RFC 5256 section 3, RFC 5957).
type Key int

const (
	Arrival Key = iota
	Cc
	Date
	From
	Size
	Subject
	To
	DisplayFrom
	DisplayTo
)

// Criterion is a sort key, possibly reversed.
type Criterion struct {
	Key     Key
	Reverse bool
}

// column holds one criterion's key for every message, computed once per
// sort: string keys are collated up front so comparison is a byte compare.
type column struct {
	reverse bool
	ints    []int64
	strs    []string
}

// Sort returns the indexes of msgs in the order the criteria give. Ties
// left by every criterion keep the slice order (sequence numbers), and
// REVERSE reverses only its own criterion, not that final tie-break
// (RFC 5256 section 3). No criteria means mailbox order.
func Sort(msgs []*Message, crit []Criterion) []int {
	cols := make([]column, 0, len(crit))
	for _, c := range crit {
		col := column{reverse: c.Reverse}
		switch c.Key {
		case Arrival, Date, Size:
			col.ints = make([]int64, len(msgs))
			for i := range msgs {
				m := msgs[i]
				switch c.Key {
				case Arrival:
					col.ints[i] = m.Arrival
				case Date:
					col.ints[i] = m.Sent
				default:
					col.ints[i] = m.Size
				}
			}
		default:
			col.strs = make([]string, len(msgs))
			for i := range msgs {
				col.strs[i] = stringKey(msgs[i], c.Key)
			}
		}
		cols = append(cols, col)
	}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		for i := range cols {
			c := &cols[i]
			var r int
			if c.ints != nil {
				r = cmp.Compare(c.ints[a], c.ints[b])
			} else {
				r = strings.Compare(c.strs[a], c.strs[b])
			}
			if r != 0 {
				if c.reverse {
					return -r
				}
				return r
			}
		}
		return cmp.Compare(a, b)
	})
	return order
}

// stringKey is the collated string key of one message for a string
// criterion.
func stringKey(m *Message, k Key) string {
	if d := m.derived; d != nil {
		switch k {
		case Cc:
			return d.cc
		case From:
			return d.from
		case To:
			return d.to
		case DisplayFrom:
			return d.displayFrom
		case DisplayTo:
			return d.displayTo
		}
		return d.subject
	}
	switch k {
	case Cc:
		return Collate(AddrMailbox(m.Cc))
	case From:
		return Collate(AddrMailbox(m.From))
	case To:
		return Collate(AddrMailbox(m.To))
	case DisplayFrom:
		return Collate(Display(m.From))
	case DisplayTo:
		return Collate(Display(m.To))
	}
	s, _ := baseKey(m.Subject)
	return s
}
