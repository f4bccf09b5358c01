package search

import (
	"time"

	"mailroom/internal/seqset"
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
//     UNDELETED UNDRAFT UNFLAGGED UNSEEN SAVEDATESUPPORTED: none;
//   - HASATTACHMENT (not IMAP's: the web's has:attachment, see
//     HasAttachment): none.
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

// Range and Set are sets of sequence numbers or UIDs, 0 standing for the
// largest ("*" in IMAP): the same type the IMAP grammar parses into.
type (
	Range = seqset.Range
	Set   = seqset.Set
)

// uidSet is the set of the given UIDs.
func uidSet(uids []uint32) Set {
	s := make(Set, len(uids))
	for i, u := range uids {
		s[i] = Range{Start: u, Stop: u}
	}
	return s
}
