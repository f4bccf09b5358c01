package junkcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mailroom/internal/junk"
)

// writeCorpus lays out a small corpus as scripts/fetch-spam-corpus.sh
// does: n spam and n ham messages of made-up but separable text.
func writeCorpus(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range Dirs {
		if err := os.MkdirAll(filepath.Join(dir, d.Name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		spam := fmt.Sprintf("From: deals%d@offers.example\r\nSubject: cheap pills %d\r\n\r\nbuy cheap pills now, limited offer, click here\r\n", i, i)
		ham := fmt.Sprintf("From: colleague%d@work.example\r\nSubject: meeting %d\r\n\r\nthe notes from the meeting about the release schedule\r\n", i, i)
		if err := os.WriteFile(filepath.Join(dir, "spam-1", fmt.Sprintf("%05d.x.txt", i)), []byte(spam), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "easy-ham-1", fmt.Sprintf("%05d.x.txt", i)), []byte(ham), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not messages: ignored.
	if err := os.WriteFile(filepath.Join(dir, "spam-1", "00000.x.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestListSplitEvaluate(t *testing.T) {
	dir := writeCorpus(t, 100)
	msgs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 200 || msgs[0].Name != "easy-ham-1/00000.x.txt" || msgs[0].Spam || !msgs[len(msgs)-1].Spam {
		t.Fatalf("List: %d messages, first %+v", len(msgs), msgs[0])
	}
	train, test := Split(msgs)
	if len(train)+len(test) != len(msgs) || len(test) < 40 || len(test) > 80 {
		t.Fatalf("split %d/%d", len(train), len(test))
	}
	inTest := make(map[string]bool)
	for _, m := range test {
		inTest[m.Name] = true
	}
	for _, m := range train {
		if inTest[m.Name] {
			t.Fatalf("%s in both halves", m.Name)
		}
	}
	folds := make(map[int]int)
	for _, m := range train {
		f := Fold(m, 3)
		if f != Fold(m, 3) || f < 0 || f > 2 {
			t.Fatalf("fold %d", f)
		}
		folds[f]++
	}
	if len(folds) != 3 {
		t.Fatalf("folds %v", folds)
	}

	tr, err := Load(train)
	if err != nil {
		t.Fatal(err)
	}
	te, err := Load(test)
	if err != nil {
		t.Fatal(err)
	}
	r := Evaluate(Train(tr), te, junk.DefaultParams())
	if r.Spam+r.Ham != len(test) || len(r.Scores) != len(test) {
		t.Fatalf("evaluated %d+%d of %d", r.Spam, r.Ham, len(test))
	}
	// The made-up corpus separates perfectly.
	if r.Caught != r.Spam || r.Flagged != 0 || r.CaughtPct != 100 || r.FalsePosPct != 0 {
		t.Fatalf("result %+v", r)
	}

	if _, err := List(t.TempDir()); err == nil {
		t.Fatal("an empty directory listed without error")
	}
}
