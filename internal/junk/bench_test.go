package junk_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"mailroom/internal/junk"
	"mailroom/internal/junk/junkcorpus"
)

// corpus loads the SpamAssassin corpus named by $MAILROOM_SPAM_CORPUS,
// split; ok is false without the variable.
func corpus(tb testing.TB) (train, test []junkcorpus.Loaded, ok bool) {
	tb.Helper()
	dir := os.Getenv(junkcorpus.Env)
	if dir == "" {
		return nil, nil, false
	}
	msgs, err := junkcorpus.List(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tr, te := junkcorpus.Split(msgs)
	if train, err = junkcorpus.Load(tr); err != nil {
		tb.Fatal(err)
	}
	if test, err = junkcorpus.Load(te); err != nil {
		tb.Fatal(err)
	}
	return train, test, true
}

// generated returns n made-up messages (for BenchmarkClassify without the
// corpus): a header and a few hundred words from a small vocabulary,
// every fourth one spammy and in HTML.
func generated(n int) []junkcorpus.Loaded {
	rng := rand.New(rand.NewPCG(1, 2))
	hamWords := strings.Fields("meeting schedule release notes review parser tests family sunday lunch project status update thanks regards patch build")
	spamWords := strings.Fields("cheap pills offer winner cash prize click here free money loan credit approved limited discount viagra")
	out := make([]junkcorpus.Loaded, n)
	for i := range out {
		spam := i%4 == 0
		words := hamWords
		if spam {
			words = spamWords
		}
		var b strings.Builder
		fmt.Fprintf(&b, "From: sender%d@example%d.org\r\nTo: user@example.test\r\nSubject: %s %s\r\n", i, i%50, words[rng.IntN(len(words))], words[rng.IntN(len(words))])
		fmt.Fprintf(&b, "Received: from mx%d.example.net (mx [192.0.2.%d])\r\n", i%7, i%250)
		if spam {
			b.WriteString("Content-Type: text/html\r\n\r\n<html><body><p>")
		} else {
			b.WriteString("Content-Type: text/plain\r\n\r\n")
		}
		for j := range 300 {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString(fmt.Sprintf("%d ", rng.IntN(50)))
			if j%12 == 11 {
				b.WriteString("\r\n")
			}
		}
		if spam {
			b.WriteString("<a href=\"http://offers.example.com/x\">click</a></p></body></html>\r\n")
		}
		out[i] = junkcorpus.Loaded{Message: junkcorpus.Message{Name: fmt.Sprint(i), Spam: spam}, Raw: []byte(b.String())}
	}
	return out
}

// BenchmarkClassify measures tokenizing plus classifying, one message per
// iteration, on the corpus's test split when $MAILROOM_SPAM_CORPUS is set
// (else on generated messages), reporting msgs/s (wall time) and
// msgs/cpu-s (CPU time, what a shared machine does not distort). Run it
// with -cpu 1 for one core.
func BenchmarkClassify(b *testing.B) {
	train, test, ok := corpus(b)
	if !ok {
		all := generated(2000)
		train, test = all[:1000], all[1000:]
	}
	m := junkcorpus.Train(train)
	var bytes int64
	for _, msg := range test {
		bytes += int64(len(msg.Raw))
	}
	b.SetBytes(bytes / int64(len(test)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := junkcorpus.CPUTime()
	for i := 0; i < b.N; i++ {
		msg := test[i%len(test)]
		m.Classify(junk.Tokens(msg.Raw), nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if c := (junkcorpus.CPUTime() - cpu).Seconds(); c > 0 {
		b.ReportMetric(float64(b.N)/c, "msgs/cpu-s")
	}
}

// BenchmarkCorpus trains on the corpus's train split and classifies its
// test split, reporting spam caught (caught%), ham wrongly flagged (fp%)
// and messages classified per second on one goroutine (msgs/s). It needs
// $MAILROOM_SPAM_CORPUS; run it with -benchtime 1x.
func BenchmarkCorpus(b *testing.B) {
	train, test, ok := corpus(b)
	if !ok {
		b.Skipf("%s not set (scripts/fetch-spam-corpus.sh fetches the corpus)", junkcorpus.Env)
	}
	var r junkcorpus.Result
	for i := 0; i < b.N; i++ {
		m := junkcorpus.Train(train)
		runtime.GC()
		r = junkcorpus.Evaluate(m, test, junk.DefaultParams())
	}
	b.ReportMetric(r.CaughtPct, "caught%")
	b.ReportMetric(r.FalsePosPct, "fp%")
	b.ReportMetric(float64(r.Flagged), "ham-flagged")
	b.ReportMetric(float64(r.Unsure), "unsure")
	b.ReportMetric(r.PerSecond, "msgs/s")
	b.ReportMetric(r.PerCPUSecond, "msgs/cpu-s")
}

// TestCorpusSplit checks the split the comparison relies on: stable, both
// classes on both sides, about 30 % for test. Needs the corpus.
func TestCorpusSplit(t *testing.T) {
	dir := os.Getenv(junkcorpus.Env)
	if dir == "" {
		t.Skipf("%s not set", junkcorpus.Env)
	}
	msgs, err := junkcorpus.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	train, test := junkcorpus.Split(msgs)
	train2, test2 := junkcorpus.Split(msgs)
	if len(train) != len(train2) || len(test) != len(test2) || test[0] != test2[0] {
		t.Fatal("split not stable")
	}
	count := func(ms []junkcorpus.Message) (s, h int) {
		for _, m := range ms {
			if m.Spam {
				s++
			} else {
				h++
			}
		}
		return
	}
	trs, trh := count(train)
	tes, teh := count(test)
	t.Logf("train: %d spam, %d ham; test: %d spam, %d ham", trs, trh, tes, teh)
	if trs == 0 || trh == 0 || tes == 0 || teh == 0 {
		t.Fatal("a split lacks a class")
	}
	if share := float64(len(test)) / float64(len(msgs)); share < 0.25 || share > 0.35 {
		t.Fatalf("test share %.2f", share)
	}
}
