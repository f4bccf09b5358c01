package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// upload is a file sent with a multipart form.
type upload struct {
	field, name, ctype string
	data               []byte
}

// multipartBody encodes a compose form as a browser does.
func multipartBody(t testing.TB, form url.Values, files ...upload) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", f.ctype)
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// postMultipart posts a multipart form. With chunked, the length is not
// announced (the server finds the size only by reading).
func (b *browser) postMultipart(path string, chunked bool, form url.Values, files ...upload) (int, http.Header, string) {
	b.t.Helper()
	data, ctype := multipartBody(b.t, form, files...)
	var body io.Reader = bytes.NewReader(data)
	if chunked {
		body = struct{ io.Reader }{body} // hides the length from net/http
	}
	req, err := http.NewRequest("POST", b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

var (
	inputRE    = regexp.MustCompile(`<input [^>]*name="([a-z_]+)" value="([^"]*)"`)
	keepRE     = regexp.MustCompile(`<input type="checkbox" name="keep" value="([^"]*)"( checked)?>`)
	textareaRE = regexp.MustCompile(`(?s)<textarea id="body" name="body"[^>]*>\n(.*?)</textarea>`)
)

// composeForm reads the fields of a compose page as a browser would send
// them (ticked checkboxes only).
func composeForm(t testing.TB, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(page, -1) {
		if m[1] != "keep" {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	for _, m := range keepRE.FindAllStringSubmatch(page, -1) {
		if m[2] != "" {
			v.Add("keep", html.UnescapeString(m[1]))
		}
	}
	m := textareaRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no message body field on the page:\n%s", page)
	}
	v.Set("body", html.UnescapeString(m[1]))
	return v
}

// only returns the one message of a mailbox.
func (r *rig) only(email, name string) testrig.Message {
	r.T.Helper()
	list := r.Read(email, name)
	if len(list) != 1 {
		r.T.Fatalf("%s %s holds %d messages, want 1", email, name, len(list))
	}
	return list[0]
}

// parsed is a message taken apart with go-message.
type parsed struct {
	header mail.Header
	text   string
	files  map[string][]byte
	types  map[string]string
}

func parse(t testing.TB, raw string) parsed {
	t.Helper()
	mr, err := mail.CreateReader(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	p := parsed{header: mr.Header, files: map[string][]byte{}, types: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		data, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			p.text += string(data)
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			ct, _, _ := h.ContentType()
			p.files[name], p.types[name] = data, ct
		}
	}
	return p
}

func (p parsed) addresses(t testing.TB, key string) string {
	t.Helper()
	list, err := p.header.AddressList(key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.Address)
	}
	return strings.Join(out, ",")
}

func hasField(raw, name string) bool {
	hdr, _, _ := strings.Cut(raw, "\r\n\r\n")
	return regexp.MustCompile(`(?im)^` + name + `:`).MatchString(hdr)
}

func TestComposeSendLocal(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	r.Account("carol@example.test")
	b := r.browser()
	b.login("ann@example.test")
	code, _, page := b.get("/compose")
	for _, want := range []string{`enctype="multipart/form-data"`, `<label for="to">To</label>`, `name="bcc"`, `type="file" multiple`,
		`value="send">Send</button>`, `value="draft">Save draft</button>`, `class="stack"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("compose page (%d) lacks %s:\n%s", code, want, page)
		}
	}
	code, h, page := b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"send"},
		"to": {"Bob <bob@example.test>"}, "bcc": {"carol@example.test"}, "subject": {"Grüße aus Köln"},
		"body": {"Line one\r\nLine two with a long line: " + strings.Repeat("ä", 100) + "\r\n"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/mail/INBOX?flash=") {
		t.Fatalf("send: %d %q\n%s", code, h.Get("Location"), page)
	}
	if _, _, page := b.get(h.Get("Location")); !strings.Contains(page, "Message sent.") {
		t.Fatal("no flash after sending")
	}

	got := r.only("bob@example.test", "INBOX")
	p := parse(t, got.Raw)
	if subj, _ := p.header.Subject(); subj != "Grüße aus Köln" {
		t.Errorf("subject %q", subj)
	}
	if from := p.addresses(t, "From"); from != "ann@example.test" {
		t.Errorf("From %q", from)
	}
	if to := p.addresses(t, "To"); to != "bob@example.test" {
		t.Errorf("To %q", to)
	}
	if !strings.HasPrefix(p.text, "Line one\r\nLine two with a long line: ää") || !strings.HasSuffix(p.text, "ää\r\n") {
		t.Errorf("text %q", p.text)
	}
	if id := p.header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{24}@mail\.example\.test>$`).MatchString(id) {
		t.Errorf("Message-ID %q", id)
	}
	if d, err := p.header.Date(); err != nil || d.IsZero() {
		t.Errorf("Date %q: %v", p.header.Get("Date"), err)
	}
	if ct := p.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || p.header.Get("Content-Transfer-Encoding") != "quoted-printable" ||
		p.header.Get("Mime-Version") != "1.0" {
		t.Errorf("MIME fields: %q %q %q", ct, p.header.Get("Content-Transfer-Encoding"), p.header.Get("Mime-Version"))
	}
	for _, line := range strings.Split(got.Raw, "\r\n") {
		if len(line) > 78 {
			t.Errorf("line longer than 78: %q", line)
		}
	}
	if strings.Contains(strings.ReplaceAll(got.Raw, "\r\n", ""), "\n") {
		t.Error("bare LF in the message")
	}

	// The Bcc recipient got it; nobody sees the Bcc, not even Sent.
	carol := r.only("carol@example.test", "INBOX")
	sent := r.only("ann@example.test", "Sent")
	for who, m := range map[string]testrig.Message{"bob": got, "carol": carol, "Sent": sent} {
		if hasField(m.Raw, "Bcc") {
			t.Errorf("%s's copy has a Bcc field", who)
		}
		if who != "carol" && strings.Contains(m.Raw, "carol") {
			t.Errorf("%s's copy names the Bcc recipient:\n%s", who, m.Raw)
		}
	}
	if sent.Meta.Flags&store.FlagSeen == 0 {
		t.Error("the Sent copy is not \\Seen")
	}
	if s := parse(t, sent.Raw); s.text != p.text || s.header.Get("Message-Id") != p.header.Get("Message-Id") {
		t.Error("the Sent copy differs from what was sent")
	}
	// The Sent folder shows it at once (the shared index was told).
	if _, _, page := b.get("/mail/Sent"); !strings.Contains(page, "Grüße aus Köln") {
		t.Error("Sent folder page does not list the message")
	}
	// Both recipients are Ann's contacts now, Bob with his name, the Bcc
	// from the envelope (store.Contacts, through the delivery agent).
	for _, want := range []struct{ text, email, name string }{{"bob", "bob@example.test", "Bob"}, {"carol", "carol@example.test", ""}} {
		got, err := r.Store.SuggestContacts(context.Background(), r.acct.ID, want.text, 10)
		if err != nil || len(got) != 1 || got[0].Email != want.email || got[0].Name != want.name || got[0].Sent != 1 {
			t.Errorf("ann's suggestions for %s: %+v %v", want.text, got, err)
		}
	}
}

func TestComposeAttachment(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	b := r.browser()
	b.login("ann@example.test")
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	code, h, page := b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"send"},
		"to": {"bob@example.test"}, "subject": {"the report"}, "body": {"Attached."}},
		upload{"files", "report.pdf", "application/pdf", data}, upload{"files", "notes.txt", "text/plain", []byte("plain notes\r\n")})
	if code != http.StatusSeeOther {
		t.Fatalf("send: %d\n%s", code, page)
	}
	_ = h
	p := parse(t, r.only("bob@example.test", "INBOX").Raw)
	if !bytes.Equal(p.files["report.pdf"], data) || p.types["report.pdf"] != "application/pdf" {
		t.Errorf("report.pdf: %d bytes, %q", len(p.files["report.pdf"]), p.types["report.pdf"])
	}
	if string(p.files["notes.txt"]) != "plain notes\r\n" || p.types["notes.txt"] != "text/plain" {
		t.Errorf("notes.txt: %q %q", p.files["notes.txt"], p.types["notes.txt"])
	}
	if ct, _, _ := p.header.ContentType(); ct != "multipart/mixed" || p.text != "Attached.\r\n" {
		t.Errorf("%s with text %q", ct, p.text)
	}
}

