package mailapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/mailtest"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

var submissionUsing = []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission"}

// sinkRig is a rig whose outbound queue delivers every domain's mail
// (example.net, example.org) to an SMTP sink on loopback.
func sinkRig(t *testing.T) (*rig, *mailtest.Sink) {
	sink := mailtest.NewSink(t, "127.0.0.1:0")
	_, portStr, _ := net.SplitHostPort(sink.Addr)
	port, _ := strconv.Atoi(portStr)
	r := newRig(t, testrig.Config(func(c *config.Config) { c.Queue.RemotePort = port }))
	r.DNS.Add(t, `example.net. MX 10 mx.sink.test.`, `example.org. MX 10 mx.sink.test.`, `mx.sink.test. A 127.0.0.1`)
	return r, sink
}

func draft(from, subject string) string {
	return "From: " + from + "\r\nTo: Bob <bob@example.test>\r\nCc: carol@example.net\r\nBcc: dave@example.net\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.test>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nHello Bob.\r\n"
}

// TestEmailSubmission: a draft in Drafts is sent with EmailSubmission/set;
// onSuccessUpdateEmail moves it to Sent without $draft in the implicit
// Email/set that follows; the local recipient has it in INBOX and the
// remote ones get it through the outbound queue, without the Bcc field.
// A From the user may not use is forbiddenFrom.
func TestEmailSubmission(t *testing.T) {
	r, sink := sinkRig(t)
	ctx := context.Background()
	bobAcct := r.Account("bob@example.test")
	if err := r.Store.AddAlias(ctx, "sales@example.test", []string{"ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	r.Account("boss@example.test")
	cl := r.client(t, "ann@example.test")

	// Identities: the own address and the alias.
	resp := cl.call(submissionUsing, []any{"Identity/get", map[string]any{"accountId": cl.account, "ids": nil}, "i"})
	var own string
	var emails []string
	for _, o := range resp[0].Args["list"].([]any) {
		id := o.(map[string]any)
		emails = append(emails, id["email"].(string))
		if id["email"] == "ann@example.test" {
			own = id["id"].(string)
		}
	}
	if !slices.Contains(emails, "ann@example.test") || !slices.Contains(emails, "sales@example.test") || own == "" {
		t.Fatalf("identities %v: want ann@ and the alias sales@", emails)
	}

	acct := r.acct
	d := r.DeliverInto(store.Target{MailboxID: r.Mailbox(acct, "Drafts").ID, Flags: store.FlagDraft | store.FlagSeen}, draft("Ann <ann@example.test>", "Lunch plans"))
	sent := "F" + strconv.FormatInt(r.Mailbox(acct, "Sent").ID, 10)
	email := "M" + strconv.FormatInt(d.ID, 10)
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{
		"accountId": cl.account,
		"create":    map[string]any{"k1": map[string]any{"identityId": own, "emailId": email}},
		"onSuccessUpdateEmail": map[string]any{"#k1": map[string]any{
			"mailboxIds": map[string]bool{sent: true}, "keywords/$draft": nil}},
	}, "s"})
	if len(resp) != 2 || resp[0].Name != "EmailSubmission/set" || resp[1].Name != "Email/set" {
		b, _ := json.Marshal(resp)
		t.Fatalf("responses: %s", b)
	}
	created, _ := resp[0].Args["created"].(map[string]any)["k1"].(map[string]any)
	if created == nil || created["undoStatus"] != "final" {
		t.Fatalf("EmailSubmission/set: %v", resp[0].Args)
	}
	env := created["envelope"].(map[string]any)
	if env["mailFrom"].(map[string]any)["email"] != "ann@example.test" || len(env["rcptTo"].([]any)) != 3 {
		t.Errorf("generated envelope %v: want ann@ to bob@, carol@ and dave@", env)
	}
	if _, ok := resp[1].Args["updated"].(map[string]any)[email]; !ok {
		t.Errorf("implicit Email/set: %v", resp[1].Args)
	}
	inSent := r.Messages(acct, "Sent")
	if len(inSent) != 1 || inSent[0].ID != d.ID || inSent[0].Flags&store.FlagDraft != 0 {
		t.Errorf("Sent: %+v: want the draft, without \\Draft", inSent)
	}
	if n := len(r.Messages(acct, "Drafts")); n != 0 {
		t.Errorf("%d messages left in Drafts", n)
	}
	// Bob reads it over JMAP: in his INBOX, without the Bcc field.
	bob := r.client(t, "bob@example.test")
	inbox := "F" + strconv.FormatInt(r.Mailbox(bobAcct, "INBOX").ID, 10)
	bresp := bob.call(nil, []any{"Email/query", map[string]any{"accountId": bob.account, "filter": map[string]any{"inMailbox": inbox}}, "q"},
		[]any{"Email/get", map[string]any{"accountId": bob.account, "#ids": map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"},
			"properties": []string{"subject", "bcc", "header:Bcc"}}, "g"})
	if l := bresp[1].Args["list"].([]any); len(l) != 1 || l[0].(map[string]any)["subject"] != "Lunch plans" ||
		l[0].(map[string]any)["bcc"] != nil || l[0].(map[string]any)["header:Bcc"] != nil {
		t.Errorf("bob's INBOX: %v: want the message without its Bcc", bresp[1].Args)
	}
	got := sink.WaitFor(t, 1, 20*time.Second)
	rcpts := got[0].Recipients
	slices.Sort(rcpts)
	if !slices.Equal(rcpts, []string{"carol@example.net", "dave@example.net"}) || strings.Contains(string(got[0].Data), "Bcc:") ||
		!strings.Contains(string(got[0].Data), "Subject: Lunch plans") {
		t.Errorf("the queue delivered %v: %q", rcpts, got[0].Data)
	}

	// /get and /query find the submission.
	g := cl.call(submissionUsing, []any{"EmailSubmission/get", map[string]any{"accountId": cl.account, "ids": nil}, "g"},
		[]any{"EmailSubmission/query", map[string]any{"accountId": cl.account, "filter": map[string]any{"emailIds": []string{email}}}, "q"})
	list := g[0].Args["list"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["emailId"] != email || list[0].(map[string]any)["id"] != created["id"] {
		t.Errorf("EmailSubmission/get: %v", g[0].Args)
	}
	if ids := g[1].Args["ids"].([]any); len(ids) != 1 || ids[0] != created["id"] {
		t.Errorf("EmailSubmission/query: %v", g[1].Args)
	}
	state := g[0].Args["state"].(string)

	// A From that is not the user's: forbiddenFrom, nothing sent.
	d2 := r.DeliverInto(store.Target{MailboxID: r.Mailbox(acct, "Drafts").ID, Flags: store.FlagDraft}, draft("boss@example.test", "Raise"))
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create": map[string]any{"k2": map[string]any{"identityId": own, "emailId": "M" + strconv.FormatInt(d2.ID, 10)}}}, "f"})
	if e := resp[0].Args["notCreated"].(map[string]any)["k2"].(map[string]any); e["type"] != "forbiddenFrom" {
		t.Errorf("From boss@: %v, want forbiddenFrom", e)
	}
	// No recipients in an explicit envelope; a syntax error in one.
	d3 := r.DeliverInto(store.Target{MailboxID: r.Mailbox(acct, "Drafts").ID, Flags: store.FlagDraft}, draft("ann@example.test", "Envelopes"))
	for want, rcpt := range map[string][]any{"noRecipients": {}, "invalidRecipients": {map[string]any{"email": "not an address"}}} {
		resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
			"create": map[string]any{"k3": map[string]any{"identityId": own, "emailId": "M" + strconv.FormatInt(d3.ID, 10),
				"envelope": map[string]any{"mailFrom": map[string]any{"email": "ann@example.test"}, "rcptTo": rcpt}}}}, "e"})
		if e := resp[0].Args["notCreated"].(map[string]any)["k3"].(map[string]any); e["type"] != want {
			t.Errorf("envelope to %v: %v, want %s", rcpt, e, want)
		}
	}
	// Sending switched off.
	r.SetSettings(acct, "submission.enabled", "false")
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create": map[string]any{"k4": map[string]any{"identityId": own, "emailId": email}}}, "o"})
	if e := resp[0].Args["notCreated"].(map[string]any)["k4"].(map[string]any); e["type"] != "forbiddenToSend" {
		t.Errorf("submission.enabled false: %v, want forbiddenToSend", e)
	}
	if n := len(sink.Received()); n != 1 {
		t.Errorf("the sink got %d messages, want 1: refused submissions sent something", n)
	}
	// onSuccessDestroyEmail: the draft goes once sent, by the creation id.
	r.SetSettings(acct, "submission.enabled", "true")
	d3id := "M" + strconv.FormatInt(d3.ID, 10)
	resp = cl.call(submissionUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create":                map[string]any{"k5": map[string]any{"identityId": own, "emailId": d3id}},
		"onSuccessDestroyEmail": []string{"#k5"}}, "x"})
	if len(resp) != 2 || resp[1].Name != "Email/set" {
		b, _ := json.Marshal(resp)
		t.Fatalf("onSuccessDestroyEmail: %s", b)
	}
	if d := resp[1].Args["destroyed"].([]any); len(d) != 1 || d[0] != d3id {
		t.Errorf("implicit Email/set destroyed %v, want %s", resp[1].Args["destroyed"], d3id)
	}
	sink.WaitFor(t, 2, 20*time.Second)
	ch := cl.call(submissionUsing, []any{"EmailSubmission/changes", map[string]any{"accountId": cl.account, "sinceState": "0-0"}, "c"},
		[]any{"EmailSubmission/changes", map[string]any{"accountId": cl.account, "sinceState": state}, "c2"})
	if c := ch[0].Args["created"].([]any); len(c) != 2 || c[0] != created["id"] {
		t.Errorf("EmailSubmission/changes from the start: %v", ch[0].Args)
	}
	if c := ch[1].Args["created"].([]any); len(c) != 1 {
		t.Errorf("EmailSubmission/changes from now: %v", ch[1].Args)
	}
}

