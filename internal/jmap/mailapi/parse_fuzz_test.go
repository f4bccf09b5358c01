package mailapi

import (
	"encoding/json"
	"testing"
)

// The parsers of client input that need no server: states, Email patches,
// filters (with an account of no folders).

func FuzzParseSince(f *testing.F) {
	f.Add("1-12-7")
	f.Add("1-12-7-3")
	f.Add("-1--1")
	f.Fuzz(func(t *testing.T, s string) {
		if st, ok := parseSince(1, s); ok {
			if again, ok := parseSince(1, st.String()); !ok || again != st {
				t.Fatalf("%q: %v does not round-trip (%v)", s, st, again)
			}
		}
	})
}

func FuzzParsePatch(f *testing.F) {
	f.Add(`{"keywords/$seen":true,"mailboxIds/F2":true,"mailboxIds/F1":null}`)
	f.Add(`{"keywords":{"$flagged":true}}`)
	f.Fuzz(func(t *testing.T, s string) {
		parsePatch(json.RawMessage(s))
	})
}

func FuzzFilter(f *testing.F) {
	f.Add(`{"operator":"OR","conditions":[{"text":"x"},{"operator":"NOT","conditions":[{"hasKeyword":"$seen"}]}]}`)
	f.Add(`{"before":"2024-01-01T00:00:00Z","header":["List-Id"]}`)
	f.Fuzz(func(t *testing.T, s string) {
		fl := &filter{}
		fl.parse(json.RawMessage(s), &acct{byID: map[int64]int{}}, 0)
	})
}
