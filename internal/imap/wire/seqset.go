package wire

import (
	"slices"
	"strconv"
)

// SeqRange is one element of a sequence set: Start:Stop, in the order the
// client wrote them (RFC 9051: 2:4 and 4:2 are the same range). 0 stands
// for "*". A single number n is n:n.
type SeqRange struct{ Start, Stop uint32 }

// SeqSet is a sequence set (RFC 9051 section 9 sequence-set) of message
// sequence numbers or UIDs.
//
// "*" is resolved by the caller's max, per RFC 9051 section 9 seq-number:
// for sequence numbers, max is the number of messages, and a set using "*"
// on an empty mailbox deserves a BAD (check HasStar) — with max 0 a range
// involving "*" matches nothing; for UIDs, max is the UID of the last
// message, or UIDNEXT when the mailbox is empty, so that "*" then matches
// no message and "n:*" still covers the last message when n is above it
// (RFC 9051 6.4.9: "559:*" includes the last UID even if it is lower).
type SeqSet []SeqRange

// ParseSeqSet parses the text form, e.g. "1:*,3,5:7". "$" is not accepted
// here: it only means something while reading a command
// (Decoder.ReadSequenceSet).
func ParseSeqSet(s string) (SeqSet, error) {
	set, n, err := scanSeqSet([]byte(s), nil)
	if err != nil {
		return nil, err
	}
	if n != len(s) {
		return nil, syntaxErr(n, "invalid sequence set")
	}
	return set, nil
}

// scanSeqSet parses a sequence set at the start of b, appending ranges to
// dst. It returns the ranges and the bytes consumed.
func scanSeqSet(b []byte, dst []SeqRange) ([]SeqRange, int, error) {
	p := 0
	for {
		start, q, err := scanSeqNumber(b, p)
		if err != nil {
			return nil, q, err
		}
		p = q
		stop := start
		if p < len(b) && b[p] == ':' {
			if stop, p, err = scanSeqNumber(b, p+1); err != nil {
				return nil, p, err
			}
		}
		dst = append(dst, SeqRange{start, stop})
		if p >= len(b) || b[p] != ',' {
			return dst, p, nil
		}
		p++
	}
}

// scanSeqNumber parses seq-number = nz-number / "*" at b[p:].
func scanSeqNumber(b []byte, p int) (uint32, int, error) {
	if p < len(b) && b[p] == '*' {
		return 0, p + 1, nil
	}
	if p >= len(b) || !isDigit(b[p]) {
		return 0, p, syntaxErr(p, "invalid sequence set: expected a number or *")
	}
	if b[p] == '0' {
		return 0, p, syntaxErr(p, "invalid sequence set: numbers start at 1")
	}
	var n uint64
	for p < len(b) && isDigit(b[p]) {
		n = n*10 + uint64(b[p]-'0')
		if n > 1<<32-1 {
			return 0, p, syntaxErr(p, "invalid sequence set: number too large")
		}
		p++
	}
	return uint32(n), p, nil
}

// ReadSequenceSet reads a sequence set. saved reports "$" (RFC 5182
// SEARCHRES: the result of the last SEARCH ... RETURN (SAVE)), in which
// case set is nil. The slice lives in the command arena (valid until the
// next ReadTag).
func (d *Decoder) ReadSequenceSet() (set SeqSet, saved bool, err error) {
	if err := d.fill(); err != nil {
		return nil, false, err
	}
	if d.pos < len(d.line) && d.line[d.pos] == '$' {
		d.pos++
		return nil, true, nil
	}
	start := len(d.arena.seq)
	ranges, n, err := scanSeqSet(d.line[d.pos:], d.arena.seq)
	if err != nil {
		e := err.(*SyntaxError)
		e.Offset += d.pos
		d.pos += n
		if d.pos >= len(d.line) {
			if terr := d.truncErr(); terr != nil {
				return nil, false, terr
			}
		}
		return nil, false, e
	}
	d.pos += n
	if err := d.truncErr(); err != nil {
		return nil, false, err
	}
	d.arena.seq = ranges
	return SeqSet(ranges[start:len(ranges):len(ranges)]), false, nil
}

// resolve turns a range into lo <= hi with "*" replaced by max; ok is false
// for a range involving "*" when max is 0.
func (r SeqRange) resolve(max uint32) (lo, hi uint32, ok bool) {
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
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s {
		if lo, hi, ok := r.resolve(max); ok && lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// HasStar reports whether the set uses "*".
func (s SeqSet) HasStar() bool {
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
func (s SeqSet) Resolve(max uint32) SeqSet {
	out := make(SeqSet, 0, len(s))
	for _, r := range s {
		if lo, hi, ok := r.resolve(max); ok {
			out = append(out, SeqRange{lo, hi})
		}
	}
	slices.SortFunc(out, func(a, b SeqRange) int {
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
func (s SeqSet) Clone() SeqSet { return slices.Clone(s) }

// String returns the text form, "*" for 0, e.g. "1:3,5,7:*".
func (s SeqSet) String() string { return string(s.AppendTo(nil)) }

// AppendTo appends the text form to dst.
func (s SeqSet) AppendTo(dst []byte) []byte {
	for i, r := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendSeqNumber(dst, r.Start)
		if r.Stop != r.Start {
			dst = append(dst, ':')
			dst = appendSeqNumber(dst, r.Stop)
		}
	}
	return dst
}

func appendSeqNumber(dst []byte, n uint32) []byte {
	if n == 0 {
		return append(dst, '*')
	}
	return strconv.AppendUint(dst, uint64(n), 10)
}

// arena holds the slices handed out while reading one command, reused by
// the next, so that a FETCH line costs no allocation once warm.
type arena struct {
	seq   []SeqRange
	items []FetchItem
	secs  []Section
	ints  []int
	strs  []string
	// partials backs FetchItem.Partial pointers.
	partials []Partial
}

// arenaKeep is the capacity above which a buffer is dropped rather than
// reused, so that one huge command does not pin memory on an idle
// connection.
const arenaKeep = 1024

func (a *arena) reset() {
	a.seq = resetSlice(a.seq)
	a.items = resetSlice(a.items)
	a.secs = resetSlice(a.secs)
	a.ints = resetSlice(a.ints)
	a.strs = resetSlice(a.strs)
	a.partials = resetSlice(a.partials)
}

func resetSlice[T any](s []T) []T {
	if cap(s) > arenaKeep {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}
