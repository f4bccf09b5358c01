package mailapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

var usingSearch = []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:mailroom:params:jmap:search"}

// searchRig is ann's mailboxes with a few messages each, named by the
// test; ids maps an Email id back to the name.
type searchRig struct {
	*rig
	cl    *client
	ids   map[string]string // Email id → name
	byN   map[string]string // name → Email id
	boxes map[string]string // mailbox name → Mailbox id
}

func newSearchRig(t *testing.T) *searchRig {
	r := newRig(t)
	sr := &searchRig{rig: r, cl: r.client(t, "ann@example.test"), ids: map[string]string{}, byN: map[string]string{}, boxes: map[string]string{}}
	for _, name := range []string{"INBOX", "Archive", "Junk", "Trash"} {
		sr.boxes[name] = fmt.Sprintf("F%d", r.Mailbox(r.acct, name).ID)
	}
	day := func(d string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", d+" 12:00", time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	attach := "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: report Q3\r\nMessage-ID: <m2@example.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nnumbers attached\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=q3.pdf\r\n\r\nJVBERi0=\r\n--b--\r\n"
	for _, m := range []struct {
		name, box, date string
		flags           store.Flags
		raw             string
	}{
		{"m1", "INBOX", "2026-01-10", store.FlagSeen, msg("Alice <alice@example.org>", "lunch plans", "let us meet at noon by the river")},
		{"m2", "INBOX", "2026-02-10", 0, attach},
		{"m3", "INBOX", "2026-03-10", store.FlagFlagged, msg("carol@example.org", "lunch menu", "pizza today")},
		{"m4", "Archive", "2025-12-10", store.FlagSeen, msg("alice@example.org", "old lunch", "archived words")},
		{"m5", "Junk", "2026-03-11", 0, msg("spam@example.net", "lunch offer", "buy now")},
		{"m6", "Trash", "2026-03-12", store.FlagSeen, msg("alice@example.org", "deleted lunch", "gone")},
		{"m7", "INBOX", "2026-03-13", store.FlagSeen, strings.Replace(msg("dave@example.org", "status", "all fine"), "To: ann@example.test", "To: team@example.org", 1)},
	} {
		d := r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, m.box).ID, Flags: m.flags, InternalDate: day(m.date)}, m.raw)
		id := fmt.Sprintf("M%d", d.ID)
		sr.ids[id], sr.byN[m.name] = m.name, id
	}
	return sr
}

// query runs Email/query with the search capability and returns the
// names of the Emails found, in order, and the total; an error response
// comes back as its type and description.
func (sr *searchRig) query(t *testing.T, args map[string]any) (names []string, total int, errType string) {
	t.Helper()
	args["accountId"] = sr.cl.account
	args["calculateTotal"] = true
	resp := sr.cl.call(usingSearch, []any{"Email/query", args, "q"})
	if resp[0].Name == "error" {
		return nil, 0, fmt.Sprintf("%v: %v", resp[0].Args["type"], resp[0].Args["description"])
	}
	for _, id := range resp[0].Args["ids"].([]any) {
		names = append(names, sr.ids[id.(string)])
	}
	return names, int(resp[0].Args["total"].(float64)), ""
}

func (sr *searchRig) find(t *testing.T, text string) []string {
	t.Helper()
	names, total, errType := sr.query(t, map[string]any{"filter": map[string]any{"mailroomQuery": text}})
	if errType != "" {
		t.Fatalf("%q: %s", text, errType)
	}
	if total != len(names) {
		t.Errorf("%q: total %d for %d ids", text, total, len(names))
	}
	slices.Sort(names)
	return names
}

