package mailapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/store"
)

func TestSessionAndMailboxes(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	caps := cl.session["capabilities"].(map[string]any)
	core := caps["urn:ietf:params:jmap:core"].(map[string]any)
	for _, k := range []string{"maxSizeUpload", "maxSizeRequest", "maxCallsInRequest", "maxObjectsInGet", "maxObjectsInSet", "maxConcurrentRequests"} {
		if _, ok := core[k]; !ok {
			t.Errorf("core capability lacks %s", k)
		}
	}
	if _, ok := caps["urn:ietf:params:jmap:mail"]; !ok {
		t.Error("no mail capability")
	}
	r.Deliver(r.acct, msg("bob@example.org", "hello one", "first"))
	r.Deliver(r.acct, msg("bob@example.org", "hello two", "second"))

	got := cl.one("Mailbox/get", map[string]any{"ids": nil})
	list := got["list"].([]any)
	roles := map[string]map[string]any{}
	for _, m := range list {
		mb := m.(map[string]any)
		if role, ok := mb["role"].(string); ok {
			roles[role] = mb
		}
	}
	for _, role := range []string{"inbox", "drafts", "sent", "archive", "junk", "trash"} {
		if roles[role] == nil {
			t.Errorf("no mailbox with role %s in %v", role, list)
		}
	}
	inbox := roles["inbox"]
	if inbox["totalEmails"].(float64) != 2 || inbox["unreadEmails"].(float64) != 2 || inbox["totalThreads"].(float64) != 2 {
		t.Errorf("inbox counts: %v", inbox)
	}
	if !inbox["myRights"].(map[string]any)["mayReadItems"].(bool) {
		t.Errorf("inbox rights: %v", inbox["myRights"])
	}
	if got["state"] == "" {
		t.Error("no state")
	}
}

