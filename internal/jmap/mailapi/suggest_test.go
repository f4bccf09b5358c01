package mailapi_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/acl"
	"mailroom/internal/config"
	"mailroom/internal/mailtest"
	"mailroom/internal/smtp"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

var suggestUsing = []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission", "urn:mailroom:params:jmap:suggest"}

// suggestRig serves JMAP, the MX and submission on loopback; the outbound
// queue delivers example.net and example.org to an SMTP sink.
func suggestRig(t *testing.T) *rig {
	sink := mailtest.NewSink(t, "127.0.0.1:0")
	_, portStr, _ := net.SplitHostPort(sink.Addr)
	port, _ := strconv.Atoi(portStr)
	tr := testrig.Start(t, testrig.Factories{"http": web.Factory(), "smtp": smtp.Factory(smtp.Inbound), "submission": smtp.Factory(smtp.Submission)},
		testrig.Listen("http", "smtp", "submission"), testrig.Config(func(c *config.Config) { c.Queue.RemotePort = port }))
	tr.DNS.Add(t, `example.net. MX 10 mx.sink.test.`, `example.org. MX 10 mx.sink.test.`, `mx.sink.test. A 127.0.0.1`,
		`_dmarc.bank.example. TXT "v=DMARC1; p=quarantine"`)
	r := &rig{Rig: tr, base: "http://" + tr.Addr("http")}
	r.acct = r.Account("ann@example.test")
	return r
}