func TestMailroomQueryOperators(t *testing.T) {
	sr := newSearchRig(t)
	caps := sr.cl.session["capabilities"].(map[string]any)
	if _, ok := caps["urn:mailroom:params:jmap:search"]; !ok {
		t.Errorf("session lacks the search capability: %v", caps)
	}
	acctCaps := sr.cl.session["accounts"].(map[string]any)[sr.cl.account].(map[string]any)["accountCapabilities"].(map[string]any)
	if _, ok := acctCaps["urn:mailroom:params:jmap:search"]; !ok {
		t.Errorf("account lacks the search capability: %v", acctCaps)
	}
	for _, c := range []struct {
		q    string
		want string
	}{
		{"lunch", "m1 m3 m4"}, // not Junk, not Trash
		{"LUNCH", "m1 m3 m4"},
		{"lunch in:anywhere", "m1 m3 m4 m5 m6"},
		{"lunch in:trash", "m6"},
		{"lunch in:spam", "m5"},
		{"lunch in:Archive", "m4"},
		{"in:inbox", "m1 m2 m3 m7"},
		{"", "m1 m2 m3 m4 m7"},
		{"from:alice", "m1 m4"},
		{"from:alice in:anywhere", "m1 m4 m6"},
		{"-from:alice lunch", "m3"},
		{"to:team", "m7"},
		{"subject:menu", "m3"},
		{`subject:"lunch plans"`, "m1"},
		{`"meet at noon"`, "m1"},
		{`"noon meet"`, ""},
		{"has:attachment", "m2"},
		{"-has:attachment in:inbox", "m1 m3 m7"},
		{"is:unread", "m2 m3"},
		{"is:read", "m1 m4 m7"},
		{"is:starred", "m3"},
		{"after:2026-02-10", "m2 m3 m7"},
		{"before:2026-02-10", "m1 m4"},
		{"after:2026-01-01 before:2026-03-01", "m1 m2"},
		{"pizza OR numbers", "m2 m3"},
		{"lunch pizza OR river", "m1 m3"},
		{`-"let us" lunch`, "m3 m4"},
		{"re:lunch", ""}, // a word with a colon that is not an operator
	} {
		if got := strings.Join(sr.find(t, c.q), " "); got != c.want {
			t.Errorf("%q: got [%s], want [%s]", c.q, got, c.want)
		}
	}
}

func TestMailroomQueryWithStandardFilter(t *testing.T) {
	sr := newSearchRig(t)
	for _, c := range []struct {
		name   string
		filter map[string]any
		want   string
	}{
		// With inMailbox, Junk and Trash are searched when named.
		{"trash by inMailbox", map[string]any{"operator": "AND", "conditions": []any{
			map[string]any{"inMailbox": sr.boxes["Trash"]}, map[string]any{"mailroomQuery": "lunch"}}}, "m6"},
		{"inbox by inMailbox", map[string]any{"operator": "AND", "conditions": []any{
			map[string]any{"inMailbox": sr.boxes["INBOX"]}, map[string]any{"mailroomQuery": "lunch"}}}, "m1 m3"},
		{"one condition", map[string]any{"inMailbox": sr.boxes["Junk"], "mailroomQuery": "lunch"}, "m5"},
		{"in: and another inMailbox", map[string]any{"inMailbox": sr.boxes["INBOX"], "mailroomQuery": "lunch in:archive"}, ""},
		{"with keyword", map[string]any{"mailroomQuery": "lunch", "notKeyword": "$seen"}, "m3"},
		{"OR of two", map[string]any{"operator": "OR", "conditions": []any{
			map[string]any{"mailroomQuery": "pizza"}, map[string]any{"mailroomQuery": "from:dave"}}}, "m3 m7"},
		{"NOT", map[string]any{"operator": "AND", "conditions": []any{
			map[string]any{"mailroomQuery": "lunch"},
			map[string]any{"operator": "NOT", "conditions": []any{map[string]any{"mailroomQuery": "from:alice"}}}}}, "m3"},
		{"with text", map[string]any{"mailroomQuery": "in:anywhere", "text": "lunch", "after": "2026-03-11T00:00:00Z"}, "m5 m6"},
	} {
		names, total, errType := sr.query(t, map[string]any{"filter": c.filter})
		slices.Sort(names)
		if got := strings.Join(names, " "); errType != "" || got != c.want || total != len(names) {
			t.Errorf("%s: got [%s] total %d %s, want [%s]", c.name, got, total, errType, c.want)
		}
	}
	// Sorted by subject, and paged.
	names, total, _ := sr.query(t, map[string]any{"filter": map[string]any{"mailroomQuery": "lunch in:anywhere"},
		"sort": []any{map[string]any{"property": "subject", "isAscending": true}}, "position": 1, "limit": 3})
	if got := strings.Join(names, " "); got != "m3 m5 m1" || total != 5 {
		t.Errorf("sorted by subject: got [%s] total %d", got, total)
	}
}

