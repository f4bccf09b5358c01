package junkfilter

import (
	"cmp"
	"context"
	"hash/fnv"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/junk"
	"mailroom/internal/junk/junkcorpus"
	"mailroom/internal/store"
)

// The store-backed models classify exactly as an in-memory junk.Model
// taught the same messages: reading only the message's tokens from the
// store loses nothing.
func TestStoreModelsMatchMemory(t *testing.T) {
	x := setup(t, Config{})
	mem, memBase := junk.NewModel(), junk.NewModel()
	var spam, ham, baseSpam [][]byte
	for i := range 30 {
		spam = append(spam, []byte(spamMessage(i)))
		ham = append(ham, []byte(hamMessage(i)))
		baseSpam = append(baseSpam, []byte(hamMessage(i+100)+"casino lottery\r\n"))
	}
	learn := func(m *junk.Model, msgs [][]byte, isSpam bool) {
		for _, raw := range msgs {
			m.Learn(junk.Tokens(raw), isSpam)
		}
	}
	learn(mem, spam, true)
	learn(mem, ham, false)
	learn(memBase, baseSpam, true)
	learn(memBase, spam[:5], false)
	x.corpus(x.acct.ID, 30)
	ctx := context.Background()
	if err := x.f.TrainCorpus(ctx, store.JunkBaseModel, baseSpam, true); err != nil {
		t.Fatal(err)
	}
	if err := x.f.TrainCorpus(ctx, store.JunkBaseModel, spam[:5], false); err != nil {
		t.Fatal(err)
	}
	for i, raw := range []string{spamMessage(200), hamMessage(200), hamMessage(201) + "viagra casino\r\n", "Subject: x\r\n\r\nnothing known\r\n"} {
		want := mem.ClassifyParams(junk.Tokens([]byte(raw)), memBase, x.f.params)
		vs, err := x.f.Classify(ctx, x.stage(raw), []int64{x.acct.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got := vs[0]; got.Score != want.Score || got.Junk != want.Junk || len(got.Reasons) != len(want.Reasons) {
			t.Errorf("message %d: store-backed %+v, in memory %+v", i, got, want)
		}
	}
}

// loadSplit reads the SpamAssassin corpus's train and test halves, or
// skips without $MAILROOM_SPAM_CORPUS (scripts/fetch-spam-corpus.sh).
func loadSplit(tb testing.TB) (train, test []junkcorpus.Loaded) {
	dir := os.Getenv(junkcorpus.Env)
	if dir == "" {
		tb.Skipf("%s not set (scripts/fetch-spam-corpus.sh fetches the corpus)", junkcorpus.Env)
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
	return train, test
}

// trainSplit teaches a model the train half as users would, spam and ham
// interleaved (in a fixed pseudo-random order), each run of one class in
// one TrainCorpus call, so a bounded model is pruned along the way.
func (x *fixture) trainSplit(accountID int64, train []junkcorpus.Loaded) {
	x.t.Helper()
	order := slices.Clone(train)
	key := func(m junkcorpus.Loaded) uint32 {
		h := fnv.New32a()
		h.Write([]byte(m.Name))
		return h.Sum32()
	}
	slices.SortFunc(order, func(a, b junkcorpus.Loaded) int { return cmp.Compare(key(a), key(b)) })
	ctx := context.Background()
	for len(order) > 0 {
		n := 1
		for n < len(order) && order[n].Spam == order[0].Spam {
			n++
		}
		var run [][]byte
		for _, m := range order[:n] {
			run = append(run, m.Raw)
		}
		if err := x.f.TrainCorpus(ctx, accountID, run, order[0].Spam); err != nil {
			x.t.Fatal(err)
		}
		order = order[n:]
	}
}

// TestCorpusThroughStore runs the corpus comparison's test half through
// the whole delivery path of the filter (stage, read, tokenize, read the
// counts from SQLite, classify), with the account's model taught the
// train half, and logs what it catches and how fast.
//
//	MAILROOM_SPAM_CORPUS=.cache/spam-corpus go test -run CorpusThroughStore -v ./internal/junkfilter
func TestCorpusThroughStore(t *testing.T) {
	train, test := loadSplit(t)
	x := setup(t, Config{})
	start := time.Now()
	x.trainSplit(x.acct.ID, train)
	trainTime := time.Since(start)
	m := x.model(x.acct.ID)
	ctx := context.Background()
	var staged []store.Staged
	for _, msg := range test {
		staged = append(staged, x.stageBytes(msg.Raw))
	}
	var spam, caught, ham, falsePos int
	start = time.Now()
	for i, msg := range test {
		vs, err := x.f.Classify(ctx, staged[i], []int64{x.acct.ID})
		if err != nil {
			t.Fatal(err)
		}
		if msg.Spam {
			spam++
			if vs[0].Junk {
				caught++
			}
		} else {
			ham++
			if vs[0].Junk {
				falsePos++
			}
		}
	}
	el := time.Since(start)
	t.Logf("trained %d messages in %v (%d tokens stored); test: spam caught %d/%d (%.1f%%), ham flagged %d/%d (%.2f%%); %.0f messages/s through the store",
		len(train), trainTime.Round(time.Millisecond), m.Tokens, caught, spam, 100*float64(caught)/float64(spam),
		falsePos, ham, 100*float64(falsePos)/float64(ham), float64(len(test))/el.Seconds())
	if caught*10 < spam*8 || falsePos*100 > ham {
		t.Errorf("through the store the filter catches %d/%d spam and flags %d/%d ham", caught, spam, falsePos, ham)
	}
}

func (x *fixture) stageBytes(raw []byte) store.Staged {
	x.t.Helper()
	return x.stage(string(raw))
}

// BenchmarkClassifyThroughStore is delivery's cost of scoring one message
// for one account: read the staged message, tokenize, read the counts of
// its tokens from the account's and the base model in SQLite, classify.
// With $MAILROOM_SPAM_CORPUS the model is the corpus's train half and the
// messages its test half; otherwise a small synthetic corpus.
//
//	MAILROOM_SPAM_CORPUS=.cache/spam-corpus GOMAXPROCS=1 go test -run XXX -bench ClassifyThroughStore ./internal/junkfilter
func BenchmarkClassifyThroughStore(b *testing.B) {
	var train, test []junkcorpus.Loaded
	if os.Getenv(junkcorpus.Env) != "" {
		train, test = loadSplit(b)
	} else {
		for i := range 200 {
			train = append(train, junkcorpus.Loaded{Message: junkcorpus.Message{Spam: true}, Raw: []byte(spamMessage(i))},
				junkcorpus.Loaded{Raw: []byte(hamMessage(i))})
			test = append(test, junkcorpus.Loaded{Raw: []byte(spamMessage(i + 1000))}, junkcorpus.Loaded{Raw: []byte(hamMessage(i + 1000))})
		}
	}
	x := setup(b, Config{})
	x.trainSplit(x.acct.ID, train)
	x.trainSplit(store.JunkBaseModel, train[:len(train)/4])
	var staged []store.Staged
	for _, m := range test {
		staged = append(staged, x.stageBytes(m.Raw))
	}
	ctx := context.Background()
	if _, err := x.f.Classify(ctx, staged[0], []int64{x.acct.ID}); err != nil { // loads the base model
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := x.f.Classify(ctx, staged[i%len(staged)], []int64{x.acct.ID}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time as well as wall time: on a shared machine the wall time
	// says more about the neighbours than about the filter.
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "msgs/cpu-s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
