package mailapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"

	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// pdf is an attachment's content: binary, so it must travel in base64.
var pdf = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 0xff, 0x80, '\r', '\n', 'x'}, 200)...)

// withAttachment is a message carrying pdf as part 2.
func withAttachment() string {
	enc := base64.StdEncoding.EncodeToString(pdf)
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	lines = append(lines, enc)
	return "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: the report\r\nMessage-ID: <report@example.org>\r\n" +
		"Date: Mon, 7 Dec 2026 09:00:00 +0000\r\nReceived: from x by y; Mon, 7 Dec 2026 09:00:05 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n" +
		"Content-Type: application/pdf; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n--b1--\r\n"
}

// walk reads a raw message with go-message, a parser other than ours,
// and returns every leaf's media type and decoded content.
func walk(t *testing.T, raw string) (*message.Entity, map[string][]byte) {
	t.Helper()
	e, err := message.Read(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("go-message cannot read the message: %v\n%s", err, raw)
	}
	leaves := map[string][]byte{}
	err = e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil {
			return err
		}
		if part.MultipartReader() != nil {
			return nil
		}
		typ, _, _ := part.Header.ContentType()
		b, err := io.ReadAll(part.Body)
		if err != nil {
			return fmt.Errorf("part %v: %w", path, err)
		}
		leaves[typ] = b
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, raw)
	}
	return e, leaves
}

func mailboxIDOf(r *rig, acct store.Account, name string) string {
	return fmt.Sprintf("F%d", r.Mailbox(acct, name).ID)
}