func TestMailroomQueryErrors(t *testing.T) {
	sr := newSearchRig(t)
	for q, want := range map[string]string{
		"in:nowhere":                   "There is no folder nowhere.",
		"has:pets":                     "has:pets is not known",
		`"unclosed`:                    "A quote is not closed",
		"a OR":                         "OR needs a term on each side",
		"after:yesterday":              "is not a date",
		"in:inbox in:trash":            "Only one in: per search",
		strings.Repeat("w ", 2000):     "too long",
		strings.Repeat("w ", 60):       "too many terms",
		"from:":                        "from: needs a value",
		"-in:inbox":                    "cannot be negated",
		`"a"b`:                         "Put a space after the closing quote",
		strings.Repeat("x", 10) + " -": "must be followed by a term",
	} {
		_, _, errType := sr.query(t, map[string]any{"filter": map[string]any{"mailroomQuery": q}})
		if !strings.HasPrefix(errType, "invalidArguments: ") || !strings.Contains(errType, want) {
			t.Errorf("%.40q: got %q, want invalidArguments with %q", q, errType, want)
		}
	}
	// Not a JMAP string.
	_, _, errType := sr.query(t, map[string]any{"filter": map[string]any{"mailroomQuery": 3}})
	if !strings.HasPrefix(errType, "unsupportedFilter") && !strings.HasPrefix(errType, "invalidArguments") {
		t.Errorf("a number: %q", errType)
	}
	// Without the capability in using, the property is unknown.
	resp := sr.cl.call(nil, []any{"Email/query", map[string]any{"accountId": sr.cl.account, "filter": map[string]any{"mailroomQuery": "lunch"}}, "q"})
	if resp[0].Name != "error" || resp[0].Args["type"] != "unsupportedFilter" {
		t.Errorf("without the capability: %v", resp[0])
	}
}

// TestMailroomQueryThreadsAndTotals: 420 matches in 210 threads, counted
// in full, paged, collapsed.
func TestMailroomQueryThreadsAndTotals(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	ctx := context.Background()
	inbox := r.Mailbox(r.acct, "INBOX")
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var batch []store.Delivery
	for i := range 210 {
		m, err := r.Store.Stage(ctx, strings.NewReader(msg("bob@example.org", fmt.Sprintf("bulk %d", i), "bulk body")))
		if err != nil {
			t.Fatal(err)
		}
		// Two copies of each, one thread; the second 300 threads later,
		// and read; the first ten threads read through.
		var first store.Flags
		if i < 10 {
			first = store.FlagSeen
		}
		batch = append(batch, store.Delivery{Msg: m, Targets: []store.Target{
			{MailboxID: inbox.ID, InternalDate: base.Add(time.Duration(i) * time.Minute), Flags: first},
			{MailboxID: inbox.ID, InternalDate: base.Add(time.Duration(i+300) * time.Minute), Flags: store.FlagSeen},
		}})
	}
	if _, err := r.Store.DeliverAll(ctx, batch); err != nil {
		t.Fatal(err)
	}
	r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, "Junk").ID}, msg("x@example.net", "bulk junk", "bulk"))
	mb := cl.one("Mailbox/get", map[string]any{"ids": []string{fmt.Sprintf("F%d", inbox.ID)}})["list"].([]any)[0].(map[string]any)
	for k, want := range map[string]float64{"totalEmails": 420, "unreadEmails": 200, "totalThreads": 210, "unreadThreads": 200} {
		if mb[k] != want {
			t.Errorf("INBOX %s = %v, want %v", k, mb[k], want)
		}
	}
	q := func(collapse bool, position int) (ids []any, total int) {
		got := cl.call(usingSearch, []any{"Email/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"mailroomQuery": "subject:bulk"},
			"sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "collapseThreads": collapse,
			"position": position, "limit": 100, "calculateTotal": true}, "q"})
		if got[0].Name != "Email/query" {
			t.Fatalf("query: %v", got[0])
		}
		return got[0].Args["ids"].([]any), int(got[0].Args["total"].(float64))
	}
	if _, total := q(false, 0); total != 420 {
		t.Errorf("total %d, want 420", total)
	}
	seen := map[any]bool{}
	for pos := 0; pos < 210; pos += 100 {
		ids, total := q(true, pos)
		if total != 210 || len(ids) != min(100, 210-pos) {
			t.Fatalf("collapsed at %d: %d ids, total %d", pos, len(ids), total)
		}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%v twice", id)
			}
			seen[id] = true
		}
	}
	// The newest of each thread stands for it: the later copies.
	ids, _ := q(true, 0)
	// Anchored: the Email after the 50th is the 51st; an Email that is not
	// its thread's first is not in the collapsed results.
	page2, _ := q(true, 50)
	anchored := func(anchor any, collapse bool) invocation {
		return cl.call(usingSearch, []any{"Email/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"mailroomQuery": "subject:bulk"},
			"sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "collapseThreads": collapse,
			"anchor": anchor, "anchorOffset": 1, "limit": 5}, "q"})[0]
	}
	if got := anchored(ids[49], true); got.Name != "Email/query" || got.Args["position"] != 50.0 || got.Args["ids"].([]any)[0] != page2[0] {
		t.Errorf("anchored at the 50th: %v", got.Args)
	}
	all, _ := q(false, 300)
	older := all[len(all)-1] // an earlier copy: its thread's later one stands for it
	if got := anchored(older, true); got.Name != "error" || got.Args["type"] != "anchorNotFound" {
		t.Errorf("anchor not a thread's first: %v", got)
	}
	if got := anchored(older, false); got.Name != "Email/query" || got.Args["position"] != 300.0+float64(len(all)) {
		t.Errorf("anchor without collapse: %v", got.Args)
	}
	got := cl.one("Email/get", map[string]any{"ids": ids[:1], "properties": []string{"receivedAt", "subject"}})
	e := got["list"].([]any)[0].(map[string]any)
	if e["subject"] != "bulk 209" || e["receivedAt"] != base.Add(509*time.Minute).Format(time.RFC3339) {
		t.Errorf("first: %v", e)
	}
}