const thread = "From: Bob <bob@example.test>\r\nTo: ann@example.test, Carol <carol@example.test>\r\nCc: dave@example.test, ANN@example.test\r\n" +
	"Subject: Lunch on Friday\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lunch@example.test>\r\n" +
	"In-Reply-To: <root@example.test>\r\nReferences: <root@example.test>\r\n\r\nShall we meet at noon?\r\n\r\n> earlier words\r\n"

func TestComposeReply(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	d := r.Deliver(r.acct, thread)
	ref := itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))
	b := r.browser()
	b.login("ann@example.test")

	code, _, page := b.get("/compose?reply=" + ref)
	if code != 200 {
		t.Fatalf("reply page: %d\n%s", code, page)
	}
	f := composeForm(t, page)
	if f.Get("to") != "Bob <bob@example.test>" || f.Get("cc") != "" || f.Get("subject") != "Re: Lunch on Friday" {
		t.Errorf("reply fields: %q %q %q", f.Get("to"), f.Get("cc"), f.Get("subject"))
	}
	body := f.Get("body")
	if !strings.HasPrefix(body, "\n\nOn ") || !strings.Contains(body, ", Bob wrote:\n> Shall we meet at noon?\n>\n>> earlier words\n") {
		t.Errorf("reply body %q", body)
	}
	if f.Get("in_reply_to") != "<lunch@example.test>" || f.Get("references") != "<root@example.test> <lunch@example.test>" {
		t.Errorf("reply references %q %q", f.Get("in_reply_to"), f.Get("references"))
	}

	// Reply all: everyone but ann herself, whatever the case of her address.
	_, _, page = b.get("/compose?replyall=" + ref)
	fa := composeForm(t, page)
	if fa.Get("to") != "Bob <bob@example.test>, Carol <carol@example.test>" || fa.Get("cc") != "dave@example.test" {
		t.Errorf("reply all: to %q cc %q", fa.Get("to"), fa.Get("cc"))
	}
	// "Re:" is not doubled.
	d2 := r.Deliver(r.acct, strings.Replace(thread, "Subject: Lunch", "Subject: RE: Lunch", 1))
	_, _, page = b.get("/compose?reply=" + itoa64(d2.MailboxID) + "/" + itoa64(int64(d2.UID)))
	if s := composeForm(t, page).Get("subject"); s != "RE: Lunch on Friday" {
		t.Errorf("subject of a reply to a reply: %q", s)
	}

	f.Set("csrf", b.csrf)
	f.Set("action", "send")
	f.Set("body", "Noon is fine."+f.Get("body"))
	code, h, page := b.postMultipart("/compose", false, f)
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/mail/INBOX?flash=") {
		t.Fatalf("send reply: %d %q\n%s", code, h.Get("Location"), page)
	}
	p := parse(t, r.only("bob@example.test", "INBOX").Raw)
	if p.header.Get("In-Reply-To") != "<lunch@example.test>" || p.header.Get("References") != "<root@example.test> <lunch@example.test>" {
		t.Errorf("sent reply: In-Reply-To %q References %q", p.header.Get("In-Reply-To"), p.header.Get("References"))
	}
	if !strings.HasPrefix(p.text, "Noon is fine.\r\n\r\nOn ") {
		t.Errorf("sent reply text %q", p.text)
	}
	if r.meta("INBOX", d.UID).Flags&store.FlagAnswered == 0 {
		t.Error("the original is not \\Answered")
	}
	if r.meta("INBOX", d2.UID).Flags&store.FlagAnswered != 0 {
		t.Error("another message got \\Answered")
	}

	// Damaged reply references are refused, not written into a header.
	f.Set("references", "<a@b>\r\nBcc: eve@example.test")
	if code, _, page := b.postMultipart("/compose", false, f); code != http.StatusBadRequest || !strings.Contains(page, "damaged") {
		t.Errorf("bad references: %d", code)
	}
	// Another account's message cannot be replied to.
	other := r.Account("eve@example.test")
	inbox, _ := r.Store.Mailbox(context.Background(), other.ID, "INBOX")
	if code, _, _ := b.get("/compose?reply=" + itoa64(inbox.ID) + "/1"); code != http.StatusNotFound {
		t.Errorf("reply to another account's message: %d", code)
	}
}

