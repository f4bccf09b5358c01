package store

import "slices"

// JunkDelta is what moving a message from class from to class to does to
// a model's spam and ham message counts (and to the counts of each of its
// tokens).
func JunkDelta(from, to JunkClass) (spam, ham int) {
	for _, c := range []struct {
		class JunkClass
		sign  int
	}{{from, -1}, {to, +1}} {
		switch c.class {
		case JunkSpam:
			spam += c.sign
		case JunkHam:
			ham += c.sign
		}
	}
	return spam, ham
}

// JunkHashKeys turns token hashes into the sorted, distinct signed 64-bit
// keys an SQL backend stores them as.
func JunkHashKeys(hashes []uint64) []int64 {
	out := make([]int64, len(hashes))
	for i, h := range hashes {
		out[i] = int64(h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