func TestEmailCreateTextHTMLAttachment(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	src := r.Deliver(r.acct, withAttachment())
	drafts := mailboxIDOf(r, r.acct, "Drafts")
	set := cl.one("Email/set", map[string]any{"create": map[string]any{"k1": map[string]any{
		"mailboxIds":               map[string]any{drafts: true},
		"keywords":                 map[string]any{"$draft": true, "$seen": true},
		"from":                     []any{map[string]any{"name": "Zoë Ångström", "email": "ann@example.test"}},
		"to":                       []any{map[string]any{"name": "Bob, the builder", "email": "bob@example.org"}, map[string]any{"email": "eve@example.org"}},
		"subject":                  "Grüße aus Köln — a subject long enough that it has to be folded over more than one line of the header",
		"header:X-Tracking:asText": "ünïcode",
		"textBody":                 []any{map[string]any{"partId": "t", "type": "text/plain"}},
		"htmlBody":                 []any{map[string]any{"partId": "h", "type": "text/html"}},
		"attachments": []any{map[string]any{"blobId": fmt.Sprintf("P%d_2", src.ID), "type": "application/pdf",
			"name": "rapport été.pdf"}},
		"bodyValues": map[string]any{
			"t": map[string]any{"value": "Hallo Bob,\nanbei der Bericht.\n" + strings.Repeat("lang ", 300) + "\n"},
			"h": map[string]any{"value": "<p>Hallo <b>Bob</b></p>\n"},
		},
	}}})
	created, ok := set["created"].(map[string]any)["k1"].(map[string]any)
	if !ok {
		t.Fatalf("create: %v", set)
	}
	for _, k := range []string{"id", "blobId", "threadId", "size"} {
		if created[k] == nil {
			t.Errorf("created lacks %s: %v", k, created)
		}
	}
	// The store has it, with its flags, at once.
	metas := r.Messages(r.acct, "Drafts")
	if len(metas) != 1 || metas[0].Flags&(store.FlagSeen|store.FlagDraft) != store.FlagSeen|store.FlagDraft {
		t.Fatalf("drafts: %+v", metas)
	}
	if int64(created["size"].(float64)) != metas[0].Size {
		t.Errorf("size %v, stored %d", created["size"], metas[0].Size)
	}
	raw := r.Bodies("ann@example.test", "Drafts")[0]
	e, leaves := walk(t, raw)
	if !bytes.Equal(leaves["application/pdf"], pdf) {
		t.Errorf("attachment changed on the way: %d bytes, want %d", len(leaves["application/pdf"]), len(pdf))
	}
	if !strings.Contains(string(leaves["text/plain"]), "anbei der Bericht.\r\n") {
		t.Errorf("text: %q", leaves["text/plain"])
	}
	if !strings.Contains(string(leaves["text/html"]), "<b>Bob</b>") {
		t.Errorf("html: %q", leaves["text/html"])
	}
	if mt, _, _ := e.Header.ContentType(); mt != "multipart/mixed" {
		t.Errorf("top type %s", mt)
	}
	// The header is 7-bit, folded, with the fields the server adds.
	head := raw[:strings.Index(raw, "\r\n\r\n")]
	for _, line := range strings.Split(head, "\r\n") {
		if len(line) > 998 {
			t.Errorf("header line of %d octets", len(line))
		}
		for _, c := range []byte(line) {
			if c >= 0x80 {
				t.Fatalf("8-bit header line %q", line)
			}
		}
	}
	m, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Message-Id") == "" || m.Header.Get("Date") == "" || m.Header.Get("Mime-Version") != "1.0" {
		t.Errorf("server fields missing: %v", m.Header)
	}
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Bob, the builder" || to[1].Address != "eve@example.org" {
		t.Errorf("To: %v %v", to, err)
	}
	// Email/get gives back what was created.
	id := created["id"].(string)
	got := cl.one("Email/get", map[string]any{"ids": []string{id}, "fetchAllBodyValues": true,
		"properties": []string{"subject", "from", "to", "keywords", "mailboxIds", "bodyValues", "textBody", "htmlBody", "attachments", "header:X-Tracking:asText", "threadId"}})
	list := got["list"].([]any)
	if len(list) != 1 {
		t.Fatalf("get: %v", got)
	}
	em := list[0].(map[string]any)
	if em["subject"] != "Grüße aus Köln — a subject long enough that it has to be folded over more than one line of the header" {
		t.Errorf("subject: %q", em["subject"])
	}
	if em["header:X-Tracking:asText"] != "ünïcode" {
		t.Errorf("X-Tracking: %v", em["header:X-Tracking:asText"])
	}
	if from := em["from"].([]any)[0].(map[string]any); from["name"] != "Zoë Ångström" || from["email"] != "ann@example.test" {
		t.Errorf("from: %v", from)
	}
	if em["threadId"] != created["threadId"] {
		t.Errorf("threadId %v, created %v", em["threadId"], created["threadId"])
	}
	atts := em["attachments"].([]any)
	if len(atts) != 1 {
		t.Fatalf("attachments: %v", atts)
	}
	att := atts[0].(map[string]any)
	if att["name"] != "rapport été.pdf" || att["type"] != "application/pdf" || int(att["size"].(float64)) != len(pdf) {
		t.Errorf("attachment: %v", att)
	}
	values := em["bodyValues"].(map[string]any)
	text := em["textBody"].([]any)[0].(map[string]any)
	if v := values[text["partId"].(string)].(map[string]any)["value"].(string); !strings.HasPrefix(v, "Hallo Bob,\nanbei der Bericht.\n") {
		t.Errorf("text value: %q", v)
	}
	html := em["htmlBody"].([]any)[0].(map[string]any)
	if v := values[html["partId"].(string)].(map[string]any)["value"]; v != "<p>Hallo <b>Bob</b></p>\n" {
		t.Errorf("html value: %q", v)
	}
}