const withFiles = "From: Bob <bob@example.test>\r\nTo: ann@example.test\r\nSubject: files\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
	"--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n" +
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=latin.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nK=F6ln\r\n" +
	"--b--\r\n"

func TestComposeForward(t *testing.T) {
	r := newRig(t)
	r.Account("carol@example.test")
	d := r.Deliver(r.acct, withFiles)
	b := r.browser()
	b.login("ann@example.test")
	code, _, page := b.get("/compose?forward=" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID)))
	if code != 200 {
		t.Fatalf("forward page: %d\n%s", code, page)
	}
	f := composeForm(t, page)
	if f.Get("subject") != "Fwd: files" || f.Get("to") != "" || f.Get("attach") == "" || len(f["keep"]) != 2 {
		t.Errorf("forward fields: %v", f)
	}
	if body := f.Get("body"); !strings.Contains(body, "Forwarded message") || !strings.Contains(body, "From: Bob <bob@example.test>") ||
		!strings.Contains(body, "\n> See attached.\n") {
		t.Errorf("forward body %q", body)
	}
	if !strings.Contains(page, "report.pdf") || !strings.Contains(page, "latin.txt") {
		t.Error("the carried attachments are not listed")
	}
	f.Set("csrf", b.csrf)
	f.Set("action", "send")
	f.Set("to", "carol@example.test")
	if code, _, page := b.postMultipart("/compose", false, f, upload{"files", "extra.bin", "", []byte{0, 1, 2}}); code != http.StatusSeeOther {
		t.Fatalf("send forward: %d\n%s", code, page)
	}
	p := parse(t, r.only("carol@example.test", "INBOX").Raw)
	if string(p.files["report.pdf"]) != "%PDF-1.4\n%äüöß\n" || p.types["report.pdf"] != "application/pdf" {
		t.Errorf("report.pdf: %q %q", p.files["report.pdf"], p.types["report.pdf"])
	}
	if string(p.files["latin.txt"]) != "Köln" {
		t.Errorf("latin.txt (as UTF-8): %q", p.files["latin.txt"])
	}
	if !bytes.Equal(p.files["extra.bin"], []byte{0, 1, 2}) || p.types["extra.bin"] != "application/octet-stream" {
		t.Errorf("extra.bin: %q %q", p.files["extra.bin"], p.types["extra.bin"])
	}

	// An unticked attachment stays behind.
	f.Set("keep", "2")
	if code, _, page := b.postMultipart("/compose", false, f); code != http.StatusSeeOther {
		t.Fatalf("send forward: %d\n%s", code, page)
	}
	list := r.Read("carol@example.test", "INBOX")
	p = parse(t, list[1].Raw)
	if len(p.files) != 1 || p.files["report.pdf"] == nil {
		t.Errorf("forward with one attachment kept carries %d", len(p.files))
	}
	// None ticked: none carried.
	f.Del("keep")
	if code, _, page := b.postMultipart("/compose", false, f); code != http.StatusSeeOther {
		t.Fatalf("send forward: %d\n%s", code, page)
	}
	list = r.Read("carol@example.test", "INBOX")
	if p = parse(t, list[2].Raw); len(p.files) != 0 || p.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("forward with no attachment kept carries %d (%s)", len(p.files), p.header.Get("Content-Type"))
	}
}