// smtpSend runs one SMTP transaction on addr: logged in as user on
// submission (STARTTLS, AUTH PLAIN), or as another server on the MX.
func smtpSend(t *testing.T, addr, user, from string, to []string, msg string) {
	t.Helper()
	var c *gosmtp.Client
	var err error
	if user != "" {
		c, err = gosmtp.DialStartTLS(addr, testrig.ClientTLS())
	} else {
		c, err = gosmtp.Dial(addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil && user == "" {
		t.Fatal(err)
	}
	if user != "" {
		if err := c.Auth(gosasl.NewPlainClient("", user, testrig.Password)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SendMail(from, to, strings.NewReader(msg)); err != nil {
		t.Fatalf("send from %s to %v: %v", from, to, err)
	}
}

// suggest asks Suggestion/query and returns the list's addresses, and the
// list.
func suggest(cl *client, args map[string]any) (string, []any) {
	cl.t.Helper()
	if _, ok := args["accountId"]; !ok {
		args["accountId"] = cl.account
	}
	resp := cl.call(suggestUsing, []any{"Suggestion/query", args, "q"})
	if len(resp) != 1 || resp[0].Name != "Suggestion/query" {
		cl.t.Fatalf("Suggestion/query %v: %+v", args, resp)
	}
	if resp[0].Args["accountId"] != args["accountId"] {
		cl.t.Errorf("accountId %v", resp[0].Args["accountId"])
	}
	list := resp[0].Args["list"].([]any)
	var l []string
	for _, s := range list {
		l = append(l, s.(map[string]any)["email"].(string))
	}
	return strings.Join(l, " "), list
}

// callError makes one call and returns its error type ("" if none).
func callError(cl *client, name string, args map[string]any) string {
	cl.t.Helper()
	resp := cl.call(suggestUsing, []any{name, args, "e"})
	if len(resp) != 1 {
		cl.t.Fatalf("%s: %+v", name, resp)
	}
	if resp[0].Name != "error" {
		return ""
	}
	return resp[0].Args["type"].(string)
}

// TestSuggestions: what Ann sends through SMTP submission and JMAP, and
// what a person sends to her INBOX, makes her suggestions, those she
// writes to first; list, bulk, automatic, noreply and quarantined mail
// does not; Bob, who got her mail, has her and nothing of hers; forget
// drops one; the arguments are checked.
func TestSuggestions(t *testing.T) {
	r := suggestRig(t)
	ctx := context.Background()
	bob := r.Account("bob@example.test")
	cl := r.client(t, "ann@example.test")
	if _, ok := cl.session["capabilities"].(map[string]any)["urn:mailroom:params:jmap:suggest"]; !ok {
		t.Fatalf("no suggest capability in the session: %v", cl.session["capabilities"])
	}

	// SMTP submission: To and Cc with names, a Bcc only in the envelope.
	smtpSend(t, r.Addr("submission"), "ann@example.test", "ann@example.test",
		[]string{"bob@example.test", "zoe@example.net", "dave@example.net"},
		"From: Ann <ann@example.test>\r\nTo: Bob Lee <bob@example.test>\r\nCc: =?utf-8?q?Zo=C3=AB_Lee?= <zoe@example.net>\r\nSubject: plans\r\n\r\nhi\r\n")
	// JMAP EmailSubmission of a draft to Annabel, Cc Zoë again (no name).
	resp := cl.call(suggestUsing, []any{"Identity/get", map[string]any{"accountId": cl.account}, "i"})
	ident := resp[0].Args["list"].([]any)[0].(map[string]any)["id"].(string)
	d := r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, "Drafts").ID, Flags: store.FlagDraft | store.FlagSeen},
		"From: Ann <ann@example.test>\r\nTo: Annabel Lee <annabel@example.org>\r\nCc: zoe@example.net\r\nSubject: poem\r\nMessage-ID: <poem@example.test>\r\n\r\nkingdom by the sea\r\n")
	resp = cl.call(suggestUsing, []any{"EmailSubmission/set", map[string]any{"accountId": cl.account,
		"create": map[string]any{"k": map[string]any{"identityId": ident, "emailId": fmt.Sprintf("M%d", d.ID)}}}, "s"})
	if created, _ := resp[0].Args["created"].(map[string]any); created["k"] == nil {
		t.Fatalf("EmailSubmission/set: %+v", resp)
	}
	// Inbound on the MX: a person, and programs.
	mx := r.Addr("smtp")
	smtpSend(t, mx, "", "anders@example.org", []string{"ann@example.test"}, "From: Anders Lee <anders@example.org>\r\nTo: ann@example.test\r\nSubject: hello\r\n\r\nhej\r\n")
	for _, m := range []struct{ from, header string }{
		{"news@example.org", "From: Lee News <news@example.org>\r\nList-Id: <news.example.org>\r\n"},
		{"promo@example.org", "From: Lee Promo <promo@example.org>\r\nPrecedence: bulk\r\n"},
		{"robot@example.org", "From: Lee Robot <robot@example.org>\r\nAuto-Submitted: auto-generated\r\n"},
		{"noreply@example.org", "From: Lee Shop <noreply@example.org>\r\n"},
		{"bounces+x@example.org", "From: Lee Person <person@example.org>\r\n"}, // a list's return path
		{"lee@bank.example", "From: Lee Bank <lee@bank.example>\r\n"},          // DMARC quarantine: Junk
	} {
		smtpSend(t, mx, "", m.from, []string{"ann@example.test"}, m.header+"To: ann@example.test\r\nSubject: offer\r\n\r\nbuy\r\n")
	}
	if junk := r.Messages(r.acct, "Junk"); len(junk) != 1 {
		t.Errorf("%d messages in Junk, want the quarantined one", len(junk))
	}
	// A null return path.
	smtpSend(t, mx, "", "", []string{"ann@example.test"}, "From: Lee Daemon <daemon@example.org>\r\nTo: ann@example.test\r\nSubject: x\r\n\r\nx\r\n")

	// Zoë twice written to, then Annabel and Bob once (Annabel later, or
	// first by address), then Anders heard from.
	got, list := suggest(cl, map[string]any{"text": "lee"})
	if got != "zoe@example.net annabel@example.org bob@example.test anders@example.org" {
		t.Fatalf("suggestions for lee: %s", got)
	}
	zoe := list[0].(map[string]any)
	if zoe["name"] != "Zoë Lee" || zoe["sentCount"] != 2.0 || zoe["receivedCount"] != 0.0 || zoe["lastSeen"] == "" {
		t.Errorf("zoe: %v", zoe)
	}
	if a := list[3].(map[string]any); a["name"] != "Anders Lee" || a["sentCount"] != 0.0 || a["receivedCount"] != 1.0 {
		t.Errorf("anders: %v", a)
	}
	for _, q := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"text": "lee", "limit": 2}, "zoe@example.net annabel@example.org"},
		{map[string]any{"text": "ZOË"}, "zoe@example.net"},
		{map[string]any{"text": "da"}, "dave@example.net"}, // the Bcc
		{map[string]any{"text": "an"}, "annabel@example.org anders@example.org"},
		{map[string]any{"text": "annabel lee"}, "annabel@example.org"},
		{map[string]any{"text": "ann@"}, ""}, // herself
		{map[string]any{"text": "news"}, ""},
		{map[string]any{"text": "promo"}, ""},
		{map[string]any{"text": "robot"}, ""},
		{map[string]any{"text": "noreply"}, ""},
		{map[string]any{"text": "person"}, ""},
		{map[string]any{"text": "bank"}, ""},
		{map[string]any{"text": "daemon"}, ""},
	} {
		if got, _ := suggest(cl, q.args); got != q.want {
			t.Errorf("suggestions for %v: %q, want %q", q.args, got, q.want)
		}
	}

	// Bob heard from Ann, and sees nothing of hers.
	bobCl := r.client(t, "bob@example.test")
	if got, list := suggest(bobCl, map[string]any{"text": "a"}); got != "ann@example.test" || list[0].(map[string]any)["receivedCount"] != 1.0 {
		t.Errorf("bob's suggestions for a: %q %v", got, list)
	}
	if got, _ := suggest(bobCl, map[string]any{"text": "lee"}); got != "" {
		t.Errorf("bob sees %q", got)
	}
	// Not on another's account: one that shares a folder with Ann is
	// forbidden, one she does not reach not found.
	if _, err := r.Store.ModifyACL(ctx, r.Mailbox(bob, "INBOX").ID, "ann@example.test", acl.Replace, acl.ReadOnly); err != nil {
		t.Fatal(err)
	}
	if e := callError(cl, "Suggestion/query", map[string]any{"accountId": fmt.Sprintf("A%d", bob.ID), "text": "a"}); e != "forbidden" {
		t.Errorf("query on bob's shared account: %q, want forbidden", e)
	}
	if e := callError(cl, "Suggestion/forget", map[string]any{"accountId": fmt.Sprintf("A%d", bob.ID), "emails": []string{"ann@example.test"}}); e != "forbidden" {
		t.Errorf("forget on bob's shared account: %q, want forbidden", e)
	}
	if e := callError(cl, "Suggestion/query", map[string]any{"accountId": "A999999", "text": "a"}); e != "accountNotFound" {
		t.Errorf("query on an unknown account: %q, want accountNotFound", e)
	}
	for _, bad := range []map[string]any{
		{"text": ""}, {"text": "   "}, {}, {"text": strings.Repeat("é", 201)}, {"text": "a", "limit": 0}, {"text": "a", "limit": 51},
		{"text": 5}, {"text": "a", "sort": "x"},
	} {
		bad["accountId"] = cl.account
		if e := callError(cl, "Suggestion/query", bad); e != "invalidArguments" {
			t.Errorf("Suggestion/query %v: %q, want invalidArguments", bad, e)
		}
	}
	if got, _ := suggest(cl, map[string]any{"text": strings.Repeat("é", 200)}); got != "" {
		t.Errorf("200 characters: %q", got)
	}
	for _, bad := range []map[string]any{{"emails": []string{}}, {}, {"emails": []string{""}}, {"emails": []string{strings.Repeat("x", 250) + "@example.org"}}} {
		bad["accountId"] = cl.account
		if e := callError(cl, "Suggestion/forget", bad); e != "invalidArguments" {
			t.Errorf("Suggestion/forget %v: %q, want invalidArguments", bad, e)
		}
	}
	// Without the capability in using, the methods are unknown.
	if resp := cl.call(nil, []any{"Suggestion/query", map[string]any{"accountId": cl.account, "text": "a"}, "u"}); resp[0].Name != "error" || resp[0].Args["type"] != "unknownMethod" {
		t.Errorf("without the capability: %+v", resp)
	}

	// Forget, in any case; an address that is not there is notFound.
	resp = cl.call(suggestUsing, []any{"Suggestion/forget", map[string]any{"accountId": cl.account, "emails": []string{"ZOE@example.net", "nobody@example.org"}}, "f"})
	if f := resp[0].Args; fmt.Sprint(f["forgotten"]) != "[ZOE@example.net]" || fmt.Sprint(f["notFound"]) != "[nobody@example.org]" {
		t.Errorf("forget: %+v", resp)
	}
	if got, _ := suggest(cl, map[string]any{"text": "lee"}); got != "annabel@example.org bob@example.test anders@example.org" {
		t.Errorf("after forgetting zoe: %s", got)
	}
}
