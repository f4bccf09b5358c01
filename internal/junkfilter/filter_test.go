package junkfilter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

var (
	spamWords = strings.Fields("viagra casino winner lottery prize cheap pills bitcoin investment guaranteed " +
		"unsubscribe offer discount click limited urgent million dollars claim exclusive")
	hamWords = strings.Fields("meeting agenda project review minutes budget schedule report deadline draft " +
		"lunch team quarterly release notes invoice thanks tomorrow call slides")
)

// words picks n words of list, varied by i.
func words(list []string, i, n int) string {
	out := make([]string, n)
	for k := range out {
		out[k] = list[(i*7+k*3)%len(list)]
	}
	return strings.Join(out, " ")
}

// spamMessage and hamMessage make the i-th message of a small corpus.
func spamMessage(i int) string {
	return fmt.Sprintf("From: Deals <promo@spam%d.example>\r\nTo: ann@example.test\r\nSubject: %s\r\n"+
		"Message-ID: <s%d@spam.example>\r\n\r\n%s\r\n%s\r\n", i%3, words(spamWords, i, 3), i, words(spamWords, i+1, 12), words(spamWords, i+2, 12))
}

func hamMessage(i int) string {
	return fmt.Sprintf("From: Bob <bob@work.example>\r\nTo: ann@example.test\r\nSubject: %s\r\n"+
		"Message-ID: <h%d@work.example>\r\n\r\n%s\r\n%s\r\n", words(hamWords, i, 3), i, words(hamWords, i+1, 12), words(hamWords, i+2, 12))
}

type fixture struct {
	t    testing.TB
	st   *sqlitestore.Store
	f    *Filter
	svc  *mailbox.Service
	acct store.Account
}

func setup(t testing.TB, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "ann@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	f := New(st, cfg)
	t.Cleanup(f.Close)
	svc := mailbox.NewService(st, nil, nil)
	t.Cleanup(svc.Close)
	svc.SetJunkTrainer(f)
	return &fixture{t: t, st: st, f: f, svc: svc, acct: acct}
}

func (x *fixture) stage(raw string) store.Staged {
	x.t.Helper()
	m, err := x.st.Stage(context.Background(), strings.NewReader(raw))
	if err != nil {
		x.t.Fatal(err)
	}
	x.t.Cleanup(func() { m.Discard() })
	return m
}

func (x *fixture) mailbox(name string) store.Mailbox {
	x.t.Helper()
	mb, err := x.st.Mailbox(context.Background(), x.acct.ID, name)
	if err != nil {
		x.t.Fatal(err)
	}
	return mb
}

func (x *fixture) deliver(mailbox, raw string) uint32 {
	x.t.Helper()
	d, err := x.svc.Append(context.Background(), x.stage(raw), []store.Target{{MailboxID: x.mailbox(mailbox).ID}})
	if err != nil {
		x.t.Fatal(err)
	}
	return d[0].UID
}

func (x *fixture) model(accountID int64) store.JunkModel {
	x.t.Helper()
	ms, err := x.st.JunkModels(context.Background(), []int64{accountID}, nil)
	if err != nil {
		x.t.Fatal(err)
	}
	return ms[0]
}

func (x *fixture) classify(raw string) float64 {
	x.t.Helper()
	v, err := x.f.Classify(context.Background(), x.stage(raw), []int64{x.acct.ID})
	if err != nil {
		x.t.Fatal(err)
	}
	return v[0].Score
}

func (x *fixture) corpus(accountID int64, n int) {
	x.t.Helper()
	var spam, ham [][]byte
	for i := range n {
		spam = append(spam, []byte(spamMessage(i)))
		ham = append(ham, []byte(hamMessage(i)))
	}
	ctx := context.Background()
	if err := x.f.TrainCorpus(ctx, accountID, spam, true); err != nil {
		x.t.Fatal(err)
	}
	if err := x.f.TrainCorpus(ctx, accountID, ham, false); err != nil {
		x.t.Fatal(err)
	}
}