func TestEmailCreateBodyStructureAndReference(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	// A Mailbox made in the same request is referred to by its creation id.
	resp := cl.call(nil,
		[]any{"Mailbox/set", map[string]any{"accountId": cl.account, "create": map[string]any{"m": map[string]any{"name": "Notes"}}}, "0"},
		[]any{"Email/set", map[string]any{"accountId": cl.account, "create": map[string]any{"e": map[string]any{
			"mailboxIds": map[string]any{"#m": true},
			"sentAt":     "2026-12-07T11:03:11+10:00",
			"bodyStructure": map[string]any{"type": "multipart/alternative", "subParts": []any{
				map[string]any{"partId": "a", "type": "text/plain", "header:Content-Language": "en"},
				map[string]any{"partId": "b", "type": "text/html"},
			}},
			"bodyValues": map[string]any{"a": map[string]any{"value": "plain"}, "b": map[string]any{"value": "<i>html</i>"}},
		}}}, "1"},
	)
	if len(resp) != 2 || resp[1].Name != "Email/set" || resp[1].Args["created"].(map[string]any)["e"] == nil {
		b, _ := json.Marshal(resp)
		t.Fatalf("responses: %s", b)
	}
	raw := r.Bodies("ann@example.test", "Notes")[0]
	if !strings.Contains(raw, "Date: Mon, 07 Dec 2026 11:03:11 +1000\r\n") {
		t.Errorf("Date from sentAt missing:\n%s", raw)
	}
	_, leaves := walk(t, raw)
	if string(leaves["text/plain"]) != "plain" || string(leaves["text/html"]) != "<i>html</i>" {
		t.Errorf("leaves: %q", leaves)
	}
}

func TestEmailCreateRefusals(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	inbox, archive := mailboxIDOf(r, r.acct, "INBOX"), mailboxIDOf(r, r.acct, "Archive")
	one := map[string]any{inbox: true}
	text := []any{map[string]any{"partId": "t"}}
	values := map[string]any{"t": map[string]any{"value": "x"}}
	cases := map[string]struct {
		email map[string]any
		typ   string
		prop  string
	}{
		"unknown":       {map[string]any{"mailboxIds": one, "colour": "red"}, "invalidProperties", "colour"},
		"serverSet":     {map[string]any{"mailboxIds": one, "threadId": "T1"}, "invalidProperties", "threadId"},
		"twoMailboxes":  {map[string]any{"mailboxIds": map[string]any{inbox: true, archive: true}}, "tooManyMailboxes", "mailboxIds"},
		"noMailbox":     {map[string]any{"subject": "x"}, "invalidProperties", "mailboxIds"},
		"badMailbox":    {map[string]any{"mailboxIds": map[string]any{"F999999": true}}, "invalidProperties", "mailboxIds"},
		"headers":       {map[string]any{"mailboxIds": one, "headers": []any{}}, "invalidProperties", "headers"},
		"sameField":     {map[string]any{"mailboxIds": one, "subject": "a", "header:Subject:asText": "b"}, "invalidProperties", "subject"},
		"contentTop":    {map[string]any{"mailboxIds": one, "header:Content-Type": " text/plain"}, "invalidProperties", "header:Content-Type"},
		"badForm":       {map[string]any{"mailboxIds": one, "header:From:asDate": "2026-01-01T00:00:00Z"}, "invalidProperties", "header:From:asDate"},
		"rawInjection":  {map[string]any{"mailboxIds": one, "header:X-A": " a\r\nBcc: evil@example.org"}, "invalidProperties", "header:X-A"},
		"addrInjection": {map[string]any{"mailboxIds": one, "to": []any{map[string]any{"email": "a@b\r\nBcc: evil@example.org"}}}, "invalidProperties", "to"},
		"structAndText": {map[string]any{"mailboxIds": one, "bodyStructure": map[string]any{"partId": "t"}, "textBody": text, "bodyValues": values}, "invalidProperties", "bodyStructure"},
		"htmlInText":    {map[string]any{"mailboxIds": one, "textBody": []any{map[string]any{"partId": "t", "type": "text/html"}}, "bodyValues": values}, "invalidProperties", "textBody"},
		"noValue":       {map[string]any{"mailboxIds": one, "textBody": text}, "invalidProperties", "bodyValues"},
		"truncated":     {map[string]any{"mailboxIds": one, "textBody": text, "bodyValues": map[string]any{"t": map[string]any{"value": "x", "isTruncated": true}}}, "invalidProperties", "bodyValues"},
		"cte":           {map[string]any{"mailboxIds": one, "textBody": []any{map[string]any{"partId": "t", "header:Content-Transfer-Encoding": "base64"}}, "bodyValues": values}, "invalidProperties", "textBody/0/header:Content-Transfer-Encoding"},
		"missingBlobs": {map[string]any{"mailboxIds": one, "attachments": []any{map[string]any{"blobId": "B999999"}, map[string]any{"blobId": "P999998_1"}}},
			"blobNotFound", ""},
	}
	create := map[string]any{}
	for k, c := range cases {
		create[k] = c.email
	}
	set := cl.one("Email/set", map[string]any{"create": create})
	nc := set["notCreated"].(map[string]any)
	for k, c := range cases {
		e, ok := nc[k].(map[string]any)
		if !ok {
			t.Errorf("%s: created: %v", k, set["created"].(map[string]any)[k])
			continue
		}
		if e["type"] != c.typ {
			t.Errorf("%s: %v, want %s", k, e, c.typ)
		}
		if c.prop != "" {
			if props, _ := e["properties"].([]any); len(props) != 1 || props[0] != c.prop {
				t.Errorf("%s: properties %v, want %s", k, e["properties"], c.prop)
			}
		}
	}
	if nf, _ := nc["missingBlobs"].(map[string]any)["notFound"].([]any); len(nf) != 2 {
		t.Errorf("notFound: %v", nc["missingBlobs"])
	}
	if n := len(r.Messages(r.acct, "INBOX")); n != 0 {
		t.Errorf("%d messages stored by refused creations", n)
	}
	// A subject with CR LF stays one field: the line break is a space.
	set = cl.one("Email/set", map[string]any{"create": map[string]any{"s": map[string]any{"mailboxIds": one,
		"subject": "hello\r\nBcc: evil@example.org\r\n\r\nbody", "textBody": text, "bodyValues": values}}})
	if set["created"].(map[string]any)["s"] == nil {
		t.Fatalf("subject with CRLF: %v", set)
	}
	raw := r.Bodies("ann@example.test", "INBOX")[0]
	m, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Bcc") != "" || !strings.HasPrefix(m.Header.Get("Subject"), "hello  Bcc: evil@example.org") {
		t.Errorf("injected header: %q\n%s", m.Header, raw)
	}
}