func TestMailroomQuerySnippets(t *testing.T) {
	sr := newSearchRig(t)
	resp := sr.cl.call(usingSearch, []any{"SearchSnippet/get", map[string]any{"accountId": sr.cl.account,
		"filter":   map[string]any{"mailroomQuery": `subject:plans "meet at noon" -pizza from:alice OR river`},
		"emailIds": []string{sr.byN["m1"], sr.byN["m3"]}}, "s"})
	if resp[0].Name != "SearchSnippet/get" {
		t.Fatalf("snippets: %v", resp[0])
	}
	bySubject := map[string]map[string]any{}
	for _, s := range resp[0].Args["list"].([]any) {
		s := s.(map[string]any)
		bySubject[sr.ids[s["emailId"].(string)]] = s
	}
	m1 := bySubject["m1"]
	if m1["subject"] != "lunch <mark>plans</mark>" {
		t.Errorf("m1 subject: %v", m1["subject"])
	}
	if p, _ := m1["preview"].(string); p != "let us <mark>meet at noon</mark> by the <mark>river</mark>" {
		t.Errorf("m1 preview: %q", p)
	}
	// pizza is negated: m3's body marks nothing.
	if m3 := bySubject["m3"]; m3["subject"] != nil || m3["preview"] != nil {
		t.Errorf("m3: %v", m3)
	}
	// A parse error is the query's.
	resp = sr.cl.call(usingSearch, []any{"SearchSnippet/get", map[string]any{"accountId": sr.cl.account,
		"filter": map[string]any{"mailroomQuery": "is:lost"}, "emailIds": []string{sr.byN["m1"]}}, "s"})
	if resp[0].Name != "error" || resp[0].Args["type"] != "invalidArguments" || !strings.Contains(fmt.Sprint(resp[0].Args["description"]), "is:lost") {
		t.Errorf("bad query: %v", resp[0])
	}
}

func TestMailroomQueryChanges(t *testing.T) {
	sr := newSearchRig(t)
	args := map[string]any{"accountId": sr.cl.account, "filter": map[string]any{"mailroomQuery": "lunch"},
		"sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}}
	first := sr.cl.call(usingSearch, []any{"Email/query", args, "q"})[0].Args
	state := first["queryState"].(string)
	d := sr.DeliverInto(store.Target{MailboxID: sr.Mailbox(sr.acct, "INBOX").ID, InternalDate: time.Now()}, msg("eve@example.org", "lunch again", "soon"))
	sr.DeliverInto(store.Target{MailboxID: sr.Mailbox(sr.acct, "Junk").ID}, msg("eve@example.org", "lunch junk", "soon"))
	qc := map[string]any{"sinceQueryState": state}
	for k, v := range args {
		qc[k] = v
	}
	got := sr.cl.call(usingSearch, []any{"Email/queryChanges", qc, "c"})[0]
	if got.Name != "Email/queryChanges" {
		t.Fatalf("queryChanges: %v", got)
	}
	added, _ := json.Marshal(got.Args["added"])
	if want := fmt.Sprintf(`[{"id":"M%d","index":0}]`, d.ID); string(added) != want {
		t.Errorf("added %s, want %s", added, want)
	}
	// A renamed folder may change what in: names: the client queries again.
	state = got.Args["newQueryState"].(string)
	set := sr.cl.call(usingSearch, []any{"Mailbox/set", map[string]any{"accountId": sr.cl.account,
		"update": map[string]any{sr.boxes["Archive"]: map[string]any{"name": "Old"}}}, "m"})[0]
	if _, ok := set.Args["updated"].(map[string]any)[sr.boxes["Archive"]]; !ok {
		t.Fatalf("rename: %v", set)
	}
	qc["sinceQueryState"] = state
	got = sr.cl.call(usingSearch, []any{"Email/queryChanges", qc, "c"})[0]
	if got.Name != "error" || got.Args["type"] != "cannotCalculateChanges" {
		t.Errorf("after a rename: %v", got)
	}
}
