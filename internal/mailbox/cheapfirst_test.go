package mailbox

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
)

// withinSpy is the fixture's store, recording what each SearchText asked.
type withinSpy struct {
	store.Store
	calls []spyCall
}

type spyCall struct {
	fields []store.TextField
	within []uint32
}

func (s *withinSpy) SearchText(ctx context.Context, mailboxID int64, qs []store.TextQuery, within []uint32) (store.TextResult, error) {
	c := spyCall{within: within}
	for _, q := range qs {
		c.fields = append(c.fields, q.Field)
	}
	s.calls = append(s.calls, c)
	return s.Store.SearchText(ctx, mailboxID, qs, within)
}

// TestSearchCheapKeysFirst: metadata keys, then header fields, narrow the
// candidates before TEXT and BODY are asked, and then only about the few
// candidates left; the answers are the evaluator's.
func TestSearchCheapKeysFirst(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var uids []uint32
	for i := range 20 {
		subject := "weekly notes"
		if i%5 == 0 {
			subject = "contract draft"
		}
		body := "nothing here"
		if i%2 == 0 {
			body = "the budget for next year"
		}
		prefix := ""
		if i == 10 {
			prefix = "Delivered-To: budget@example.test\r\n"
		}
		uids = append(uids, f.appendRaw(fmt.Sprintf("From: n%d@example.test\r\nSubject: %s\r\n\r\n%s\r\n", i, subject, body), prefix))
	}
	flagged := []uint32{uids[0], uids[3], uids[4], uids[10]}
	if _, err := f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: flagged, Op: store.FlagsAdd, Flags: store.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	spy := &withinSpy{Store: f.st}
	svc := NewService(spy, nil, nil)
	defer svc.Close()
	text := func(op, v string) *search.Key { return &search.Key{Op: op, Value: v} }
	and := func(ks ...*search.Key) *search.Key { return &search.Key{Op: "AND", Children: ks} }
	for _, tc := range []struct {
		name string
		key  *search.Key
		// what the last SearchText call is restricted to (nil: the whole
		// mailbox)
		within []uint32
	}{
		{"flags then text", and(&search.Key{Op: "FLAGGED"}, text("TEXT", "budget")), flagged},
		{"subject then not text", and(&search.Key{Op: "OR", Children: []*search.Key{text("SUBJECT", "contract"), text("SUBJECT", "nothing")}},
			&search.Key{Op: "NOT", Children: []*search.Key{text("TEXT", "budget")}}), []uint32{uids[0], uids[5], uids[10], uids[15]}},
		{"uid range then body", and(&search.Key{Op: "UID", Set: search.Set{{Start: 1, Stop: 3}}}, text("BODY", "budget")), []uint32{1, 2, 3}},
		{"nothing narrows", text("TEXT", "budget"), nil},
		{"flags rule out all", and(&search.Key{Op: "DELETED"}, text("BODY", "budget")), nil},
	} {
		spy.calls = nil
		m, err := search.Compile(tc.key, search.Context{MaxSeq: 20, MaxUID: uids[19]})
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Search(ctx, f.inbox.ID, m, f.messages(true))
		if err != nil {
			t.Fatal(err)
		}
		want := f.evaluated(m)
		if !slices.Equal(got, want) {
			t.Errorf("%s: index %v, evaluator %v", tc.name, got, want)
		}
		if tc.name == "flags rule out all" {
			if len(spy.calls) != 0 {
				t.Errorf("%s: asked the index %+v about no candidates", tc.name, spy.calls)
			}
			continue
		}
		if len(spy.calls) == 0 {
			t.Fatalf("%s: the index was not asked", tc.name)
		}
		last := spy.calls[len(spy.calls)-1]
		if !slices.Equal(last.within, tc.within) || (tc.within == nil) != (last.within == nil) {
			t.Errorf("%s: last lookup %+v, want within %v", tc.name, last, tc.within)
		}
	}
}
