package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/junkfilter"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// junkCorpus words: what ann's spam and ham are made of.
var (
	spamWords = strings.Fields("viagra casino winner lottery prize cheap pills bitcoin investment guaranteed " +
		"discount offer click limited urgent million dollars claim exclusive deal")
	hamWords = strings.Fields("meeting agenda project review minutes budget schedule report deadline draft " +
		"lunch team quarterly release notes invoice thanks tomorrow call slides")
)

func corpusWords(list []string, i, n int) string {
	out := make([]string, n)
	for k := range out {
		out[k] = list[(i*7+k*3)%len(list)]
	}
	return strings.Join(out, " ")
}

// junkModel reads an account's model once the trainer has caught up.
func (r *rig) junkModel(acct store.Account) store.JunkModel {
	r.T.Helper()
	r.Server.Deps().Junk.Flush()
	ms, err := r.Store.JunkModels(context.Background(), []int64{acct.ID}, nil)
	if err != nil {
		r.T.Fatal(err)
	}
	return ms[0]
}

func corpusSpam(i int) string {
	return fmt.Sprintf("From: Deals <promo@spam%d.example>\r\nSubject: %s\r\n\r\n%s\r\n%s\r\n", i%3, corpusWords(spamWords, i, 3), corpusWords(spamWords, i+1, 12), corpusWords(spamWords, i+2, 12))
}

func corpusHam(i int) string {
	return fmt.Sprintf("From: Bob <bob@work.example>\r\nSubject: %s\r\n\r\n%s\r\n%s\r\n", corpusWords(hamWords, i, 3), corpusWords(hamWords, i+1, 12), corpusWords(hamWords, i+2, 12))
}

// sendMX sends a message to ann over the MX listener, as another server would.
func (r *rig) sendMX(from, msg string) {
	r.T.Helper()
	c, err := gosmtp.Dial(r.Addr("smtp"))
	if err != nil {
		r.T.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.example.org"); err != nil {
		r.T.Fatal(err)
	}
	if err := c.SendMail(from, []string{"ann@example.test"}, strings.NewReader(msg)); err != nil {
		r.T.Fatal(err)
	}
	c.Quit()
}

// Users teach their filter over IMAP: MOVE out of Junk is ham, STORE
// $Junk and MOVE into Junk are spam, each message once; the trainer marks
// what it learned with $Junk for every client to see.
func TestJunkTrainingOverIMAP(t *testing.T) {
	r := start(t)
	bob := r.Account("bob@example.test")
	for i := range 12 {
		r.DeliverInto(store.Target{MailboxID: r.Mailbox(bob, "Junk").ID}, corpusHam(i))
		r.DeliverInto(store.Target{MailboxID: r.Mailbox(bob, "Archive").ID}, corpusSpam(i))
	}
	im := dial(t, r.Addr("imaps"))
	im.Line()
	im.imapCmd("l", "LOGIN bob@example.test \""+password+"\"")
	im.imapCmd("a", "SELECT Junk")
	im.imapCmd("b", "UID MOVE 1:* INBOX")
	if m := r.junkModel(bob); m.Ham != 12 || m.Spam != 0 {
		t.Fatalf("after moving 12 messages out of Junk: %d spam, %d ham", m.Spam, m.Ham)
	}
	im.imapCmd("c", "SELECT Archive")
	im.imapCmd("d", "UID STORE 1:4 +FLAGS ($Junk)")
	if m := r.junkModel(bob); m.Spam != 4 {
		t.Fatalf("after STORE $Junk on 4: %d spam", m.Spam)
	}
	im.imapCmd("e", "UID MOVE 1:* Junk")
	if m := r.junkModel(bob); m.Ham != 12 || m.Spam != 12 {
		t.Fatalf("after moving 12 into Junk: %d spam, %d ham", m.Spam, m.Ham)
	}
	im.imapCmd("f", "SELECT Junk")
	if lines := im.imapCmd("g", "UID SEARCH KEYWORD $Junk"); len(lines) != 1 || len(strings.Fields(lines[0])) != 2+12 {
		t.Fatalf("UID SEARCH KEYWORD $Junk in Junk: %q", lines)
	}
	im.imapCmd("h", "SELECT INBOX")
	if lines := im.imapCmd("i", "UID SEARCH KEYWORD $NotJunk"); len(lines) != 1 || len(strings.Fields(lines[0])) != 2+12 {
		t.Fatalf("UID SEARCH KEYWORD $NotJunk in INBOX: %q", lines)
	}
}

