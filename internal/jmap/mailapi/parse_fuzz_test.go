package mailapi

import (
	"encoding/json"
	"fmt"
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
	f.Add(`{"mailroomQuery":"from:ann \"two words\" -is:read OR has:attachment","inMailbox":"F1"}`)
	f.Add(`{"operator":"AND","conditions":[{"mailroomQuery":"in:trash x"},{"operator":"NOT","conditions":[{"mailroomQuery":"in:nowhere"}]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		// With the search capability, so mailroomQuery is parsed too.
		fl := &filter{search: true}
		ac := &acct{byID: map[int64]int{}}
		root, err := fl.parse(json.RawMessage(s), ac, 0)
		if err != nil {
			return
		}
		fl.root = root
		for _, c := range fl.queries {
			c.mq.scope(fl.inMailbox)
		}
		var subject, body []string
		snippetTerms(root, &subject, &body)
		fl.mayMatchFolder(root, 1)
		fl.onlyFolder()
	})
}

// TestEmailPropsConcurrent: checking header:… properties in concurrent
// requests shares nothing. The check used to append them to the package's
// list of properties, a race between requests (go test -race) in which one
// request's property could be lost to another's.
func TestEmailPropsConcurrent(t *testing.T) {
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for range 200 {
				asked := []string{"subject", "header:X-Probe-" + string(rune('A'+i)) + ":asText"}
				var props map[string]bool
				if props, err = emailProps(&asked, nil, 0, nil); err == nil && !props[asked[1]] {
					err = fmt.Errorf("%s lost", asked[1])
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
