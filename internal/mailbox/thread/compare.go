package thread

import (
	"cmp"
	"strings"
)

// Compare orders two messages by the criteria as Sort does, without
// Sort's final tie-break: 0 means the criteria leave them equal, and the
// caller orders them by sequence number (or UID, the same order).
//
// Sort ranks a whole set's keys at once; Compare is for placing a few new
// messages into an order kept from before (an updating SORT, RFC 5267
// section 4), where sorting everything again for each new message would
// cost n log n per arrival. String keys compare in the byte order Sort
// ranks them by, so both give the same order.
func Compare(a, b *Message, crit []Criterion) int {
	for _, c := range crit {
		var r int
		switch c.Key {
		case Arrival:
			r = cmp.Compare(a.Arrival, b.Arrival)
		case Date:
			r = cmp.Compare(a.Sent, b.Sent)
		case Size:
			r = cmp.Compare(a.Size, b.Size)
		default:
			r = strings.Compare(stringKey(a, c.Key), stringKey(b, c.Key))
		}
		if r != 0 {
			if c.Reverse {
				return -r
			}
			return r
		}
	}
	return 0
}
