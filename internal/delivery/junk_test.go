package delivery

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/junkfilter"
	"mailroom/internal/store"
)

// A quarantined message goes to the account's Junk mailbox: the one marked
// \Junk even when renamed, or a new "Junk" when the user deleted it.
func TestQuarantineGoesToJunk(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	deliver := func(rcpt string, quarantine ...string) {
		t.Helper()
		m, err := st.Stage(ctx, strings.NewReader("Subject: q\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		env := Envelope{From: "x@remote.example", Quarantine: quarantine,
			Recipients: []Recipient{{Address: rcpt, Resolved: mustResolve(t, a, rcpt)}}}
		if err := a.Deliver(ctx, m, env); err != nil {
			t.Fatal(err)
		}
		m.Discard()
	}

	deliver("ann@example.test", "dmarc=fail (p=quarantine)")
	deliver("ann@example.test")
	if n, j := len(inbox(t, st, "ann@example.test")), len(messages(t, st, "ann@example.test", "Junk")); n != 1 || j != 1 {
		t.Fatalf("INBOX %d, Junk %d; want 1 and 1", n, j)
	}

	bob, _ := st.Account(ctx, "bob@example.test")
	if err := st.RenameMailbox(ctx, bob.ID, "Junk", "Spam"); err != nil {
		t.Fatal(err)
	}
	deliver("bob@example.test", "blocklist")
	if j := len(messages(t, st, "bob@example.test", "Spam")); j != 1 {
		t.Fatalf("renamed \\Junk mailbox has %d messages, want 1", j)
	}

	cat, _ := st.Account(ctx, "cat@other.test")
	if err := st.DeleteMailbox(ctx, cat.ID, "Junk"); err != nil {
		t.Fatal(err)
	}
	deliver("cat@other.test", "blocklist")
	if j := len(messages(t, st, "cat@other.test", "Junk")); j != 1 {
		t.Fatalf("recreated Junk has %d messages, want 1", j)
	}
	if mb, _ := st.Mailbox(ctx, cat.ID, "Junk"); mb.SpecialUse != store.SpecialJunk {
		t.Errorf("recreated Junk has special use %q", mb.SpecialUse)
	}
	if n := len(inbox(t, st, "cat@other.test")); n != 0 {
		t.Errorf("INBOX got %d quarantined messages", n)
	}
}

// With a junk filter, inbound mail is scored for each account that keeps
// a copy: ann, whose filter learned the sender's words are spam, gets it
// in Junk with the verdict recorded; bob, who learned nothing, in INBOX
// with no record (his filter had nothing to say). Mail that is not Inbound (a submission) is
// not scored at all. A quarantine reason is recorded the same way.
func TestJunkFilterScoresInbound(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	a, _ := trainedAgent(t, st)
	deliver := func(body string, inbound bool, quarantine ...string) {
		t.Helper()
		m, err := st.Stage(ctx, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Discard()
		env := Envelope{From: "x@remote.example", Inbound: inbound, Quarantine: quarantine}
		for _, rcpt := range []string{"ann@example.test", "bob@example.test"} {
			env.Recipients = append(env.Recipients, Recipient{Address: rcpt, Resolved: mustResolve(t, a, rcpt)})
		}
		if err := a.Deliver(ctx, m, env); err != nil {
			t.Fatal(err)
		}
	}
	deliver("Subject: cheap pills\r\n\r\ncasino lottery winner, cheap pills\r\n", true)
	junkMsgs := messages(t, st, "ann@example.test", "Junk")
	if len(junkMsgs) != 1 || len(inbox(t, st, "ann@example.test")) != 0 {
		t.Fatalf("ann: Junk %d, INBOX %d", len(junkMsgs), len(inbox(t, st, "ann@example.test")))
	}
	rec, ok := junkfilter.Find([]byte(junkMsgs[0]))
	if !ok || !rec.Junk || !rec.Scored || rec.Score < 0.9 || rec.Threshold != 0.9 || len(rec.Clues) == 0 {
		t.Fatalf("ann's copy records %+v (%v):\n%s", rec, ok, junkMsgs[0])
	}
	bobs := inbox(t, st, "bob@example.test")
	if len(bobs) != 1 {
		t.Fatalf("bob's INBOX has %d messages", len(bobs))
	}
	if rec, ok := junkfilter.Find([]byte(bobs[0])); ok {
		t.Fatalf("bob's filter knows nothing, yet his copy records %+v", rec)
	}

	deliver("Subject: cheap pills\r\n\r\ncasino lottery winner, cheap pills\r\n", false)
	in := inbox(t, st, "ann@example.test")
	if len(in) != 1 || strings.Contains(in[0], junkfilter.FieldName) {
		t.Fatalf("a submission was scored: %q", in)
	}

	deliver("Subject: meeting\r\n\r\nthe project meeting agenda\r\n", true, "dmarc=fail (p=quarantine)")
	junkMsgs = messages(t, st, "ann@example.test", "Junk")
	rec, ok = junkfilter.Find([]byte(junkMsgs[len(junkMsgs)-1]))
	if !ok || !rec.Junk || !rec.Scored || rec.Score > 0.5 || len(rec.Quarantine) != 1 || rec.Quarantine[0] != "dmarc=fail (p=quarantine)" {
		t.Fatalf("quarantined copy records %+v (%v)", rec, ok)
	}
}

// trainedAgent is an agent with a junk filter in which ann's model learned
// that words of pills and lotteries are junk and those of meetings not.
func trainedAgent(t *testing.T, st store.Store) (*Agent, store.Account) {
	t.Helper()
	ctx := context.Background()
	jf := junkfilter.New(st, junkfilter.Config{})
	t.Cleanup(jf.Close)
	ann, _ := st.Account(ctx, "ann@example.test")
	var spam, ham [][]byte
	for i := range 10 {
		spam = append(spam, fmt.Appendf(nil, "Subject: cheap pills %d\r\n\r\nbuy cheap pills casino lottery winner prize now %d\r\n", i, i))
		ham = append(ham, fmt.Appendf(nil, "Subject: meeting %d\r\n\r\nthe project meeting agenda and budget review %d\r\n", i, i))
	}
	if err := jf.TrainCorpus(ctx, ann.ID, spam, true); err != nil {
		t.Fatal(err)
	}
	if err := jf.TrainCorpus(ctx, ann.ID, ham, false); err != nil {
		t.Fatal(err)
	}
	return New(st, Config{Junk: jf}), ann
}

// TestSpamtestReadsTheJunkScore: a Sieve script's spamtest (RFC 5235)
// sees the junk filter's score of the message for the account: high for
// what the account's filter learned is junk, low for what it learned is
// not, and "0" (not tested) for mail that is not scored (a submission).
func TestSpamtestReadsTheJunkScore(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	a, ann := trainedAgent(t, st)
	script := `require ["fileinto", "mailbox", "imap4flags", "spamtest", "relational", "comparator-i;ascii-numeric"];
if spamtest :is "0" { fileinto :create "Untested"; stop; }
if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { fileinto :create "Spamtest"; stop; }
if spamtest :value "le" :comparator "i;ascii-numeric" "3" { addflag "$Ham"; }`
	if err := st.PutSieveScript(ctx, ann.ID, "s", script); err != nil {
		t.Fatal(err)
	}
	if err := st.SetActiveSieveScript(ctx, ann.ID, "s"); err != nil {
		t.Fatal(err)
	}
	deliver := func(body string, inbound bool) {
		t.Helper()
		m, err := st.Stage(ctx, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Discard()
		env := Envelope{From: "x@remote.example", Inbound: inbound,
			Recipients: []Recipient{{Address: "ann@example.test", Resolved: mustResolve(t, a, "ann@example.test")}}}
		if err := a.Deliver(ctx, m, env); err != nil {
			t.Fatal(err)
		}
	}
	deliver("Subject: cheap pills\r\n\r\ncasino lottery winner, cheap pills\r\n", true)
	deliver("Subject: meeting\r\n\r\nthe project meeting agenda and budget review\r\n", true)
	deliver("Subject: cheap pills\r\n\r\ncasino lottery winner, cheap pills\r\n", false)
	if n := len(messages(t, st, "ann@example.test", "Spamtest")); n != 1 {
		t.Errorf("Spamtest has %d messages, want the junk one (the script's fileinto, not the filter's Junk)", n)
	}
	if n := len(messages(t, st, "ann@example.test", "Untested")); n != 1 {
		t.Errorf("Untested has %d messages, want the submission", n)
	}
	mb, _ := st.Mailbox(ctx, ann.ID, "INBOX")
	list, _ := st.MessageList(ctx, mb.ID)
	if len(list) != 1 || len(list[0].Keywords) != 1 || list[0].Keywords[0] != "$Ham" {
		t.Fatalf("INBOX %+v, want the meeting flagged $Ham", list)
	}
}