func TestEmailImportAndParse(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	src := r.Deliver(r.acct, withAttachment())
	archive := mailboxIDOf(r, r.acct, "Archive")
	imp := cl.one("Email/import", map[string]any{"emails": map[string]any{
		"i1": map[string]any{"blobId": fmt.Sprintf("B%d", src.ID), "mailboxIds": map[string]any{archive: true}, "keywords": map[string]any{"$flagged": true}},
		"i2": map[string]any{"blobId": fmt.Sprintf("B%d", src.ID), "mailboxIds": map[string]any{archive: true}, "receivedAt": "2020-01-02T03:04:05Z"},
		"i3": map[string]any{"blobId": "B999999", "mailboxIds": map[string]any{archive: true}},
		"i4": map[string]any{"blobId": fmt.Sprintf("B%d", src.ID), "mailboxIds": map[string]any{}},
	}})
	created := imp["created"].(map[string]any)
	if len(created) != 2 || imp["oldState"] == imp["newState"] {
		t.Fatalf("import: %v", imp)
	}
	nc := imp["notCreated"].(map[string]any)
	if nc["i3"].(map[string]any)["type"] != "invalidProperties" || nc["i4"].(map[string]any)["type"] != "invalidProperties" {
		t.Errorf("notCreated: %v", nc)
	}
	metas := r.Messages(r.acct, "Archive")
	if len(metas) != 2 {
		t.Fatalf("archive: %+v", metas)
	}
	dates := map[int64]bool{}
	for _, m := range metas {
		dates[m.InternalDate] = true
	}
	received := time.Date(2026, 12, 7, 9, 0, 5, 0, time.UTC).Unix()
	if !dates[received] || !dates[time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).Unix()] {
		t.Errorf("receivedAt: %v, want the Received date %d and the given one", dates, received)
	}
	if raw := r.Bodies("ann@example.test", "Archive")[0]; raw != withAttachment() {
		t.Errorf("imported message differs from the blob")
	}
	// Email/parse: the message blob, a part blob that is no message, none.
	parsed := cl.one("Email/parse", map[string]any{"blobIds": []string{fmt.Sprintf("B%d", src.ID), "B999999"},
		"fetchTextBodyValues": true, "properties": []string{"subject", "from", "attachments", "bodyValues", "textBody", "id", "size"}})
	p, ok := parsed["parsed"].(map[string]any)[fmt.Sprintf("B%d", src.ID)].(map[string]any)
	if !ok {
		t.Fatalf("parse: %v", parsed)
	}
	if p["subject"] != "the report" || p["id"] != nil || len(p["attachments"].([]any)) != 1 {
		t.Errorf("parsed: %v", p)
	}
	if nf := parsed["notFound"].([]any); len(nf) != 1 || nf[0] != "B999999" {
		t.Errorf("notFound: %v", parsed["notFound"])
	}
	bv := p["bodyValues"].(map[string]any)
	if len(bv) != 1 {
		t.Errorf("bodyValues: %v", bv)
	}
	resp := cl.call(nil, []any{"Email/parse", map[string]any{"accountId": cl.account, "blobIds": []string{"B1"}, "properties": []string{"header:From:asDate"}}, "0"})
	if resp[0].Name != "error" || resp[0].Args["type"] != "invalidArguments" {
		t.Errorf("forbidden form: %v", resp[0])
	}
}

