package mailapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// holdEnvelope is an explicit envelope from ann@ to bob@ (local) and
// carol@example.net (remote) with the given mailFrom parameters.
func holdEnvelope(params map[string]any) map[string]any {
	return map[string]any{"mailFrom": map[string]any{"email": "ann@example.test", "parameters": params},
		"rcptTo": []any{map[string]any{"email": "bob@example.test"}, map[string]any{"email": "carol@example.net"}}}
}

// ownIdentity is the id of the user's own Identity.
func ownIdentity(t *testing.T, cl *client) string {
	resp := cl.call(submissionUsing, []any{"Identity/get", map[string]any{"accountId": cl.account, "ids": nil}, "i"})
	for _, o := range resp[0].Args["list"].([]any) {
		if id := o.(map[string]any); id["email"] == cl.user {
			return id["id"].(string)
		}
	}
	t.Fatal("no Identity for the user's own address")
	return ""
}

// submissionOf reads one EmailSubmission and the type's state.
func submissionOf(t *testing.T, cl *client, id string) (map[string]any, string) {
	t.Helper()
	resp := cl.call(submissionUsing, []any{"EmailSubmission/get", map[string]any{"accountId": cl.account, "ids": []string{id}}, "g"})
	list := resp[0].Args["list"].([]any)
	if len(list) != 1 {
		t.Fatalf("EmailSubmission/get %s: %v", id, resp[0].Args)
	}
	return list[0].(map[string]any), resp[0].Args["state"].(string)
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestHeldSubmission: the capability offers FUTURERELEASE; a submission
// with HOLDFOR=2 is pending with sendAt in the future and nothing reaches
// the local or the remote recipient before sendAt, even though the draft
// is destroyed meanwhile; at sendAt both get the message as it was
// submitted, it becomes final (a change /changes shows), and canceling it
// then is cannotUnsend.
func TestHeldSubmission(t *testing.T) {
	r, sink := sinkRig(t)
	bobAcct := r.Account("bob@example.test")
	cl := r.client(t, "ann@example.test")
	caps := cl.session["accounts"].(map[string]any)[cl.account].(map[string]any)["accountCapabilities"].(map[string]any)["urn:ietf:params:jmap:submission"].(map[string]any)
	ext, _ := caps["submissionExtensions"].(map[string]any)["FUTURERELEASE"].([]any)
	if caps["maxDelayedSend"] != float64(604800) || len(ext) != 2 || ext[0] != "604800" {
		t.Errorf("submission capability %v: want maxDelayedSend 604800 and FUTURERELEASE", caps)
	}
	own := ownIdentity(t, cl)
	d := r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, "Drafts").ID, Flags: store.FlagDraft}, draft("Ann <ann@example.test>", "Held back"))
	email := "M" + strconv.FormatInt(d.ID, 10)
	_, before := submissionOf0(t, cl)
	submitted := time.Now()
	resp := cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create":               map[string]any{"k": map[string]any{"identityId": own, "emailId": email, "envelope": holdEnvelope(map[string]any{"HOLDFOR": "2"})}},
		"onSuccessUpdateEmail": map[string]any{"#k": map[string]any{"keywords/$draft": nil}}}, "s"})
	created, _ := resp[0].Args["created"].(map[string]any)["k"].(map[string]any)
	if created == nil || created["undoStatus"] != "pending" {
		b, _ := json.Marshal(resp)
		t.Fatalf("held EmailSubmission/set: %s", b)
	}
	if len(resp) != 2 || resp[1].Name != "Email/set" {
		t.Errorf("onSuccessUpdateEmail did not run at creation: %v", resp)
	}
	sendAt, err := time.Parse(time.RFC3339, created["sendAt"].(string))
	if err != nil || sendAt.Before(submitted.Add(2*time.Second-time.Millisecond).Truncate(time.Second)) || sendAt.After(submitted.Add(4*time.Second)) {
		t.Fatalf("sendAt %v (%v), submitted at %v: want 2 s later", created["sendAt"], err, submitted)
	}
	id := created["id"].(string)
	// The draft goes; what was submitted is sent all the same.
	del := cl.call(nil, []any{"Email/set", map[string]any{"accountId": cl.account, "destroy": []string{email}}, "x"})
	if dd, _ := del[0].Args["destroyed"].([]any); len(dd) != 1 {
		t.Fatalf("destroying the draft: %v", del[0].Args)
	}
	got, pendingState := submissionOf(t, cl, id)
	if got["undoStatus"] != "pending" || pendingState == before {
		t.Errorf("before sendAt: %v, state %s (was %s)", got, pendingState, before)
	}
	inbox := func() int { return len(r.Messages(bobAcct, "INBOX")) }
	for time.Now().Before(sendAt.Add(-300 * time.Millisecond)) {
		if n, m := inbox(), len(sink.Received()); n != 0 || m != 0 {
			t.Fatalf("%v before sendAt %v: %d in bob's INBOX, %d at the remote sink", time.Now(), sendAt, n, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, 15*time.Second, "bob's copy", func() bool { return inbox() == 1 })
	if time.Now().Before(sendAt) {
		t.Errorf("delivered at %v, before sendAt %v", time.Now(), sendAt)
	}
	remote := sink.WaitFor(t, 1, 20*time.Second)
	if len(remote[0].Recipients) != 1 || remote[0].Recipients[0] != "carol@example.net" ||
		!strings.Contains(string(remote[0].Data), "Subject: Held back") || strings.Contains(string(remote[0].Data), "Bcc:") {
		t.Errorf("remote delivery to %v: %q", remote[0].Recipients, remote[0].Data)
	}
	waitFor(t, 5*time.Second, "undoStatus final", func() bool { g, _ := submissionOf(t, cl, id); return g["undoStatus"] == "final" })
	ch := cl.call(submissionUsing, []any{"EmailSubmission/changes", map[string]any{"accountId": cl.account, "sinceState": pendingState}, "c"},
		[]any{"EmailSubmission/changes", map[string]any{"accountId": cl.account, "sinceState": before}, "c0"})
	if u, _ := ch[0].Args["updated"].([]any); len(u) != 1 || u[0] != id || len(ch[0].Args["created"].([]any)) != 0 {
		t.Errorf("/changes since pending: %v: want %s updated", ch[0].Args, id)
	}
	if c, _ := ch[1].Args["created"].([]any); len(c) != 1 || c[0] != id || len(ch[1].Args["updated"].([]any)) != 0 {
		t.Errorf("/changes since before: %v: want %s created only", ch[1].Args, id)
	}
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"update": map[string]any{id: map[string]any{"undoStatus": "canceled"}}}, "u"})
	if e, _ := resp[0].Args["notUpdated"].(map[string]any)[id].(map[string]any); e == nil || e["type"] != "cannotUnsend" {
		t.Errorf("cancel after release: %v, want cannotUnsend", resp[0].Args)
	}
}

