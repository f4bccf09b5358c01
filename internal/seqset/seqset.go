// Package seqset is a set of message sequence numbers or UIDs, as IMAP
// writes them ("1:3,5,7:*") and as the mailbox service's search resolves
// them: ranges whose ends may be 0, standing for the largest number ("*").
// The IMAP grammar (internal/imap/wire) parses it; search
// (internal/mailbox/search) evaluates it; neither depends on the other.
package seqset

import (
	"slices"
	"strconv"
)

// Range is one element of a sequence set: Start:Stop, in the order the
// client wrote them (RFC 9051: 2:4 and 4:2 are the same range). 0 stands
// for "*". A single number n is n:n.
type Range struct{ Start, Stop uint32 }

// Set is a sequence set (RFC 9051 section 9 sequence-set) of message
// sequence numbers or UIDs.
//
// "*" is resolved by the caller's max, per RFC 9051 section 9 seq-number:
// for sequence numbers, max is the number of messages, and a set using "*"
// on an empty mailbox deserves a BAD (check HasStar) — with max 0 a range
// involving "*" matches nothing; for UIDs, max is the UID of the last
// message, or UIDNEXT when the mailbox is empty, so that "*" then matches
// no message and "n:*" still covers the last message when n is above it
// (RFC 9051 6.4.9: "559:*" includes the last UID even if it is lower).
type Set []Range

// resolve turns a range into lo <= hi with "*" replaced by max; ok is false
// for a range involving "*" when max is 0.
func (r Range) resolve(max uint32) (lo, hi uint32, ok bool) {
	lo, hi = r.Start, r.Stop
	if lo == 0 || hi == 0 {
		if max == 0 {
			return 0, 0, false
		}
		if lo == 0 {
			lo = max
		}
		if hi == 0 {
			hi = max
		}
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi, true
}

// Contains reports whether n is in the set, "*" standing for max.
func (s Set) Contains(n, max uint32) bool {
	for _, r := range s {
		if lo, hi, ok := r.resolve(max); ok && lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// HasStar reports whether the set uses "*".
func (s Set) HasStar() bool {
	for _, r := range s {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// Resolve returns the set with "*" replaced by max, each range ordered
// low:high, sorted, and overlapping or adjacent ranges merged: the compact
// form for COPYUID, VANISHED and ESEARCH ALL. It does not clip to max; with
// max 0, ranges involving "*" are dropped. The result is a new slice.
func (s Set) Resolve(max uint32) Set {
	out := make(Set, 0, len(s))
	for _, r := range s {
		if lo, hi, ok := r.resolve(max); ok {
			out = append(out, Range{lo, hi})
		}
	}
	slices.SortFunc(out, func(a, b Range) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if k := len(merged) - 1; k >= 0 && uint64(r.Start) <= uint64(merged[k].Stop)+1 {
			if r.Stop > merged[k].Stop {
				merged[k].Stop = r.Stop
			}
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// Clone returns a copy that does not alias the decoder's arena.
func (s Set) Clone() Set { return slices.Clone(s) }

// String returns the text form, "*" for 0, e.g. "1:3,5,7:*".
func (s Set) String() string { return string(s.AppendTo(nil)) }

// AppendTo appends the text form to dst.
func (s Set) AppendTo(dst []byte) []byte {
	for i, r := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendNumber(dst, r.Start)
		if r.Stop != r.Start {
			dst = append(dst, ':')
			dst = AppendNumber(dst, r.Stop)
		}
	}
	return dst
}

// AppendNumber appends n in the text form, "*" for 0.
func AppendNumber(dst []byte, n uint32) []byte {
	if n == 0 {
		return append(dst, '*')
	}
	return strconv.AppendUint(dst, uint64(n), 10)
}
