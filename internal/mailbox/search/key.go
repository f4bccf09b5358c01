package search

import (
	"slices"
	"time"
)

// Key is one node of search criteria: what a protocol asks for, built by
// IMAP from its SEARCH grammar and by the web from its search form. The
// keys are IMAP's (RFC 9051 6.4.4 search-key, with RFC 3501's NEW/OLD/
// RECENT, RFC 7162 MODSEQ, RFC 8474 EMAILID/THREADID and RFC 8514
// SAVEDATE), because IMAP's are the richest; other protocols use a subset.
//
// Op is the canonical upper-case key name, plus:
//
//   - "AND": every one of Children (two or more);
//   - "NOT": Children[0]; "OR": Children[0] or Children[1];
//   - "SEQ": message sequence numbers in Set, or the saved result if Saved;
//   - "UID": UIDs in Set, or the saved result if Saved.
//
// Arguments by Op:
//
//   - BCC BODY CC FROM SUBJECT TEXT TO: Value;
//   - HEADER: Field and Value;
//   - KEYWORD UNKEYWORD: Value (the keyword flag);
//   - BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE SAVEDBEFORE SAVEDON
//     SAVEDSINCE: Date (midnight UTC of the given day);
//   - LARGER SMALLER: Number;
//   - MODSEQ: Number, and optionally Field (the flag of "/flags/<flag>")
//     and EntryType ("priv", "shared" or "all");
//   - EMAILID THREADID: Value (the objectid);
//   - ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED
//     UNDELETED UNDRAFT UNFLAGGED UNSEEN SAVEDATESUPPORTED: none.
type Key struct {
	Op        string
	Value     string
	Field     string
	EntryType string
	Date      time.Time
	Number    uint64
	Set       Set
	Saved     bool
	Children  []*Key
}

// Range is Start:Stop of a set of sequence numbers or UIDs, in either
// order; 0 stands for the largest ("*" in IMAP). A single number n is n:n.
type Range struct{ Start, Stop uint32 }

// Set is a set of message sequence numbers or UIDs.
type Set []Range

// resolve returns the set with 0 replaced by largest, each range ordered
// low:high, sorted, and overlapping or adjacent ranges merged; with max 0,
// ranges involving 0 are dropped (they name no message). The result is a
// new slice.
func (s Set) resolve(largest uint32) Set {
	out := make(Set, 0, len(s))
	for _, r := range s {
		lo, hi := r.Start, r.Stop
		if lo == 0 || hi == 0 {
			if largest == 0 {
				continue
			}
			if lo == 0 {
				lo = largest
			}
			if hi == 0 {
				hi = largest
			}
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		out = append(out, Range{lo, hi})
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
			merged[k].Stop = max(merged[k].Stop, r.Stop)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// uidSet is the set of the given UIDs.
func uidSet(uids []uint32) Set {
	s := make(Set, len(uids))
	for i, u := range uids {
		s[i] = Range{u, u}
	}
	return s
}