// TestIdentitySet: a name and signature kept, an identity added for a
// plus-address and destroyed again, one for an address that is not the
// user's refused; the state changes with each change.
func TestIdentitySet(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	get := func() (map[string]map[string]any, string) {
		resp := cl.call(submissionUsing, []any{"Identity/get", map[string]any{"accountId": cl.account, "ids": nil}, "i"})
		out := map[string]map[string]any{}
		for _, o := range resp[0].Args["list"].([]any) {
			out[o.(map[string]any)["id"].(string)] = o.(map[string]any)
		}
		return out, resp[0].Args["state"].(string)
	}
	ids, state := get()
	if len(ids) != 1 {
		t.Fatalf("identities %v: want ann@ only", ids)
	}
	var own string
	for id := range ids {
		own = id
	}
	resp := cl.call(submissionUsing, []any{"Identity/set", map[string]any{"accountId": cl.account,
		"update": map[string]any{own: map[string]any{"name": "Ann Example", "textSignature": "-- \nAnn"}},
		"create": map[string]any{
			"plus":     map[string]any{"email": "ann+lists@example.test", "name": "Ann (lists)"},
			"stranger": map[string]any{"email": "boss@example.test"}},
	}, "s"})
	a := resp[0].Args
	if a["oldState"] != state || a["newState"] == state {
		t.Errorf("states %v -> %v", a["oldState"], a["newState"])
	}
	if e := a["notCreated"].(map[string]any)["stranger"].(map[string]any); e["type"] != "forbiddenFrom" {
		t.Errorf("boss@: %v, want forbiddenFrom", e)
	}
	plus, _ := a["created"].(map[string]any)["plus"].(map[string]any)
	if plus == nil {
		t.Fatalf("plus-address not created: %v", a)
	}
	ids, _ = get()
	if ids[own]["name"] != "Ann Example" || ids[own]["textSignature"] != "-- \nAnn" || ids[own]["mayDelete"] != false {
		t.Errorf("own identity %v", ids[own])
	}
	p := ids[plus["id"].(string)]
	if p["email"] != "ann+lists@example.test" || p["mayDelete"] != true {
		t.Errorf("added identity %v", p)
	}
	resp = cl.call(submissionUsing, []any{"Identity/set", map[string]any{"accountId": cl.account,
		"destroy": []string{plus["id"].(string), own}}, "d"})
	if d := resp[0].Args["destroyed"].([]any); len(d) != 1 || d[0] != plus["id"] {
		t.Errorf("destroyed %v", resp[0].Args)
	}
	if e := resp[0].Args["notDestroyed"].(map[string]any)[own].(map[string]any); e["type"] != "forbidden" {
		t.Errorf("destroying the own identity: %v", e)
	}
}

