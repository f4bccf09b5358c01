package wire

import (
	"mailroom/internal/seqset"
)

// SeqRange is one element of a sequence set (see seqset.Range).
type SeqRange = seqset.Range

// SeqSet is a sequence set (RFC 9051 section 9 sequence-set) of message
// sequence numbers or UIDs; its rules for "*" are seqset.Set's.
type SeqSet = seqset.Set

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
		dst = append(dst, SeqRange{Start: start, Stop: stop})
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
