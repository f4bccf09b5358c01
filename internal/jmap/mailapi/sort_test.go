package mailapi_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestEmailQuerySortOrders: each numeric comparator, both directions,
// two of them, and the ties (same arrival second: then the id, in the
// first comparator's direction), against an order computed here.
func TestEmailQuerySortOrders(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	inbox := r.Mailbox(r.acct, "INBOX")
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	type m struct {
		id      int64
		date    int64
		size    int64
		flagged bool
	}
	var ms []m
	byID := map[string]m{}
	for i := range 12 {
		// Dates with ties (i/3), sizes not in date order.
		date := base.Add(time.Duration(i/3) * time.Hour)
		var flags store.Flags
		if i%4 == 1 {
			flags = store.FlagFlagged
		}
		body := strings.Repeat("x", (i*7)%5*100)
		d := r.DeliverInto(store.Target{MailboxID: inbox.ID, InternalDate: date, Flags: flags}, msg("bob@example.org", fmt.Sprintf("sort %d", i), body))
		got := cl.one("Email/get", map[string]any{"ids": []string{fmt.Sprintf("M%d", d.ID)}, "properties": []string{"size"}})
		size := int64(got["list"].([]any)[0].(map[string]any)["size"].(float64))
		e := m{id: d.ID, date: date.Unix(), size: size, flagged: flags != 0}
		ms = append(ms, e)
		byID[fmt.Sprintf("M%d", d.ID)] = e
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	for _, c := range []struct {
		sort []any
		cmp  func(x, y m) int
	}{
		{nil, func(x, y m) int { return cmp.Or(cmp.Compare(y.date, x.date), cmp.Compare(y.id, x.id)) }},
		{[]any{map[string]any{"property": "receivedAt"}}, func(x, y m) int { return cmp.Or(cmp.Compare(x.date, y.date), cmp.Compare(x.id, y.id)) }},
		{[]any{map[string]any{"property": "receivedAt", "isAscending": false}}, func(x, y m) int { return cmp.Or(cmp.Compare(y.date, x.date), cmp.Compare(y.id, x.id)) }},
		{[]any{map[string]any{"property": "size", "isAscending": false}}, func(x, y m) int {
			return cmp.Or(cmp.Compare(y.size, x.size), cmp.Compare(y.date, x.date), cmp.Compare(y.id, x.id))
		}},
		{[]any{map[string]any{"property": "hasKeyword", "keyword": "$flagged", "isAscending": false}, map[string]any{"property": "size"}}, func(x, y m) int {
			return cmp.Or(cmp.Compare(b2i(y.flagged), b2i(x.flagged)), cmp.Compare(x.size, y.size), cmp.Compare(y.date, x.date), cmp.Compare(y.id, x.id))
		}},
		{[]any{map[string]any{"property": "someInThreadHaveKeyword", "keyword": "$flagged"}, map[string]any{"property": "receivedAt", "isAscending": false}}, func(x, y m) int {
			return cmp.Or(cmp.Compare(b2i(x.flagged), b2i(y.flagged)), cmp.Compare(y.date, x.date), cmp.Compare(x.id, y.id))
		}},
	} {
		want := slices.Clone(ms)
		slices.SortFunc(want, c.cmp)
		args := map[string]any{"filter": map[string]any{"inMailbox": fmt.Sprintf("F%d", inbox.ID)}}
		if c.sort != nil {
			args["sort"] = c.sort
		}
		ids := cl.one("Email/query", args)["ids"].([]any)
		if len(ids) != len(want) {
			t.Fatalf("sort %v: %d ids", c.sort, len(ids))
		}
		for i, id := range ids {
			if byID[id.(string)].id != want[i].id {
				t.Errorf("sort %v: got %v, want order %v", c.sort, ids, want)
				break
			}
		}
	}
}