func TestComposeErrorsKeepTheForm(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	form := url.Values{"csrf": {b.csrf}, "action": {"send"}, "to": {"bob@example.test, not an address"},
		"subject": {"Important <stuff>"}, "body": {"Dear Bob,\r\nthe text I typed.\r\n"}}
	code, _, page := b.postMultipart("/compose", false, form, upload{"files", "a.txt", "text/plain", []byte("x")})
	if code != http.StatusBadRequest || !strings.Contains(page, "The To field has &#34;not an address&#34;, which is not a mail address.") ||
		!strings.Contains(page, "Choose the files to attach again") {
		t.Fatalf("bad address: %d\n%s", code, page)
	}
	f := composeForm(t, page)
	if f.Get("to") != form.Get("to") || f.Get("subject") != form.Get("subject") || f.Get("body") != form.Get("body") {
		t.Errorf("the typed text was not kept: %v", f)
	}
	if !strings.Contains(page, `name="to" value="bob@example.test, not an address" inputmode="email" autocomplete="off" autocapitalize="off" spellcheck="false" aria-describedby="addr-hint" aria-invalid="true"`) {
		t.Error("the To field is not marked invalid")
	}

	// A recipient that does not resolve: nothing is sent to anyone.
	r.Account("bob@example.test")
	form.Set("to", "bob@example.test")
	form.Set("cc", "nobody@example.test")
	code, _, page = b.postMultipart("/compose", false, form)
	if code != http.StatusBadRequest || !strings.Contains(page, "Nothing was sent") || !strings.Contains(page, "nobody@example.test") ||
		!strings.Contains(page, "no such user here") || !strings.Contains(page, `aria-invalid="true" autofocus>`) {
		t.Fatalf("unknown recipient: %d\n%s", code, page)
	}
	if list := r.Read("bob@example.test", "INBOX"); len(list) != 0 {
		t.Error("a message went out although a recipient was refused")
	}
	if list := r.Read("ann@example.test", "Sent"); len(list) != 0 {
		t.Error("a refused message is in Sent")
	}
	// No recipient at all.
	if code, _, page := b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"send"}, "body": {"x"}}); code != http.StatusBadRequest ||
		!strings.Contains(page, "Add at least one recipient") {
		t.Errorf("no recipient: %d", code)
	}
}