func TestEmailCopyToSharedAccount(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	support, err := r.Store.CreateSharedAccount(ctx, "support@example.test")
	if err != nil {
		t.Fatal(err)
	}
	sharedInbox := r.Mailbox(support, "INBOX")
	if _, err := r.Store.ModifyACL(ctx, sharedInbox.ID, "ann@example.test", acl.Replace, acl.ReadWrite); err != nil {
		t.Fatal(err)
	}
	cl := r.client(t, "ann@example.test")
	d := r.Deliver(r.acct, msg("bob@example.org", "for the team", "please handle"))
	shared := fmt.Sprintf("A%d", support.ID)
	resp := cl.call(nil, []any{"Email/copy", map[string]any{"fromAccountId": cl.account, "accountId": shared,
		"create": map[string]any{
			"c1":   map[string]any{"id": fmt.Sprintf("M%d", d.ID), "mailboxIds": map[string]any{fmt.Sprintf("F%d", sharedInbox.ID): true}},
			"gone": map[string]any{"id": "M999999", "mailboxIds": map[string]any{fmt.Sprintf("F%d", sharedInbox.ID): true}},
		},
		"onSuccessDestroyOriginal": true}, "0"})
	if len(resp) != 2 || resp[0].Name != "Email/copy" || resp[1].Name != "Email/set" {
		b, _ := json.Marshal(resp)
		t.Fatalf("responses: %s", b)
	}
	cp := resp[0].Args
	c1, ok := cp["created"].(map[string]any)["c1"].(map[string]any)
	if !ok || cp["fromAccountId"] != cl.account || cp["accountId"] != shared {
		t.Fatalf("copy: %v", cp)
	}
	if cp["notCreated"].(map[string]any)["gone"].(map[string]any)["type"] != "notFound" {
		t.Errorf("notCreated: %v", cp["notCreated"])
	}
	if destroyed := resp[1].Args["destroyed"].([]any); len(destroyed) != 1 || destroyed[0] != fmt.Sprintf("M%d", d.ID) {
		t.Errorf("implicit destroy: %v", resp[1].Args)
	}
	if n := len(r.Messages(r.acct, "INBOX")); n != 0 {
		t.Errorf("original still there: %d", n)
	}
	metas := r.Messages(support, "INBOX")
	if len(metas) != 1 || fmt.Sprintf("M%d", metas[0].ID) != c1["id"] {
		t.Errorf("shared inbox: %+v, created %v", metas, c1)
	}
	// Back, with keywords of its own; the same account is refused.
	resp = cl.call(nil,
		[]any{"Email/copy", map[string]any{"fromAccountId": shared, "accountId": cl.account, "create": map[string]any{
			"c2": map[string]any{"id": c1["id"], "mailboxIds": map[string]any{mailboxIDOf(r, r.acct, "Archive"): true}, "keywords": map[string]any{"$flagged": true}}}}, "1"},
		[]any{"Email/copy", map[string]any{"fromAccountId": cl.account, "accountId": cl.account, "create": map[string]any{}}, "2"},
		[]any{"Email/copy", map[string]any{"fromAccountId": "A999999", "accountId": cl.account, "create": map[string]any{}}, "3"},
	)
	if resp[0].Args["created"].(map[string]any)["c2"] == nil {
		t.Errorf("copy back: %v", resp[0].Args)
	}
	if a := r.Messages(r.acct, "Archive"); len(a) != 1 || a[0].Flags&store.FlagFlagged == 0 {
		t.Errorf("archive: %+v", a)
	}
	if resp[1].Args["type"] != "invalidArguments" || resp[2].Args["type"] != "fromAccountNotFound" {
		t.Errorf("errors: %v %v", resp[1].Args, resp[2].Args)
	}
}