// TestVacationResponseAndQuota: the VacationResponse set over JMAP is the
// managed Sieve script's vacation, which answers a message delivered
// afterwards; htmlBody is refused. Quota/get shows the octets a delivery
// adds.
func TestVacationResponseAndQuota(t *testing.T) {
	r, sink := sinkRig(t)
	ctx := context.Background()
	cl := r.client(t, "ann@example.test")
	using := []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse", "urn:ietf:params:jmap:quota"}
	resp := cl.call(using, []any{"VacationResponse/set", map[string]any{"accountId": cl.account, "update": map[string]any{
		"singleton": map[string]any{"isEnabled": true, "subject": "Away", "textBody": "Back on Monday.",
			"fromDate": "2020-01-01T00:00:00Z", "toDate": nil}}}, "v"},
		[]any{"VacationResponse/set", map[string]any{"accountId": cl.account, "update": map[string]any{
			"singleton": map[string]any{"htmlBody": "<p>Back</p>"}}}, "h"},
		[]any{"VacationResponse/get", map[string]any{"accountId": cl.account, "ids": nil}, "g"})
	if _, ok := resp[0].Args["updated"].(map[string]any)["singleton"]; !ok {
		t.Fatalf("VacationResponse/set: %v", resp[0].Args)
	}
	if e := resp[1].Args["notUpdated"].(map[string]any)["singleton"].(map[string]any); e["type"] != "invalidProperties" {
		t.Errorf("htmlBody: %v", e)
	}
	v := resp[2].Args["list"].([]any)[0].(map[string]any)
	if v["isEnabled"] != true || v["subject"] != "Away" || v["textBody"] != "Back on Monday." || v["htmlBody"] != nil || v["toDate"] != nil || v["fromDate"] == nil {
		t.Errorf("VacationResponse/get: %v", v)
	}
	m, err := sieverules.Load(ctx, r.Store, r.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsActive() || !strings.Contains(m.Text, "vacation") || !strings.Contains(m.Text, "Back on Monday.") {
		t.Errorf("managed script (active %v):\n%s", m.IsActive(), m.Text)
	}
	r.DeliverTo("ann@example.test", strings.Replace(msg("carol@example.org", "Question", "Are you there?"), "To: ann@", "To: ann@", 1))
	got := sink.WaitFor(t, 1, 20*time.Second)
	if !slices.Equal(got[0].Recipients, []string{"carol@example.org"}) || !strings.Contains(string(got[0].Data), "Back on Monday.") {
		t.Errorf("vacation reply: to %v: %q", got[0].Recipients, got[0].Data)
	}

	if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: 10 << 20, Messages: store.Unlimited}); err != nil {
		t.Fatal(err)
	}
	quota := func() map[string]any {
		resp := cl.call(using, []any{"Quota/get", map[string]any{"accountId": cl.account, "ids": nil}, "q"})
		list := resp[0].Args["list"].([]any)
		if len(list) != 1 {
			t.Fatalf("Quota/get: %v: want the storage quota only", resp[0].Args)
		}
		return list[0].(map[string]any)
	}
	before := quota()
	if before["resourceType"] != "octets" || before["hardLimit"] != float64(10<<20) || before["scope"] != "account" {
		t.Errorf("quota %v", before)
	}
	r.Deliver(r.acct, msg("carol@example.org", "Big one", strings.Repeat("x", 5000)))
	var added int64
	for _, mm := range r.Messages(r.acct, "INBOX") {
		if mm.Size > 5000 {
			added = mm.Size
		}
	}
	after := quota()
	if used := int64(after["used"].(float64)) - int64(before["used"].(float64)); used != added {
		t.Errorf("used grew by %d, want %d (%v)", used, added, fmt.Sprint(after))
	}
}
