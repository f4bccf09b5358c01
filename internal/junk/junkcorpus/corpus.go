// Package junkcorpus reads the SpamAssassin public corpus, as
// scripts/fetch-spam-corpus.sh lays it out, and splits it into train and
// test halves, for measuring the junk classifier against bogofilter and
// SpamAssassin (bench/junk-compare.sh, docs/benchmarks.md). Every tool in
// that comparison gets its split from here, so they all learn and are
// tested on the same messages.
package junkcorpus

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
)

// Env names the environment variable holding the corpus directory.
const Env = "MAILROOM_SPAM_CORPUS"

// Dirs are the corpus folders and whether they hold spam.
var Dirs = []struct {
	Name string
	Spam bool
}{
	{"easy-ham-1", false}, {"easy-ham-2", false}, {"hard-ham-1", false},
	{"spam-1", true}, {"spam-2", true},
}

// Message is one message of the corpus.
type Message struct {
	Name string // relative to the corpus: "spam-2/00001.317e….txt"
	Path string
	Spam bool
}

// List returns the corpus's messages in a fixed order (by folder, then
// name).
func List(dir string) ([]Message, error) {
	var msgs []Message
	for _, d := range Dirs {
		names, err := filepath.Glob(filepath.Join(dir, d.Name, "*.txt"))
		if err != nil {
			return nil, fmt.Errorf("junkcorpus: list %s: %w", d.Name, err)
		}
		sort.Strings(names)
		for _, n := range names {
			msgs = append(msgs, Message{Name: d.Name + "/" + filepath.Base(n), Path: n, Spam: d.Spam})
		}
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("junkcorpus: no messages under %s (run scripts/fetch-spam-corpus.sh)", dir)
	}
	return msgs, nil
}

// inSplit reports whether name falls in the 30 % that a hash of salt and
// name puts aside. The hash (FNV-1a of the name, not of the content) keeps
// the split stable across runs, machines and tools.
func inSplit(salt, name string) bool {
	h := fnv.New32a()
	h.Write([]byte(salt))
	h.Write([]byte(name))
	return h.Sum32()%10 < 3
}

// Split divides msgs into train (about 70 %) and test (about 30 %).
func Split(msgs []Message) (train, test []Message) {
	for _, m := range msgs {
		if inSplit("", m.Name) {
			test = append(test, m)
		} else {
			train = append(train, m)
		}
	}
	return train, test
}

// Fold returns which of k folds a train message belongs to, for tuning
// parameters by cross-validation on the train split without ever looking
// at the test split: fit on the other folds, measure on this one.
func Fold(m Message, k int) int {
	h := fnv.New32a()
	h.Write([]byte("fold:"))
	h.Write([]byte(m.Name))
	return int(h.Sum32() % uint32(k))
}

// Loaded is a message with its bytes.
type Loaded struct {
	Message
	Raw []byte
}

// Load reads the messages' bytes.
func Load(msgs []Message) ([]Loaded, error) {
	out := make([]Loaded, 0, len(msgs))
	for _, m := range msgs {
		raw, err := os.ReadFile(m.Path)
		if err != nil {
			return nil, fmt.Errorf("junkcorpus: load: %w", err)
		}
		out = append(out, Loaded{m, raw})
	}
	return out, nil
}