// The promise, with real clients: with the base model seeded (as
// `mailroom junk train` does), a shop's newsletter full of spam words
// arrives over SMTP and lands in Junk, its verdict in the header; ann moves
// it to INBOX over IMAP, and the shop's next newsletter lands in INBOX.
func TestJunkFilterLearnsOverIMAP(t *testing.T) {
	r := start(t)
	var spam, ham [][]byte
	for i := range 12 {
		spam = append(spam, []byte(corpusSpam(i)))
		ham = append(ham, []byte(corpusHam(i)))
	}
	jf := r.Server.Deps().Junk
	if err := jf.TrainCorpus(context.Background(), store.JunkBaseModel, spam, true); err != nil {
		t.Fatal(err)
	}
	if err := jf.TrainCorpus(context.Background(), store.JunkBaseModel, ham, false); err != nil {
		t.Fatal(err)
	}
	im := r.imap()

	newsletter := func(n int) string {
		return fmt.Sprintf("From: Garden Shop <news@gardenshop.example>\r\nTo: ann@example.test\r\nSubject: Gardenshop weekly %d: discount offer\r\n"+
			"List-Id: <weekly.gardenshop.example>\r\n\r\nYour weekly gardenshop letter: seedlings, compost, hedge trimmers, watering cans.\r\n"+
			"Exclusive discount offer, click now, limited deal!\r\nGreenhouse tomatoes and orchard pruning tips from our gardeners.\r\n", n)
	}
	r.sendMX("news@gardenshop.example", newsletter(1))
	im.imapCmd("a", "SELECT Junk")
	lines := im.imapCmd("b", "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-Mailroom-Junk)])")
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "X-Mailroom-Junk: junk; score=") || !strings.Contains(got, "clue=") {
		t.Fatalf("the newsletter is not in Junk with a verdict:\n%s", got)
	}
	im.imapCmd("c", "UID MOVE 1 INBOX")
	if m := r.junkModel(r.acct); m.Ham != 1 || m.Spam != 0 {
		t.Fatalf("after moving the newsletter out of Junk: %d spam, %d ham", m.Spam, m.Ham)
	}

	r.sendMX("news@gardenshop.example", newsletter(2))
	im.imapCmd("d", "SELECT INBOX")
	lines = im.imapCmd("e", "UID SEARCH SUBJECT \"weekly 2\"")
	if len(lines) != 1 || len(strings.Fields(lines[0])) != 3 {
		t.Fatalf("the second newsletter is not in INBOX: %q; Junk holds %d", lines, len(r.Messages(r.acct, "Junk")))
	}
	uid := strings.Fields(lines[0])[2]
	lines = im.imapCmd("f", "UID FETCH "+uid+" (BODY.PEEK[HEADER.FIELDS (X-Mailroom-Junk)])")
	// (Its one lesson leaves the filter without a clue either way, so no
	// verdict is recorded; were one, it would say inbox.)
	if got := strings.Join(lines, "\n"); strings.Contains(got, "X-Mailroom-Junk: junk") {
		t.Fatalf("the second newsletter's verdict:\n%s", got)
	}
	// The lesson was this sender's: the base's spam still goes to Junk.
	r.sendMX("promo@spam1.example", corpusSpam(40))
	if n := len(r.Messages(r.acct, "Junk")); n != 1 {
		t.Fatalf("other spam after the lesson: Junk holds %d, want 1", n)
	}
}

// With junk.enabled = false nothing is scored and nothing learned, even
// with a seeded base model.
func TestJunkFilterDisabled(t *testing.T) {
	r := start(t, testrig.Config(func(c *config.Config) { c.Junk.Enabled = false }))
	if r.Server.Deps().Junk != nil {
		t.Fatal("a junk filter runs with junk.enabled = false")
	}
	seed := junkfilter.New(r.Store, junkfilter.Config{})
	var spam, ham [][]byte
	for i := range 12 {
		spam = append(spam, []byte(corpusSpam(i)))
		ham = append(ham, []byte(corpusHam(i)))
	}
	ctx := context.Background()
	if err := seed.TrainCorpus(ctx, store.JunkBaseModel, spam, true); err != nil {
		t.Fatal(err)
	}
	if err := seed.TrainCorpus(ctx, store.JunkBaseModel, ham, false); err != nil {
		t.Fatal(err)
	}
	seed.Close()
	r.sendMX("promo@spam1.example", corpusSpam(40))
	in := r.Read("ann@example.test", "INBOX")
	if len(in) != 1 || strings.Contains(in[0].Raw, junkfilter.FieldName) {
		t.Fatalf("with the filter off: INBOX %d messages, Junk %d", len(in), len(r.Messages(r.acct, "Junk")))
	}
	im := r.imap()
	im.imapCmd("a", "SELECT INBOX")
	im.imapCmd("b", "UID MOVE 1 Junk")
	ms, err := r.Store.JunkModels(ctx, []int64{r.acct.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Spam != 0 || ms[0].Tokens != 0 {
		t.Fatalf("the move trained with the filter off: %+v", ms[0])
	}
}