func TestComposeDrafts(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	r.Account("carol@example.test")
	b := r.browser()
	b.login("ann@example.test")
	code, h, page := b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"draft"},
		"to": {"Bob <bob@example.test>"}, "bcc": {"carol@example.test"}, "subject": {"Plans"}, "body": {"First version\r\n"}},
		upload{"files", "plan.bin", "application/octet-stream", []byte("plan bytes")})
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/compose?draft=") || !strings.Contains(h.Get("Location"), "&flash=") {
		t.Fatalf("save draft: %d %q\n%s", code, h.Get("Location"), page)
	}
	draft := r.only("ann@example.test", "Drafts")
	if draft.Meta.Flags&(store.FlagDraft|store.FlagSeen) != store.FlagDraft|store.FlagSeen {
		t.Errorf("draft flags %v", draft.Meta.Flags)
	}
	if !hasField(draft.Raw, "Bcc") {
		t.Error("the draft lost its Bcc")
	}

	code, _, page = b.get(h.Get("Location"))
	if code != 200 || !strings.Contains(page, "Draft saved.") || !strings.Contains(page, "Edit draft") || !strings.Contains(page, "plan.bin") {
		t.Fatalf("draft page: %d\n%s", code, page)
	}
	f := composeForm(t, page)
	if f.Get("to") != "Bob <bob@example.test>" || f.Get("bcc") != "carol@example.test" || f.Get("subject") != "Plans" ||
		f.Get("body") != "First version\n" || f.Get("draft") == "" || f.Get("attach") != f.Get("draft") || len(f["keep"]) != 1 {
		t.Fatalf("draft fields: %q", f)
	}

	// Saving again replaces the draft.
	f.Set("csrf", b.csrf)
	f.Set("action", "draft")
	f.Set("body", "Second version\r\n")
	code, h, page = b.postMultipart("/compose", false, f)
	if code != http.StatusSeeOther {
		t.Fatalf("save the draft again: %d\n%s", code, page)
	}
	draft = r.only("ann@example.test", "Drafts")
	if p := parse(t, draft.Raw); p.text != "Second version\r\n" || string(p.files["plan.bin"]) != "plan bytes" {
		t.Errorf("second draft: %q, %q", p.text, p.files["plan.bin"])
	}
	if _, _, page := b.get("/mail/Drafts"); strings.Count(page, "Plans") != 1 {
		t.Error("the Drafts page does not show exactly one draft")
	}

	// Sending it removes it.
	_, _, page = b.get(h.Get("Location"))
	f = composeForm(t, page)
	f.Set("csrf", b.csrf)
	f.Set("action", "send")
	if code, _, page := b.postMultipart("/compose", false, f); code != http.StatusSeeOther {
		t.Fatalf("send the draft: %d\n%s", code, page)
	}
	if list := r.Read("ann@example.test", "Drafts"); len(list) != 0 {
		t.Errorf("%d drafts left after sending", len(list))
	}
	got := r.only("bob@example.test", "INBOX")
	if p := parse(t, got.Raw); p.text != "Second version\r\n" || string(p.files["plan.bin"]) != "plan bytes" || hasField(got.Raw, "Bcc") ||
		hasField(got.Raw, answeredHeader) {
		t.Errorf("sent draft:\n%s", got.Raw)
	}
	r.only("carol@example.test", "INBOX")

	// The draft field cannot name a message outside Drafts (it would be
	// removed on sending).
	d := r.Deliver(r.acct, sample)
	code, _, _ = b.postMultipart("/compose", false, url.Values{"csrf": {b.csrf}, "action": {"send"}, "to": {"bob@example.test"},
		"draft": {itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))}})
	if code != http.StatusBadRequest {
		t.Errorf("draft=an INBOX message: %d", code)
	}
	r.meta("INBOX", d.UID) // still there
	if code, _, _ := b.get("/compose?draft=" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))); code != http.StatusNotFound {
		t.Errorf("editing an INBOX message as a draft: %d", code)
	}
}

