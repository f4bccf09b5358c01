package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mailroom/internal/delivery"
	"mailroom/internal/junkfilter"
	"mailroom/internal/store"
)

// junkModel reads ann's junk model's message counts.
func (r *rig) junkModel() store.JunkModel {
	r.T.Helper()
	r.Server.Deps().Junk.Flush()
	ms, err := r.Store.JunkModels(context.Background(), []int64{r.acct.ID}, nil)
	if err != nil {
		r.T.Fatal(err)
	}
	return ms[0]
}

// A junk message's page says why it is in Junk (the verdict recorded at
// delivery, never a field the sender wrote) and offers "Not junk"; that
// moves it to INBOX and teaches the filter ham; from INBOX, "Junk" moves
// it back and teaches spam instead.
// trainAnn teaches ann's filter a small corpus.
func (r *rig) trainAnn() {
	r.T.Helper()
	jf := r.Server.Deps().Junk
	var spam, ham [][]byte
	for i := range 10 {
		spam = append(spam, fmt.Appendf(nil, "Subject: cheap pills %d\r\n\r\nbuy cheap pills casino lottery winner prize now %d\r\n", i, i))
		ham = append(ham, fmt.Appendf(nil, "Subject: meeting %d\r\n\r\nthe project meeting agenda and budget review %d\r\n", i, i))
	}
	ctx := context.Background()
	if err := jf.TrainCorpus(ctx, r.acct.ID, spam, true); err != nil {
		r.T.Fatal(err)
	}
	if err := jf.TrainCorpus(ctx, r.acct.ID, ham, false); err != nil {
		r.T.Fatal(err)
	}
}

// deliverInbound delivers raw to ann as the MX does (Inbound: scored).
func (r *rig) deliverInbound(raw string) {
	r.T.Helper()
	ctx := context.Background()
	agent := r.Server.Deps().Delivery
	res, err := agent.Resolve(ctx, "ann@example.test", false)
	if err != nil {
		r.T.Fatal(err)
	}
	m, err := r.Store.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		r.T.Fatal(err)
	}
	defer m.Discard()
	if err := agent.Deliver(ctx, m, delivery.Envelope{From: "x@example.org", Inbound: true,
		Recipients: []delivery.Recipient{{Address: "ann@example.test", Resolved: res}}}); err != nil {
		r.T.Fatal(err)
	}
}

// junkSample is spam by trainAnn's lessons, with a forged verdict of its own.
const junkSample = "Received: from mx.example.org\r\nX-Mailroom-Junk: inbox;\r\n\tclue=\"forged clue\"\r\nSubject: cheap pills\r\n\r\ncasino lottery winner, cheap pills\r\n"