func TestSearchSnippets(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	hit := r.Deliver(r.acct, msg("bob@example.org", "Quarterly <report> & numbers", "Some text before. The quarterly REPORT is ready & attached, see the report."))
	miss := r.Deliver(r.acct, msg("bob@example.org", "lunch", "nothing to see"))
	got := cl.one("SearchSnippet/get", map[string]any{"filter": map[string]any{"text": "report"},
		"emailIds": []string{fmt.Sprintf("M%d", hit.ID), fmt.Sprintf("M%d", miss.ID), "M999999"}})
	list := got["list"].([]any)
	if len(list) != 2 {
		t.Fatalf("snippets: %v", got)
	}
	s := list[0].(map[string]any)
	if s["subject"] != "Quarterly &lt;<mark>report</mark>&gt; &amp; numbers" {
		t.Errorf("subject: %v", s["subject"])
	}
	if p, _ := s["preview"].(string); !strings.Contains(p, "quarterly <mark>REPORT</mark> is ready &amp; attached") || len(p) > 255 {
		t.Errorf("preview: %q", p)
	}
	if m := list[1].(map[string]any); m["subject"] != nil || m["preview"] != nil {
		t.Errorf("no match: %v", m)
	}
	if nf := got["notFound"].([]any); len(nf) != 1 {
		t.Errorf("notFound: %v", got["notFound"])
	}
	// HTML is searched as its text; a phrase is marked whole.
	h := r.Deliver(r.acct, "From: bob@example.org\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"+
		"<html><head><style>.quarterly{}</style></head><body><p>The <b>quarterly report</b> is here</p></body></html>\r\n")
	got = cl.one("SearchSnippet/get", map[string]any{"filter": map[string]any{"operator": "AND", "conditions": []any{
		map[string]any{"body": `"quarterly report"`}, map[string]any{"operator": "NOT", "conditions": []any{map[string]any{"text": "here"}}}}},
		"emailIds": []string{fmt.Sprintf("M%d", h.ID)}})
	if s := got["list"].([]any)[0].(map[string]any); s["subject"] != nil || s["preview"] != "The <mark>quarterly report</mark> is here" {
		t.Errorf("html: %v", s)
	}
	// A subject condition marks the subject only.
	got = cl.one("SearchSnippet/get", map[string]any{"filter": map[string]any{"subject": "numbers"}, "emailIds": []string{fmt.Sprintf("M%d", hit.ID)}})
	if s := got["list"].([]any)[0].(map[string]any); s["preview"] != nil || !strings.Contains(s["subject"].(string), "<mark>numbers</mark>") {
		t.Errorf("subject only: %v", s)
	}
}