// A reply saved as a draft still marks the original \Answered when it is
// finally sent.
func TestComposeReplyDraft(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	d := r.Deliver(r.acct, thread)
	b := r.browser()
	b.login("ann@example.test")
	_, _, page := b.get("/compose?reply=" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID)))
	f := composeForm(t, page)
	f.Set("csrf", b.csrf)
	f.Set("action", "draft")
	_, h, _ := b.postMultipart("/compose", false, f)
	_, _, page = b.get(h.Get("Location"))
	f = composeForm(t, page)
	if f.Get("answered") == "" || f.Get("in_reply_to") != "<lunch@example.test>" {
		t.Fatalf("reply draft fields: %v", f)
	}
	f.Set("csrf", b.csrf)
	f.Set("action", "send")
	if code, _, page := b.postMultipart("/compose", false, f); code != http.StatusSeeOther {
		t.Fatalf("send: %d\n%s", code, page)
	}
	if r.meta("INBOX", d.UID).Flags&store.FlagAnswered == 0 {
		t.Error("the original is not \\Answered")
	}
	if got := r.only("bob@example.test", "INBOX"); hasField(got.Raw, answeredHeader) || !hasField(got.Raw, "In-Reply-To") {
		t.Errorf("sent reply draft:\n%s", got.Raw)
	}
}