// An account's model, or the base model for an account that learned
// nothing, tells spam from ham; with neither, everything is unsure.
func TestClassify(t *testing.T) {
	x := setup(t, Config{})
	spam, ham := spamMessage(100), hamMessage(100)
	if s := x.classify(spam); s != 0.5 {
		t.Fatalf("untrained score %v, want 0.5", s)
	}
	x.corpus(store.JunkBaseModel, 20)
	if s := x.classify(spam); s < x.f.Threshold() {
		t.Errorf("spam scored %v with the base model, below the threshold %v", s, x.f.Threshold())
	}
	if s := x.classify(ham); s > 0.2 {
		t.Errorf("ham scored %v with the base model", s)
	}

	// The account's own lessons override the base: to this user the
	// "spam" vocabulary is ham.
	other, err := x.st.CreateAccount(context.Background(), "bob@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var mine [][]byte
	for i := range 40 {
		mine = append(mine, []byte(spamMessage(i)))
	}
	if err := x.f.TrainCorpus(context.Background(), other.ID, mine, false); err != nil {
		t.Fatal(err)
	}
	vs, err := x.f.Classify(context.Background(), x.stage(spam), []int64{x.acct.ID, other.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !vs[0].Junk || vs[1].Junk || vs[1].Score >= vs[0].Score {
		t.Errorf("verdicts %+v / %+v: want junk for ann, not for bob", vs[0], vs[1])
	}
	if len(vs[0].Reasons) == 0 {
		t.Error("a junk verdict without reasons")
	}
}

// Moving a message into Junk teaches spam and marks it $Junk; moving it
// back teaches ham instead (unlearning spam) and marks it $NotJunk; a
// second identical lesson changes nothing; Trash teaches nothing.
func TestTrainFromMoves(t *testing.T) {
	x := setup(t, Config{})
	ctx := context.Background()
	inbox, junkbox, trash := x.mailbox("INBOX"), x.mailbox("Junk"), x.mailbox("Trash")
	uid := x.deliver("INBOX", spamMessage(1))

	res, err := x.svc.Move(ctx, inbox.ID, []uint32{uid}, junkbox.ID, store.KeepAll)
	if err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 1 || m.Ham != 0 || m.Tokens == 0 {
		t.Fatalf("after the move to Junk: %+v", m)
	}
	tokens := x.model(x.acct.ID).Tokens
	x.wantKeywords(junkbox.ID, res.DestUIDs[0], KeywordJunk)

	// Copy it back out (a client without MOVE): ham, once.
	cres, err := x.svc.Copy(ctx, junkbox.ID, res.DestUIDs, inbox.ID, store.KeepAll)
	if err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 0 || m.Ham != 1 || m.Tokens != tokens {
		t.Fatalf("after the copy out of Junk: %+v (had %d tokens)", m, tokens)
	}
	x.wantKeywords(inbox.ID, cres.DestUIDs[0], KeywordNotJunk)
	// Moving the original out as well teaches nothing new.
	mres, err := x.svc.Move(ctx, junkbox.ID, res.DestUIDs, x.mailbox("Archive").ID, store.KeepAll)
	if err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 0 || m.Ham != 1 {
		t.Fatalf("after a second move out: %+v", m)
	}
	x.wantKeywords(x.mailbox("Archive").ID, mres.DestUIDs[0], KeywordNotJunk)

	// Junk to Trash, INBOX to Trash: no lesson.
	uid2 := x.deliver("Junk", spamMessage(2))
	if _, err := x.svc.Move(ctx, junkbox.ID, []uint32{uid2}, trash.ID, store.KeepAll); err != nil {
		t.Fatal(err)
	}
	uid3 := x.deliver("INBOX", hamMessage(3))
	if _, err := x.svc.Move(ctx, inbox.ID, []uint32{uid3}, trash.ID, store.KeepAll); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 0 || m.Ham != 1 {
		t.Fatalf("moves to Trash trained: %+v", m)
	}
}

// STORE +FLAGS $Junk / $NotJunk teach the same, without a move.
func TestTrainFromKeywords(t *testing.T) {
	x := setup(t, Config{})
	ctx := context.Background()
	inbox := x.mailbox("INBOX")
	uid := x.deliver("INBOX", spamMessage(1))
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Keywords: []string{"$junk"}}); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 1 || m.Ham != 0 {
		t.Fatalf("after $Junk: %+v", m)
	}
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Keywords: []string{"$NotJunk"}}); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 0 || m.Ham != 1 {
		t.Fatalf("after $NotJunk: %+v", m)
	}
	x.wantKeywords(inbox.ID, uid, KeywordNotJunk) // and $Junk cleared
	// Thunderbird's deprecated Junk teaches the same, and the trainer
	// clears its NonJunk.
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Keywords: []string{"NonJunk"}}); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Keywords: []string{"Junk"}}); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 1 || m.Ham != 0 {
		t.Fatalf("after Junk: %+v", m)
	}
	x.wantKeywords(inbox.ID, uid, KeywordJunk, "Junk")
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Keywords: []string{"NonJunk"}}); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 0 || m.Ham != 1 {
		t.Fatalf("after NonJunk: %+v", m)
	}
	x.wantKeywords(inbox.ID, uid, KeywordNotJunk, "NonJunk")
	// Both at once say nothing; removing says nothing.
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsReplace, Keywords: []string{"$Junk", "$NotJunk"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.svc.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsRemove, Keywords: []string{"$NotJunk"}}); err != nil {
		t.Fatal(err)
	}
	x.f.Flush()
	if m := x.model(x.acct.ID); m.Spam != 0 || m.Ham != 1 {
		t.Fatalf("ambiguous keywords trained: %+v", m)
	}
}