func TestEmailCreateOverQuotaAndReadOnly(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	cl := r.client(t, "ann@example.test")
	r.Deliver(r.acct, msg("bob@example.org", "one", "x"))
	if err := r.Store.SetQuotaLimits(ctx, store.QuotaScope{AccountID: r.acct.ID}, store.QuotaLimits{Storage: store.Unlimited, Messages: 1}); err != nil {
		t.Fatal(err)
	}
	email := map[string]any{"mailboxIds": map[string]any{mailboxIDOf(r, r.acct, "Drafts"): true}, "subject": "two"}
	set := cl.one("Email/set", map[string]any{"create": map[string]any{"q": email}})
	if e, _ := set["notCreated"].(map[string]any)["q"].(map[string]any); e == nil || e["type"] != "overQuota" {
		t.Errorf("over quota: %v", set)
	}
	imp := cl.one("Email/import", map[string]any{"emails": map[string]any{"q": map[string]any{
		"blobId": fmt.Sprintf("B%d", r.Messages(r.acct, "INBOX")[0].ID), "mailboxIds": map[string]any{mailboxIDOf(r, r.acct, "Archive"): true}}}})
	if e, _ := imp["notCreated"].(map[string]any)["q"].(map[string]any); e == nil || e["type"] != "overQuota" {
		t.Errorf("import over quota: %v", imp)
	}
	// A folder shared read-only takes no new Email.
	support, err := r.Store.CreateSharedAccount(ctx, "support@example.test")
	if err != nil {
		t.Fatal(err)
	}
	inbox := r.Mailbox(support, "INBOX")
	if _, err := r.Store.ModifyACL(ctx, inbox.ID, "ann@example.test", acl.Replace, acl.ReadOnly); err != nil {
		t.Fatal(err)
	}
	cl = r.client(t, "ann@example.test")
	ro := cl.one("Email/set", map[string]any{"accountId": fmt.Sprintf("A%d", support.ID), "create": map[string]any{"r": map[string]any{
		"mailboxIds": map[string]any{fmt.Sprintf("F%d", inbox.ID): true}, "subject": "nope"}}})
	if e, _ := ro["notCreated"].(map[string]any)["r"].(map[string]any); e == nil || e["type"] != "forbidden" {
		t.Errorf("read-only: %v", ro)
	}
	if n := len(r.Messages(support, "INBOX")); n != 0 {
		t.Errorf("read-only folder got %d messages", n)
	}
	// A drop box: the user may add but not read; the new Email is still
	// reported whole.
	drop, err := r.Store.CreateSharedAccount(ctx, "drop@example.test")
	if err != nil {
		t.Fatal(err)
	}
	dropInbox := r.Mailbox(drop, "INBOX")
	if _, err := r.Store.ModifyACL(ctx, dropInbox.ID, "ann@example.test", acl.Replace, acl.Lookup|acl.Insert); err != nil {
		t.Fatal(err)
	}
	cl = r.client(t, "ann@example.test")
	dropped := cl.one("Email/set", map[string]any{"accountId": fmt.Sprintf("A%d", drop.ID), "create": map[string]any{"d": map[string]any{
		"mailboxIds": map[string]any{fmt.Sprintf("F%d", dropInbox.ID): true}, "subject": "for you"}}})
	c, _ := dropped["created"].(map[string]any)["d"].(map[string]any)
	if c == nil || c["threadId"] == "" || c["threadId"] == nil {
		t.Errorf("drop box: %v", dropped)
	}
	if n := len(r.Messages(drop, "INBOX")); n != 1 {
		t.Errorf("drop box has %d messages", n)
	}
}

func TestEmailParseAttachedMessage(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	inner := "From: carol@example.org\r\nSubject: =?utf-8?q?inner_=C3=A9?=\r\n\r\nthe forwarded text\r\n"
	d := r.Deliver(r.acct, "From: bob@example.org\r\nSubject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"+
		"--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"+inner+"--b--\r\n")
	blob := fmt.Sprintf("P%d_2", d.ID)
	got := cl.one("Email/parse", map[string]any{"blobIds": []string{blob}, "fetchTextBodyValues": true,
		"properties": []string{"subject", "from", "textBody", "bodyValues", "blobId"}})
	p, ok := got["parsed"].(map[string]any)[blob].(map[string]any)
	if !ok {
		t.Fatalf("parse: %v", got)
	}
	if p["subject"] != "inner é" || p["blobId"] != blob {
		t.Errorf("parsed: %v", p)
	}
	for _, v := range p["bodyValues"].(map[string]any) {
		if v.(map[string]any)["value"] != "the forwarded text" { // the last CRLF is the boundary's
			t.Errorf("body: %v", v)
		}
	}
}