func TestComposeCSRFAndSubmissionDisabled(t *testing.T) {
	r := newRig(t)
	r.Account("bob@example.test")
	b := r.browser()
	b.login("ann@example.test")
	form := url.Values{"action": {"send"}, "to": {"bob@example.test"}, "subject": {"hi"}, "body": {"hello"}}
	if code, _, _ := b.postMultipart("/compose", false, form); code != http.StatusForbidden {
		t.Errorf("without CSRF token: %d", code)
	}
	form.Set("csrf", "wrong")
	if code, _, _ := b.postMultipart("/compose", false, form); code != http.StatusForbidden {
		t.Errorf("with a wrong CSRF token: %d", code)
	}
	if code, _, _ := b.post("/compose", form); code != http.StatusForbidden {
		t.Errorf("URL-encoded without CSRF token: %d", code)
	}
	if list := r.Read("bob@example.test", "INBOX"); len(list) != 0 {
		t.Fatal("a forged form sent mail")
	}
	// Logged out: no mail either.
	anon := r.browser()
	form.Set("csrf", b.csrf)
	if code, _, _ := anon.postMultipart("/compose", false, form); code != http.StatusUnauthorized {
		t.Errorf("logged out: %d", code)
	}

	if err := r.Store.SetSettings(context.Background(), r.acct.ID, map[string]string{"submission.enabled": "false"}); err != nil {
		t.Fatal(err)
	}
	code, _, page := b.postMultipart("/compose", false, form)
	if code != http.StatusForbidden || !strings.Contains(page, "Sending mail is switched off for this account") ||
		!strings.Contains(page, ">\nhello</textarea>") {
		t.Fatalf("submission disabled: %d\n%s", code, page)
	}
	if list := r.Read("bob@example.test", "INBOX"); len(list) != 0 {
		t.Fatal("mail sent although submission is disabled")
	}
	// A draft can still be saved.
	form.Set("action", "draft")
	if code, _, _ := b.postMultipart("/compose", false, form); code != http.StatusSeeOther {
		t.Errorf("draft with submission disabled: %d", code)
	}
}

func TestComposeTooLarge(t *testing.T) {
	const limit = 64 << 10
	r := newRig(t, testrig.Config(func(c *config.Config) { c.SMTP.MaxMessageSize = limit }))
	r.Account("bob@example.test")
	b := r.browser()
	b.login("ann@example.test")
	form := url.Values{"csrf": {b.csrf}, "action": {"send"}, "to": {"bob@example.test"}, "subject": {"big one"}, "body": {"see attached"}}
	big := upload{"files", "big.bin", "application/octet-stream", bytes.Repeat([]byte{0xAB}, 100<<10)}
	for _, chunked := range []bool{false, true} {
		code, _, page := b.postMultipart("/compose", chunked, form, big)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "The message is too large") || !strings.Contains(page, "64 KB") {
			t.Errorf("chunked=%v: %d\n%s", chunked, code, page)
		}
	}
	// Under the limit as uploaded, over it once encoded: the form comes
	// back with the text kept.
	code, _, page := b.postMultipart("/compose", false, form, upload{"files", "mid.bin", "application/octet-stream", bytes.Repeat([]byte{0xCD}, 56<<10)})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "The message is too large: encoded for mail") ||
		composeForm(t, page).Get("subject") != "big one" {
		t.Errorf("encoded over the limit: %d\n%s", code, page)
	}
	if list := r.Read("bob@example.test", "INBOX"); len(list) != 0 {
		t.Fatal("an over-size message was delivered")
	}
	// The session still works after the refused uploads.
	if code, _, _ := b.postMultipart("/compose", false, form); code != http.StatusSeeOther {
		t.Errorf("small message after the refusals: %d", code)
	}
}

func TestHTMLToTextAndQuote(t *testing.T) {
	for in, want := range map[string]string{
		"<p>Hello <b>Bob</b>,</p><p>see you<br>at noon</p>":                                     "Hello Bob,\n\nsee you\nat noon",
		"<html><head><title>x</title><style>p{}</style></head><body>Hi &amp; bye</body></html>": "Hi & bye",
		"<ul><li>one</li><li>two</li></ul><script>alert(1)</script>":                            "one\ntwo",
	} {
		if got := htmlToText(in); got != want {
			t.Errorf("htmlToText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := quote("a\r\n\r\n> b\r\n\r\n"); got != "> a\n>\n>> b\n" {
		t.Errorf("quote: %q", got)
	}
}
