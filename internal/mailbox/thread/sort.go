package thread

import (
	"cmp"
	"slices"
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
// sort. String keys become their rank among the distinct keys: mail has
// far fewer distinct subjects and addresses than messages, so sorting
// those once and comparing integers beats comparing strings n log n times.
type column struct {
	reverse bool
	ints    []int64
	ranks   int // for a string key: how many distinct keys (ints are 0..ranks-1)
}

// ranks returns each message's string key for k as its rank in the
// byte order of the distinct keys.
func ranks(msgs []*Message, k Key) ([]int64, int) {
	keys := make([]string, len(msgs))
	index := make(map[string]int64)
	for i, m := range msgs {
		keys[i] = stringKey(m, k)
		index[keys[i]] = 0
	}
	distinct := make([]string, 0, len(index))
	for s := range index {
		distinct = append(distinct, s)
	}
	slices.Sort(distinct)
	for r, s := range distinct {
		index[s] = int64(r)
	}
	out := make([]int64, len(msgs))
	for i, s := range keys {
		out[i] = index[s]
	}
	return out, len(distinct)
}

// byRank is the order of a single string criterion: a counting sort by
// rank, stable, so ties keep the slice order as Sort requires, in O(n)
// where a comparison sort of n keys with few distinct values spends its
// time on ties (a mailbox has far fewer subjects than messages).
func byRank(c column) []int {
	count := make([]int, c.ranks)
	for _, r := range c.ints {
		count[r]++
	}
	// start[r]: where the messages of rank r begin; REVERSE puts the
	// highest rank first.
	start := make([]int, c.ranks)
	pos := 0
	for k := range c.ranks {
		r := k
		if c.reverse {
			r = c.ranks - 1 - k
		}
		start[r] = pos
		pos += count[r]
	}
	order := make([]int, len(c.ints))
	for i, r := range c.ints {
		order[start[r]] = i
		start[r]++
	}
	return order
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
			col.ints, col.ranks = ranks(msgs, c.Key)
		}
		cols = append(cols, col)
	}
	if len(cols) == 1 && cols[0].ranks > 0 {
		return byRank(cols[0])
	}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		for i := range cols {
			c := &cols[i]
			if r := cmp.Compare(c.ints[a], c.ints[b]); r != 0 {
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
	f := m.fields()
	switch k {
	case Cc:
		return Collate(AddrMailbox(f.Cc))
	case From:
		return Collate(AddrMailbox(f.From))
	case To:
		return Collate(AddrMailbox(f.To))
	case DisplayFrom:
		return Collate(Display(f.From))
	case DisplayTo:
		return Collate(Display(f.To))
	}
	s, _ := baseKey(f.Subject)
	return s
}
