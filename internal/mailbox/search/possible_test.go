package search

import (
	"testing"

	"mailroom/internal/store"
)

// leafIndex answers every content leaf the same way.
type leafIndex struct{ hit, known bool }

func (ix leafIndex) Lookup(int, uint32) (bool, bool) { return ix.hit, ix.known }

// TestPossible: a message is ruled out only when its metadata, or the
// index's answers, decide the criteria false; never by a key that needs
// the message. Table per criteria: without an index, with one that
// answers miss, with one that answers hit.
func TestPossible(t *testing.T) {
	flagged := newMsg(t, "Subject: x\n\nbody\n", store.MessageMeta{UID: 7, Flags: store.FlagFlagged}, 1, false)
	for _, tc := range []struct {
		args            string
		none, miss, hit bool
	}{
		{"FLAGGED", true, true, true},
		{"DELETED", false, false, false},
		{"FLAGGED TEXT x", true, false, true},
		{"DELETED TEXT x", false, false, false},
		{"NOT TEXT x", true, true, false},
		{"OR DELETED TEXT x", true, false, true},
		{"OR FLAGGED TEXT x", true, true, true},
		{"NOT OR DELETED TEXT x", true, true, false},
		{"SENTBEFORE 1-Jan-2000", true, true, true}, // needs the message
		{"NOT SENTBEFORE 1-Jan-2000 DELETED", false, false, false},
		{"HEADER X-Custom y", true, false, true},    // a hit in the whole header only narrows: unknown
		{"NOT HEADER X-Custom y", true, true, true}, // ... so its negation stays possible
		{"UID 1:6 BODY x", false, false, false},
		{"UID 7 BODY x", true, false, true},
	} {
		m, err := Compile(mustKey(t, tc.args), Context{MaxSeq: 1, MaxUID: 7})
		if err != nil {
			t.Fatalf("%s: %v", tc.args, err)
		}
		if got := m.Possible(flagged, nil); got != tc.none {
			t.Errorf("%s, no index: %v, want %v", tc.args, got, tc.none)
		}
		if got := m.Possible(flagged, leafIndex{hit: false, known: true}); got != tc.miss {
			t.Errorf("%s, index misses: %v, want %v", tc.args, got, tc.miss)
		}
		if got := m.Possible(flagged, leafIndex{hit: true, known: true}); got != tc.hit {
			t.Errorf("%s, index hits: %v, want %v", tc.args, got, tc.hit)
		}
		if got := m.Possible(flagged, leafIndex{}); got != tc.none {
			t.Errorf("%s, index does not know: %v, want %v", tc.args, got, tc.none)
		}
	}
}

// TestRequiredAndContentOnly: the index keys every match satisfies, and
// whether the criteria are content keys only, per criteria.
func TestRequiredAndContentOnly(t *testing.T) {
	for _, tc := range []struct {
		args        string
		required    int // how many leaves Required lists
		contentOnly bool
	}{
		{"TEXT x", 1, true},
		{"BODY x SUBJECT y", 2, true},
		{"FLAGGED TEXT x", 1, false},
		{"OR TEXT x BODY y", 0, true},
		{"NOT TEXT x", 0, true},
		{"TEXT x NOT BODY y", 1, true},
		{"HEADER X-Custom y", 0, true}, // a hit in the whole header does not decide
		{"FROM x HEADER X-Custom y", 1, true},
		{`HEADER Subject ""`, 0, true}, // the field is present: not an index key
		{"FLAGGED", 0, false},
		{"SENTBEFORE 1-Jan-2000 TEXT x", 1, false},
	} {
		m, err := Compile(mustKey(t, tc.args), Context{MaxSeq: 1, MaxUID: 7})
		if err != nil {
			t.Fatalf("%s: %v", tc.args, err)
		}
		if got := m.Required(); len(got) != tc.required {
			t.Errorf("%s: Required %v, want %d leaves", tc.args, got, tc.required)
		}
		if got := m.ContentOnly(); got != tc.contentOnly {
			t.Errorf("%s: ContentOnly %v, want %v", tc.args, got, tc.contentOnly)
		}
	}
}
