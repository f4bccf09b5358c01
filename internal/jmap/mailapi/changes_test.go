package mailapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store"
)

func strs(v any) []string {
	out := []string{}
	if v == nil {
		return out
	}
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

// TestEmailChangesExact: /changes reports exactly what changed since a
// state, whoever changed it (the store directly stands for IMAP, POP3 and
// delivery, which all write through it).
func TestEmailChangesExact(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	ctx := context.Background()
	old := r.Deliver(r.acct, msg("bob@example.org", "old one", "x"))
	gone := r.Deliver(r.acct, msg("bob@example.org", "old two", "x"))
	moved := r.Deliver(r.acct, msg("bob@example.org", "old three", "x"))
	state := cl.one("Email/get", map[string]any{"ids": []string{}})["state"].(string)

	fresh := r.Deliver(r.acct, msg("carol@example.org", "new", "x"))
	inbox := r.Mailbox(r.acct, "INBOX")
	if _, err := r.Store.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{old.UID}, Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.Expunge(ctx, inbox.ID, []uint32{gone.UID}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.Move(ctx, inbox.ID, []uint32{moved.UID}, r.Mailbox(r.acct, "Archive").ID, store.KeepAll); err != nil {
		t.Fatal(err)
	}
	ch := cl.one("Email/changes", map[string]any{"sinceState": state})
	id := func(d store.Delivered) string { return fmt.Sprintf("M%d", d.ID) }
	if got, want := strs(ch["created"]), []string{id(fresh)}; !slices.Equal(got, want) {
		t.Errorf("created %v, want %v", got, want)
	}
	wantUpd := []string{id(old), id(moved)}
	slices.Sort(wantUpd)
	if got := strs(ch["updated"]); !slices.Equal(got, wantUpd) {
		t.Errorf("updated %v, want %v", got, wantUpd)
	}
	if got, want := strs(ch["destroyed"]), []string{id(gone)}; !slices.Equal(got, want) {
		t.Errorf("destroyed %v, want %v", got, want)
	}
	if ch["hasMoreChanges"] != false || ch["newState"] == state {
		t.Errorf("changes: %v", ch)
	}
	// Nothing since the new state.
	again := cl.one("Email/changes", map[string]any{"sinceState": ch["newState"]})
	if len(strs(again["created"]))+len(strs(again["updated"]))+len(strs(again["destroyed"])) != 0 || again["newState"] != ch["newState"] {
		t.Errorf("no changes expected: %v", again)
	}
	// Paging one at a time gives the same, with intermediate states.
	seen := map[string]bool{}
	s := state
	for range 20 {
		p := cl.one("Email/changes", map[string]any{"sinceState": s, "maxChanges": 1})
		for _, k := range []string{"created", "updated", "destroyed"} {
			for _, x := range strs(p[k]) {
				seen[k+" "+x] = true
			}
		}
		s = p["newState"].(string)
		if p["hasMoreChanges"] == false {
			break
		}
	}
	for _, w := range []string{"created " + id(fresh), "updated " + id(old), "updated " + id(moved), "destroyed " + id(gone)} {
		if !seen[w] {
			t.Errorf("paging lost %s: %v", w, seen)
		}
	}
	// Threads and mailboxes.
	th := cl.one("Thread/changes", map[string]any{"sinceState": state})
	if len(strs(th["created"])) != 1 || len(strs(th["destroyed"])) != 1 {
		t.Errorf("thread changes: %v", th)
	}
	mb := cl.one("Mailbox/changes", map[string]any{"sinceState": state})
	if got := strs(mb["updated"]); len(got) != 2 {
		t.Errorf("mailbox changes: %v", mb)
	}
	if props := mb["updatedProperties"]; props == nil || len(props.([]any)) != 4 {
		t.Errorf("only counts changed: %v", mb)
	}
	created := cl.one("Mailbox/set", map[string]any{"create": map[string]any{"n": map[string]any{"name": "Projects"}}})
	newID := created["created"].(map[string]any)["n"].(map[string]any)["id"].(string)
	mb = cl.one("Mailbox/changes", map[string]any{"sinceState": mb["newState"]})
	if got := strs(mb["created"]); !slices.Equal(got, []string{newID}) || mb["updatedProperties"] != nil {
		t.Errorf("created mailbox: %v", mb)
	}
	del := cl.one("Mailbox/set", map[string]any{"destroy": []string{newID}})
	if len(strs(del["destroyed"])) != 1 {
		t.Fatalf("destroy: %v", del)
	}
	mb = cl.one("Mailbox/changes", map[string]any{"sinceState": mb["newState"]})
	if got := strs(mb["destroyed"]); !slices.Equal(got, []string{newID}) {
		t.Errorf("destroyed mailbox: %v", mb)
	}
	// States that were never given out, and a state of another account.
	r.Account("bob@example.test")
	bob := r.client(t, "bob@example.test")
	bobState := bob.one("Email/get", map[string]any{"ids": []string{}})["state"].(string)
	resp := cl.call(nil, []any{"Email/changes", map[string]any{"accountId": cl.account, "sinceState": "banana"}, "x"},
		[]any{"Email/changes", map[string]any{"accountId": cl.account, "sinceState": "1-99999999-1"}, "y"},
		[]any{"Email/changes", map[string]any{"accountId": cl.account, "sinceState": bobState}, "z"},
		[]any{"Mailbox/changes", map[string]any{"accountId": cl.account, "sinceState": bobState}, "z2"},
		[]any{"Email/queryChanges", map[string]any{"accountId": cl.account, "sinceQueryState": bobState}, "z3"})
	for _, inv := range resp {
		if inv.Name != "error" || inv.Args["type"] != "cannotCalculateChanges" {
			t.Errorf("bad state: %v", inv)
		}
	}
}

func TestEmailQueryChanges(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	for i := range 3 {
		r.Deliver(r.acct, msg("bob@example.org", fmt.Sprintf("q %d", i), "x"))
	}
	inbox := fmt.Sprintf("F%d", r.Mailbox(r.acct, "INBOX").ID)
	q := map[string]any{"filter": map[string]any{"inMailbox": inbox}, "sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}}
	first := cl.one("Email/query", q)
	if first["canCalculateChanges"] != true {
		t.Errorf("query: %v", first)
	}
	d := r.Deliver(r.acct, msg("bob@example.org", "q new", "x"))
	args := map[string]any{"sinceQueryState": first["queryState"], "calculateTotal": true}
	for k, v := range q {
		args[k] = v
	}
	qc := cl.one("Email/queryChanges", args)
	added := qc["added"].([]any)
	if len(added) != 1 || added[0].(map[string]any)["id"] != fmt.Sprintf("M%d", d.ID) || added[0].(map[string]any)["index"].(float64) != 0 {
		t.Errorf("queryChanges: %v", qc)
	}
	if !slices.Contains(strs(qc["removed"]), fmt.Sprintf("M%d", d.ID)) || qc["total"].(float64) != 4 {
		t.Errorf("queryChanges: %v", qc)
	}
}

func TestUploadAndDownload(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	body := strings.Repeat("attachment data ", 100_000)
	code, b := cl.do("POST", fmt.Sprintf("%s/jmap/upload/%s/", r.base, cl.account), "application/pdf", []byte(body))
	if code != http.StatusCreated || !strings.Contains(string(b), `"type":"application/pdf"`) {
		t.Fatalf("upload: %d %s", code, b)
	}
	blob := strings.Split(strings.Split(string(b), `"blobId":"`)[1], `"`)[0]
	code, got := cl.do("GET", fmt.Sprintf("%s/jmap/download/%s/%s/a.pdf?type=application/pdf", r.base, cl.account, blob), "", nil)
	if code != 200 || string(got) != body {
		t.Errorf("download: %d, %d octets", code, len(got))
	}
	code, _ = cl.do("POST", fmt.Sprintf("%s/jmap/upload/%s/", r.base, cl.account), "application/pdf", make([]byte, 51<<20))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("over maxSizeUpload: %d", code)
	}
	if code, _ := cl.do("GET", fmt.Sprintf("%s/jmap/download/%s/uaaaaaaaaaaaaaaaaaaaaaaaaaa/x", r.base, cl.account), "", nil); code != 404 {
		t.Errorf("unknown upload: %d", code)
	}
}

func TestBlobCopyWithinAccount(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	d := r.Deliver(r.acct, msg("bob@example.org", "copy me", "x"))
	got := cl.one("Blob/copy", map[string]any{"fromAccountId": cl.account, "blobIds": []string{fmt.Sprintf("B%d", d.ID), "B999999"}})
	copied := got["copied"].(map[string]any)[fmt.Sprintf("B%d", d.ID)]
	if copied == nil || got["notCopied"].(map[string]any)["B999999"].(map[string]any)["type"] != "blobNotFound" {
		t.Fatalf("Blob/copy: %v", got)
	}
	code, body := cl.do("GET", fmt.Sprintf("%s/jmap/download/%s/%s/m.eml", r.base, cl.account, copied), "", nil)
	if code != 200 || !strings.Contains(string(body), "Subject: copy me") {
		t.Errorf("copied blob: %d %q", code, body)
	}
}