func (x *fixture) wantKeywords(mailboxID int64, uid uint32, want ...string) {
	x.t.Helper()
	_, msgs, err := x.st.JunkMessages(context.Background(), mailboxID, []uint32{uid})
	if err != nil || len(msgs) != 1 {
		x.t.Fatalf("message %d/%d: %v %v", mailboxID, uid, msgs, err)
	}
	if got := strings.Join(msgs[0].Keywords, " "); got != strings.Join(want, " ") {
		x.t.Fatalf("message %d/%d keywords %q, want %q", mailboxID, uid, got, want)
	}
}

// Each model stays within max_tokens, however much it is taught.
func TestPruneBoundsModels(t *testing.T) {
	x := setup(t, Config{MaxTokens: 1000})
	var msgs [][]byte
	for i := range 300 {
		// Each message brings a few tokens no other has.
		msgs = append(msgs, []byte(spamMessage(i)+fmt.Sprintf("unique%dx unique%dy unique%dz\r\n", i, i, i)))
	}
	if err := x.f.TrainCorpus(context.Background(), x.acct.ID, msgs, true); err != nil {
		t.Fatal(err)
	}
	var hams [][]byte
	for i := range 30 {
		hams = append(hams, []byte(hamMessage(i)))
	}
	if err := x.f.TrainCorpus(context.Background(), x.acct.ID, hams, false); err != nil {
		t.Fatal(err)
	}
	m := x.model(x.acct.ID)
	if m.Tokens > 1000 || m.Tokens < 500 || m.Spam != 300 || m.Ham != 30 {
		t.Fatalf("after 300 messages with max_tokens 1000: %+v", m)
	}
	// What was kept is what matters: the corpus' common words still count.
	if s := x.classify(spamMessage(999)); s < 0.9 {
		t.Errorf("spam scores %v after pruning", s)
	}
}

// Close trains what was queued before it; events after it are dropped,
// and Flush does not wait for them.
func TestCloseDrains(t *testing.T) {
	x := setup(t, Config{QueueSize: 1})
	ctx := context.Background()
	inbox, junkbox := x.mailbox("INBOX"), x.mailbox("Junk")
	var uids []uint32
	for i := range 5 {
		uids = append(uids, x.deliver("INBOX", spamMessage(i)))
	}
	for _, u := range uids {
		if _, err := x.svc.Move(ctx, inbox.ID, []uint32{u}, junkbox.ID, store.KeepAll); err != nil {
			t.Fatal(err)
		}
	}
	x.f.Close()
	if m := x.model(x.acct.ID); m.Spam != 5 {
		t.Fatalf("after Close: %+v, want 5 spam", m)
	}
	u := x.deliver("INBOX", spamMessage(9))
	if _, err := x.svc.Move(ctx, inbox.ID, []uint32{u}, junkbox.ID, store.KeepAll); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { x.f.Flush(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Flush waits for an event dropped after Close")
	}
}

// The verdict a stored copy carries is no evidence: even when every ham
// message learned carried one, a message with the field scores as the
// same message without it, so a model never learns from its own verdicts.
func TestOwnFieldIsNoToken(t *testing.T) {
	x := setup(t, Config{})
	field := string(Record{Scored: true, Score: 0.01, Threshold: 0.9, Clues: []string{`"agenda" (ham 99%)`}}.Field())
	var spam, ham [][]byte
	for i := range 10 {
		spam = append(spam, []byte(spamMessage(i)))
		ham = append(ham, []byte(field+hamMessage(i)))
	}
	ctx := context.Background()
	if err := x.f.TrainCorpus(ctx, x.acct.ID, spam, true); err != nil {
		t.Fatal(err)
	}
	if err := x.f.TrainCorpus(ctx, x.acct.ID, ham, false); err != nil {
		t.Fatal(err)
	}
	if a, b := x.classify(spamMessage(50)), x.classify(field+spamMessage(50)); a != b {
		t.Fatalf("the verdict field changes the score: %v without, %v with", a, b)
	}
}

// Shutdown out of time drops what is still queued rather than hold up
// the server's shutdown; Flush does not wait for the dropped events.
func TestShutdownOutOfTime(t *testing.T) {
	x := setup(t, Config{})
	ctx := context.Background()
	inbox, junkbox := x.mailbox("INBOX"), x.mailbox("Junk")
	var uids []uint32
	for i := range 200 {
		uids = append(uids, x.deliver("Junk", spamMessage(i)))
	}
	// 200 lessons queued at once (as moves from INBOX would report them),
	// then a shutdown whose time is up.
	for _, u := range uids {
		x.f.Filed(ctx, inbox.ID, junkbox.ID, []uint32{u})
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	x.f.Shutdown(done)
	x.f.Flush()
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Shutdown out of time took %v", el)
	}
	if m := x.model(x.acct.ID); m.Spam >= len(uids) {
		t.Fatalf("all %d queued lessons were trained after the time was up", m.Spam)
	}
}
