package junk_test

import (
	"testing"

	"mailroom/internal/junk"
	"mailroom/internal/junk/junkcorpus"
)

// TestCorpusLessons checks, on the real corpus, the promise users see: a
// base model trained on the train split; an account that moves one message
// out of Junk (learns it as ham) gets that message in the INBOX next time,
// while the other spam the base catches stays caught for it; and one that
// moves a good message into Junk gets it in Junk next time, while other
// good mail stays out. Needs $MAILROOM_SPAM_CORPUS.
func TestCorpusLessons(t *testing.T) {
	train, test, ok := corpus(t)
	if !ok {
		t.Skipf("%s not set", junkcorpus.Env)
	}
	base := junkcorpus.Train(train)
	var junkSpam, goodHam [][]string
	for _, m := range test {
		toks := junk.Tokens(m.Raw)
		v := base.Classify(toks, nil)
		switch {
		case m.Spam && v.Junk:
			junkSpam = append(junkSpam, toks)
		case !m.Spam && !v.Junk && !v.Unsure:
			goodHam = append(goodHam, toks)
		}
	}
	if len(junkSpam) < 100 || len(goodHam) < 100 {
		t.Fatalf("the base classifies too little: %d junk spam, %d good ham", len(junkSpam), len(goodHam))
	}
	lesson := func(name string, msgs [][]string, as bool, wantJunk bool) {
		t.Helper()
		learned, others, kept := 0, 0, 0
		for i, toks := range msgs {
			acct := junk.NewModel()
			acct.Learn(toks, as)
			if acct.Classify(toks, base).Junk == wantJunk {
				learned++
			}
			// Collateral: a sample of the other messages.
			for j := i + 1; j < len(msgs) && j <= i+5; j++ {
				others++
				if acct.Classify(msgs[j], base).Junk != wantJunk {
					kept++
				}
			}
		}
		t.Logf("%s: the same message verdict changed for %d of %d; other messages kept their verdict %d of %d",
			name, learned, len(msgs), kept, others)
		if learned != len(msgs) {
			t.Errorf("%s: one lesson did not change the verdict for %d messages", name, len(msgs)-learned)
		}
		if kept*100 < others*95 {
			t.Errorf("%s: one lesson changed the verdict of %d of %d other messages", name, others-kept, others)
		}
	}
	lesson("not junk", junkSpam, false, false)
	lesson("junk", goodHam, true, true)
}