func TestJunkButtons(t *testing.T) {
	r := newRig(t)
	r.trainAnn()
	before := r.junkModel()
	r.deliverInbound(junkSample)
	junkMsgs := r.Messages(r.acct, "Junk")
	if len(junkMsgs) != 1 {
		t.Fatalf("Junk holds %d messages", len(junkMsgs))
	}
	junkbox := r.Mailbox(r.acct, "Junk")
	msgURL := "/msg/" + itoa64(junkbox.ID) + "/" + itoa64(int64(junkMsgs[0].UID))

	b := r.browser()
	b.login("ann@example.test")
	code, _, body := b.get(msgURL)
	if code != 200 || !strings.Contains(body, "The junk filter scored this message") || !strings.Contains(body, "casino") ||
		!strings.Contains(body, `value="notjunk"`) || strings.Contains(body, `value="junk"`) {
		t.Fatalf("Junk message page %d:\n%s", code, body)
	}
	if strings.Contains(body, "forged clue") {
		t.Fatal("the page shows the sender's own X-Mailroom-Junk field")
	}

	code, h, _ := b.post(msgURL+"/junk", url.Values{"csrf": {b.csrf}, "as": {"notjunk"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/mail/Junk") {
		t.Fatalf("Not junk: %d %q", code, h.Get("Location"))
	}
	in := r.Messages(r.acct, "INBOX")
	if len(in) != 1 || len(r.Messages(r.acct, "Junk")) != 0 {
		t.Fatalf("after Not junk: INBOX %d, Junk %d", len(in), len(r.Messages(r.acct, "Junk")))
	}
	if m := r.junkModel(); m.Ham != before.Ham+1 || m.Spam != before.Spam {
		t.Fatalf("after Not junk the model has %d spam, %d ham; before %d, %d", m.Spam, m.Ham, before.Spam, before.Ham)
	}
	if kw := r.meta("INBOX", in[0].UID).Keywords; len(kw) != 1 || kw[0] != junkfilter.KeywordNotJunk {
		t.Fatalf("keywords after Not junk: %q", kw)
	}

	inURL := "/msg/" + itoa64(r.Mailbox(r.acct, "INBOX").ID) + "/" + itoa64(int64(in[0].UID))
	code, _, body = b.get(inURL)
	if code != 200 || !strings.Contains(body, `value="junk"`) || strings.Contains(body, "junkwhy") {
		t.Fatalf("INBOX message page %d:\n%s", code, body)
	}
	if code, _, _ := b.post(inURL+"/junk", url.Values{"csrf": {b.csrf}, "as": {"junk"}}); code != http.StatusSeeOther {
		t.Fatalf("Junk: %d", code)
	}
	if m := r.junkModel(); m.Ham != before.Ham || m.Spam != before.Spam+1 {
		t.Fatalf("after Junk the model has %d spam, %d ham; before %d, %d", m.Spam, m.Ham, before.Spam, before.Ham)
	}
	// Without the CSRF token nothing happens.
	back := r.Messages(r.acct, "Junk")
	if code, _, _ := b.post("/msg/"+itoa64(junkbox.ID)+"/"+itoa64(int64(back[0].UID))+"/junk", url.Values{"as": {"notjunk"}}); code == http.StatusSeeOther {
		t.Fatal("Not junk without a CSRF token was accepted")
	}
	if len(r.Messages(r.acct, "Junk")) != 1 {
		t.Fatal("a request without CSRF token moved the message")
	}
}

// A message quarantined before delivery (DMARC, a blocklist) says which
// check held it; one a user put in Junk says so.
func TestJunkWhyQuarantineAndManual(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	agent := r.Server.Deps().Delivery
	res, err := agent.Resolve(ctx, "ann@example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Store.Stage(ctx, strings.NewReader("Subject: invoice\r\n\r\nplease pay\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Discard()
	if err := agent.Deliver(ctx, m, delivery.Envelope{From: "x@example.org", Inbound: true, Quarantine: []string{"dmarc=fail (p=quarantine) header.from=bank.example"},
		Recipients: []delivery.Recipient{{Address: "ann@example.test", Resolved: res}}}); err != nil {
		t.Fatal(err)
	}
	junkbox := r.Mailbox(r.acct, "Junk")
	manual := r.DeliverInto(store.Target{MailboxID: junkbox.ID}, sample)
	b := r.browser()
	b.login("ann@example.test")
	msgs := r.Messages(r.acct, "Junk")
	_, _, body := b.get("/msg/" + itoa64(junkbox.ID) + "/" + itoa64(int64(msgs[0].UID)))
	if !strings.Contains(body, "Held as junk by the server") || !strings.Contains(body, "dmarc=fail (p=quarantine) header.from=bank.example") ||
		strings.Contains(body, "The junk filter scored") {
		t.Fatalf("quarantined message page:\n%s", body)
	}
	_, _, body = b.get("/msg/" + itoa64(junkbox.ID) + "/" + itoa64(int64(manual.UID)))
	if !strings.Contains(body, "put in Junk by you or a mail program") || !strings.Contains(body, `value="notjunk"`) {
		t.Fatalf("manually filed message page:\n%s", body)
	}
}