func TestQueryGetAndBackReferences(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	for i := range 5 {
		r.Deliver(r.acct, msg("bob@example.org", fmt.Sprintf("note %d", i), fmt.Sprintf("body %d", i)))
	}
	inbox := r.Mailbox(r.acct, "INBOX")
	resp := cl.call(nil,
		[]any{"Email/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"inMailbox": fmt.Sprintf("F%d", inbox.ID)},
			"sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "limit": 3, "calculateTotal": true}, "q"},
		[]any{"Email/get", map[string]any{"accountId": cl.account, "#ids": map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"},
			"properties": []string{"subject", "from", "threadId", "keywords", "mailboxIds", "preview", "receivedAt"}}, "g"},
		[]any{"Thread/get", map[string]any{"accountId": cl.account, "#ids": map[string]any{"resultOf": "g", "name": "Email/get", "path": "/list/*/threadId"}}, "t"},
	)
	if len(resp) != 3 || resp[0].Name != "Email/query" || resp[1].Name != "Email/get" || resp[2].Name != "Thread/get" {
		b, _ := json.Marshal(resp)
		t.Fatalf("responses: %s", b)
	}
	q := resp[0].Args
	if q["total"].(float64) != 5 || len(q["ids"].([]any)) != 3 {
		t.Errorf("query: %v", q)
	}
	list := resp[1].Args["list"].([]any)
	if len(list) != 3 {
		t.Fatalf("get: %v", resp[1].Args)
	}
	first := list[0].(map[string]any)
	if first["subject"] != "note 4" {
		t.Errorf("newest first: got %v", first["subject"])
	}
	from := first["from"].([]any)[0].(map[string]any)
	if from["email"] != "bob@example.org" {
		t.Errorf("from: %v", from)
	}
	if len(resp[2].Args["list"].([]any)) != 3 {
		t.Errorf("threads: %v", resp[2].Args)
	}
}

func TestSetKeywordsMoveDestroyVisibleToIMAPState(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	d := r.Deliver(r.acct, msg("bob@example.org", "flag me", "x"))
	archive := r.Mailbox(r.acct, "Archive")
	id := fmt.Sprintf("M%d", d.ID)
	before := cl.one("Email/get", map[string]any{"ids": []string{id}, "properties": []string{"keywords"}})["state"].(string)

	set := cl.one("Email/set", map[string]any{"update": map[string]any{id: map[string]any{"keywords/$seen": true, "keywords/$flagged": true}}})
	if _, ok := set["updated"].(map[string]any)[id]; !ok {
		t.Fatalf("set: %v", set)
	}
	if set["oldState"] != before || set["newState"] == before {
		t.Errorf("states: old %v new %v before %v", set["oldState"], set["newState"], before)
	}
	metas := r.Messages(r.acct, "INBOX")
	if len(metas) != 1 || metas[0].Flags&(store.FlagSeen|store.FlagFlagged) != store.FlagSeen|store.FlagFlagged {
		t.Fatalf("flags in the store: %+v", metas)
	}
	set = cl.one("Email/set", map[string]any{"update": map[string]any{id: map[string]any{"mailboxIds": map[string]any{fmt.Sprintf("F%d", archive.ID): true}}}})
	if _, ok := set["updated"].(map[string]any)[id]; !ok {
		t.Fatalf("move: %v", set)
	}
	if n := len(r.Messages(r.acct, "Archive")); n != 1 {
		t.Fatalf("archive has %d messages", n)
	}
	// The id survives the move.
	got := cl.one("Email/get", map[string]any{"ids": []string{id}, "properties": []string{"mailboxIds", "keywords"}})
	if len(got["list"].([]any)) != 1 {
		t.Fatalf("moved email not found: %v", got)
	}
	two := cl.one("Email/set", map[string]any{"update": map[string]any{id: map[string]any{"mailboxIds": map[string]any{fmt.Sprintf("F%d", archive.ID): true, fmt.Sprintf("F%d", r.Mailbox(r.acct, "INBOX").ID): true}}}})
	if e := two["notUpdated"].(map[string]any)[id].(map[string]any); e["type"] != "tooManyMailboxes" {
		t.Errorf("two mailboxes: %v", two)
	}
	del := cl.one("Email/set", map[string]any{"destroy": []string{id, "M999999"}})
	if len(del["destroyed"].([]any)) != 1 || del["notDestroyed"].(map[string]any)["M999999"].(map[string]any)["type"] != "notFound" {
		t.Errorf("destroy: %v", del)
	}
	if n := len(r.Messages(r.acct, "Archive")); n != 0 {
		t.Errorf("archive still has %d messages", n)
	}
}

func TestRequestErrors(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	if code, p := cl.problem([]byte("{not json")); code != 400 || p["type"] != "urn:ietf:params:jmap:error:notJSON" {
		t.Errorf("not JSON: %d %v", code, p)
	}
	if code, p := cl.problem([]byte(`{"methodCalls":[]}`)); code != 400 || p["type"] != "urn:ietf:params:jmap:error:notRequest" {
		t.Errorf("not a request: %d %v", code, p)
	}
	if code, p := cl.problem([]byte(`{"using":["urn:example:nothing"],"methodCalls":[]}`)); code != 400 || p["type"] != "urn:ietf:params:jmap:error:unknownCapability" {
		t.Errorf("unknown capability: %d %v", code, p)
	}
	var calls []string
	for i := range 10000 {
		calls = append(calls, fmt.Sprintf(`["Core/echo",{},"c%d"]`, i))
	}
	if code, p := cl.problem([]byte(`{"using":["urn:ietf:params:jmap:core"],"methodCalls":[` + strings.Join(calls, ",") + `]}`)); code != 400 || p["limit"] != "maxCallsInRequest" {
		t.Errorf("10,000 calls: %d %v", code, p)
	}
	big := `{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"x":"` + strings.Repeat("a", 10<<20) + `"},"c"]]}`
	if code, p := cl.problem([]byte(big)); code != 400 || p["limit"] != "maxSizeRequest" {
		t.Errorf("10 MB: %d %v", code, p)
	}
	// Method-level errors.
	resp := cl.call([]string{"urn:ietf:params:jmap:core"},
		[]any{"Core/echo", map[string]any{"hello": true}, "e"},
		[]any{"Mailbox/get", map[string]any{"accountId": cl.account}, "m"}, // mail not in using
		[]any{"Core/echo", map[string]any{"#x": map[string]any{"resultOf": "later", "name": "Core/echo", "path": "/x"}}, "r"},
		[]any{"Core/echo", map[string]any{"#x": map[string]any{"resultOf": "e", "name": "Core/echo", "path": "/nothing"}}, "r2"},
		[]any{"Core/echo", map[string]any{"#x": map[string]any{"resultOf": "e", "name": "Core/echo", "path": "/hello"}}, "ok"},
		[]any{"later", map[string]any{}, "later"},
	)
	want := []string{"Core/echo", "error", "error", "error", "Core/echo", "error"}
	for i, w := range want {
		if resp[i].Name != w {
			b, _ := json.Marshal(resp)
			t.Fatalf("response %d is %s, want %s: %s", i, resp[i].Name, w, b)
		}
	}
	for i, typ := range map[int]string{1: "unknownMethod", 2: "invalidResultReference", 3: "invalidResultReference", 5: "unknownMethod"} {
		if resp[i].Args["type"] != typ {
			t.Errorf("response %d: %v, want %s", i, resp[i].Args, typ)
		}
	}
	if resp[4].Args["x"] != true {
		t.Errorf("back-reference: %v", resp[4].Args)
	}
	// A filter 1,000 levels deep, an unknown account, invalid ids.
	deep := map[string]any{"inMailbox": "F1"}
	for range 1000 {
		deep = map[string]any{"operator": "NOT", "conditions": []any{deep}}
	}
	resp = cl.call(nil,
		[]any{"Email/query", map[string]any{"accountId": cl.account, "filter": deep}, "deep"},
		[]any{"Mailbox/get", map[string]any{"accountId": "A999999"}, "acct"},
		[]any{"Email/get", map[string]any{"accountId": cl.account, "ids": []string{"nonsense", "M0", "F1"}, "properties": []string{"id"}}, "bad"},
	)
	if resp[0].Name != "error" || resp[0].Args["type"] != "unsupportedFilter" {
		t.Errorf("deep filter: %v", resp[0])
	}
	if resp[1].Name != "error" || resp[1].Args["type"] != "accountNotFound" {
		t.Errorf("unknown account: %v", resp[1])
	}
	if nf := resp[2].Args["notFound"]; len(nf.([]any)) != 3 {
		t.Errorf("invalid ids: %v", resp[2].Args)
	}
}

func TestAuthentication(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	bad := *cl
	bad.pass = "wrong"
	if code, _ := bad.do("GET", r.base+"/.well-known/jmap", "", nil); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	r.SetSettings(r.acct, "jmap.enabled", "false")
	if code, _ := cl.do("GET", r.base+"/.well-known/jmap", "", nil); code != 403 {
		t.Errorf("JMAP switched off: %d", code)
	}
}
