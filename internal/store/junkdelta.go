package store

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