// submissionOf0 reads the EmailSubmission state with no ids.
func submissionOf0(t *testing.T, cl *client) ([]any, string) {
	resp := cl.call(submissionUsing, []any{"EmailSubmission/get", map[string]any{"accountId": cl.account, "ids": nil}, "g"})
	return resp[0].Args["list"].([]any), resp[0].Args["state"].(string)
}

// TestHeldSubmissionCancel: a held submission canceled before sendAt is
// never delivered, shows as canceled and is found by the undoStatus
// filter; bad FUTURERELEASE parameters and other updates are refused; one
// due after sending was switched off for the account is canceled.
func TestHeldSubmissionCancel(t *testing.T) {
	r, sink := sinkRig(t)
	bobAcct := r.Account("bob@example.test")
	cl := r.client(t, "ann@example.test")
	own := ownIdentity(t, cl)
	d := r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, "Drafts").ID, Flags: store.FlagDraft}, draft("ann@example.test", "Never mind"))
	email := "M" + strconv.FormatInt(d.ID, 10)
	resp := cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create": map[string]any{"k": map[string]any{"identityId": own, "emailId": email,
			"envelope": holdEnvelope(map[string]any{"HOLDUNTIL": time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)})}}}, "s"},
		[]any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
			"update": map[string]any{"#k": map[string]any{"undoStatus": "canceled"}}}, "c"})
	created, _ := resp[0].Args["created"].(map[string]any)["k"].(map[string]any)
	if created == nil || created["undoStatus"] != "pending" {
		t.Fatalf("held: %v", resp[0].Args)
	}
	id := created["id"].(string)
	if _, ok := resp[1].Args["updated"].(map[string]any)[id]; !ok {
		t.Fatalf("cancel: %v", resp[1].Args)
	}
	if g, _ := submissionOf(t, cl, id); g["undoStatus"] != "canceled" {
		t.Errorf("after cancel: %v", g)
	}
	q := cl.call(submissionUsing, []any{"EmailSubmission/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"undoStatus": "canceled"}}, "q"},
		[]any{"EmailSubmission/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"undoStatus": "final"}}, "q2"})
	if ids := q[0].Args["ids"].([]any); len(ids) != 1 || ids[0] != id || len(q[1].Args["ids"].([]any)) != 0 {
		t.Errorf("query by undoStatus: %v, %v", q[0].Args, q[1].Args)
	}
	// Canceled twice, another property: refused.
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"update": map[string]any{id: map[string]any{"undoStatus": "canceled"}}}, "c2"},
		[]any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
			"update": map[string]any{id: map[string]any{"sendAt": "2030-01-01T00:00:00Z"}}}, "c3"})
	if e, _ := resp[0].Args["notUpdated"].(map[string]any)[id].(map[string]any); e == nil || e["type"] != "cannotUnsend" {
		t.Errorf("cancel twice: %v", resp[0].Args)
	}
	if e, _ := resp[1].Args["notUpdated"].(map[string]any)[id].(map[string]any); e == nil || e["type"] != "invalidProperties" {
		t.Errorf("update sendAt: %v", resp[1].Args)
	}
	// Bad parameters: nothing held, nothing sent.
	for name, params := range map[string]map[string]any{
		"not a number": {"HOLDFOR": "soon"},
		"too long":     {"HOLDFOR": "604801"},
		"negative":     {"HOLDFOR": "-5"},
		"both":         {"HOLDFOR": "5", "HOLDUNTIL": time.Now().Add(time.Minute).UTC().Format(time.RFC3339)},
		"too late":     {"HOLDUNTIL": time.Now().Add(8 * 24 * time.Hour).UTC().Format(time.RFC3339)},
		"bad date":     {"HOLDUNTIL": "next tuesday"},
		"unknown":      {"BODY": "8BITMIME"},
	} {
		resp := cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
			"create": map[string]any{"b": map[string]any{"identityId": own, "emailId": email, "envelope": holdEnvelope(params)}}}, "b"})
		if e, _ := resp[0].Args["notCreated"].(map[string]any)["b"].(map[string]any); e == nil || e["type"] != "invalidProperties" {
			t.Errorf("%s (%v): %v, want invalidProperties", name, params, resp[0].Args)
		}
	}
	if list, _ := submissionOf0(t, cl); len(list) != 1 {
		t.Errorf("%d submissions, want the canceled one only", len(list))
	}
	// Held, then sending is switched off for the account: the releaser
	// cancels it.
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create": map[string]any{"k": map[string]any{"identityId": own, "emailId": email, "envelope": holdEnvelope(map[string]any{"HOLDFOR": "1"})}}}, "s"})
	off, _ := resp[0].Args["created"].(map[string]any)["k"].(map[string]any)
	if off == nil {
		t.Fatalf("held: %v", resp[0].Args)
	}
	r.SetSettings(r.acct, "submission.enabled", "false")
	time.Sleep(4 * time.Second) // past both sendAts, and a few polls of the releaser
	if n, m := len(r.Messages(bobAcct, "INBOX")), len(sink.Received()); n != 0 || m != 0 {
		t.Errorf("canceled, yet delivered: %d in bob's INBOX, %d at the sink", n, m)
	}
	if g, _ := submissionOf(t, cl, off["id"].(string)); g["undoStatus"] != "canceled" {
		t.Errorf("held while sending was switched off: %v, want canceled", g)
	}
}

