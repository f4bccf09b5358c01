package junk

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The SpamAssassin public corpus, as scripts/fetch-spam-corpus.sh lays it
// out: $MAILROOM_SPAM_CORPUS/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,
// spam-2}/NNNNN.<md5>.txt. Nothing here runs without the variable.
const corpusEnv = "MAILROOM_SPAM_CORPUS"

// corpusMessage is one message of the corpus.
type corpusMessage struct {
	name string // "spam-2/00001.317e…txt"
	spam bool
	raw  []byte
}

// corpusDirs are the corpus folders and whether they hold spam.
var corpusDirs = []struct {
	dir  string
	spam bool
}{
	{"easy-ham-1", false}, {"easy-ham-2", false}, {"hard-ham-1", false},
	{"spam-1", true}, {"spam-2", true},
}

// loadCorpus reads the corpus named by $MAILROOM_SPAM_CORPUS, skipping the
// test when it is not set.
func loadCorpus(tb testing.TB) []corpusMessage {
	tb.Helper()
	dir := os.Getenv(corpusEnv)
	if dir == "" {
		tb.Skipf("%s not set (scripts/fetch-spam-corpus.sh fetches the corpus)", corpusEnv)
	}
	var msgs []corpusMessage
	for _, d := range corpusDirs {
		names, err := filepath.Glob(filepath.Join(dir, d.dir, "*.txt"))
		if err != nil {
			tb.Fatal(err)
		}
		sort.Strings(names)
		for _, n := range names {
			raw, err := os.ReadFile(n)
			if err != nil {
				tb.Fatal(err)
			}
			msgs = append(msgs, corpusMessage{name: d.dir + "/" + filepath.Base(n), spam: d.spam, raw: raw})
		}
	}
	if len(msgs) == 0 {
		tb.Fatalf("%s=%s holds no messages", corpusEnv, dir)
	}
	return msgs
}

// inTest is the deterministic train/test split, shared with
// bench/junk-compare.sh (which computes the same FNV-1a hash of the file
// name in Go through cmd junksplit): a message is in the test split when
// the hash of its name ("spam-2/00001.….txt") is 0, 1 or 2 modulo 10, about
// 30 %.
func inTest(name string) bool {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()%10 < 3
}

func split(msgs []corpusMessage) (train, test []corpusMessage) {
	for _, m := range msgs {
		if inTest(m.name) {
			test = append(test, m)
		} else {
			train = append(train, m)
		}
	}
	return train, test
}

// evaluate trains a model on train and classifies test, returning the
// share of spam caught and of ham wrongly flagged, in percent.
func evaluate(train, test []corpusMessage, p Params) (caught, fp float64, m *Model) {
	m = NewModel()
	for _, msg := range train {
		m.Learn(Tokens(msg.raw), msg.spam)
	}
	var spam, ham, tp, fpos int
	for _, msg := range test {
		v := m.ClassifyParams(Tokens(msg.raw), nil, p)
		if msg.spam {
			spam++
			if v.Junk {
				tp++
			}
		} else {
			ham++
			if v.Junk {
				fpos++
			}
		}
	}
	return pct(tp, spam), pct(fpos, ham), m
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// TestCorpusSplit reports the split's sizes (and that it is what the
// shell side expects: both classes on both sides).
func TestCorpusSplit(t *testing.T) {
	msgs := loadCorpus(t)
	train, test := split(msgs)
	count := func(ms []corpusMessage) (s, h int) {
		for _, m := range ms {
			if m.spam {
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
	if !strings.HasPrefix(train[0].name, "easy-ham-1/") {
		t.Fatalf("unexpected first name %q", train[0].name)
	}
}