// TestHeldSubmissionRestart: a held submission is durable: the server
// restarts before sendAt, and the restarted one sends it; the change to
// final is pushed.
func TestHeldSubmissionRestart(t *testing.T) {
	r, sink := sinkRig(t)
	bobAcct := r.Account("bob@example.test")
	cl := r.client(t, "ann@example.test")
	own := ownIdentity(t, cl)
	d := r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, "Drafts").ID, Flags: store.FlagDraft}, draft("ann@example.test", "Survives"))
	resp := cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create": map[string]any{"k": map[string]any{"identityId": own, "emailId": "M" + strconv.FormatInt(d.ID, 10),
			"envelope": holdEnvelope(map[string]any{"holdfor": "3"})}}}, "s"})
	created, _ := resp[0].Args["created"].(map[string]any)["k"].(map[string]any)
	if created == nil || created["undoStatus"] != "pending" {
		t.Fatalf("held: %v", resp[0].Args)
	}
	id := created["id"].(string)
	r.Restart()
	r.base = "http://" + r.Addr("http")
	cl = r.client(t, "ann@example.test")
	if g, _ := submissionOf(t, cl, id); g["undoStatus"] != "pending" {
		t.Fatalf("after the restart: %v", g)
	}
	if n, m := len(r.Messages(bobAcct, "INBOX")), len(sink.Received()); n != 0 || m != 0 {
		t.Fatalf("before sendAt: %d in bob's INBOX, %d at the sink", n, m)
	}
	// The release is pushed to a client that follows EmailSubmission.
	req, _ := http.NewRequest("GET", r.base+"/jmap/eventsource?types=EmailSubmission&closeafter=state&ping=0", nil)
	req.SetBasicAuth(cl.user, cl.pass)
	stream, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	waitFor(t, 15*time.Second, "bob's copy", func() bool { return len(r.Messages(bobAcct, "INBOX")) == 1 })
	sink.WaitFor(t, 1, 20*time.Second)
	waitFor(t, 5*time.Second, "undoStatus final", func() bool { g, _ := submissionOf(t, cl, id); return g["undoStatus"] == "final" })
	body, _ := io.ReadAll(stream.Body) // closeafter=state: the stream ends after the event
	if !strings.Contains(string(body), "event: state") || !strings.Contains(string(body), `"EmailSubmission"`) {
		t.Errorf("pushed: %q", body)
	}
}
