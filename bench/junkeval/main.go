// Command junkeval serves bench/junk-compare.sh: it writes the corpus's
// train/test split as file lists for the other classifiers, and measures
// or tunes Mailroom's classifier on the same split.
//
//	junkeval -corpus DIR -lists OUT   write OUT/{train,test}-{spam,ham}.list
//	junkeval -corpus DIR -eval        train on train, report on test
//	junkeval -corpus DIR -tune        grid-search parameters on the train split only
//	junkeval -scores FILE -threshold T  caught%/fp% of "name spam|ham score" lines
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"mailroom/internal/junk"
	"mailroom/internal/junk/junkcorpus"
)

func main() {
	dir := flag.String("corpus", os.Getenv(junkcorpus.Env), "corpus directory (scripts/fetch-spam-corpus.sh)")
	lists := flag.String("lists", "", "write the split's file lists into this directory")
	eval := flag.Bool("eval", false, "train on the train split, classify the test split")
	tune := flag.Bool("tune", false, "search parameters on the train split (fit/check), never the test split")
	scores := flag.String("scores", "", `score a file of "name spam|ham score" lines`)
	threshold := flag.Float64("threshold", junk.DefaultThreshold, "with -scores: junk from this score")
	flag.Parse()
	if err := run(*dir, *lists, *eval, *tune, *scores, *threshold); err != nil {
		fmt.Fprintln(os.Stderr, "junkeval:", err)
		os.Exit(1)
	}
}

func run(dir, lists string, eval, tune bool, scores string, threshold float64) error {
	if scores != "" {
		return scoreFile(scores, threshold)
	}
	msgs, err := junkcorpus.List(dir)
	if err != nil {
		return err
	}
	train, test := junkcorpus.Split(msgs)
	if lists != "" {
		if err := writeLists(lists, train, test); err != nil {
			return err
		}
	}
	if tune {
		return tuneParams(train)
	}
	if eval {
		tr, err := junkcorpus.Load(train)
		if err != nil {
			return err
		}
		te, err := junkcorpus.Load(test)
		if err != nil {
			return err
		}
		m := junkcorpus.Train(tr)
		runtime.GC()
		p := junk.DefaultParams()
		r := junkcorpus.Evaluate(m, te, p)
		fmt.Printf("mailroom  caught %6.2f%% (%d/%d)  false positives %5.2f%% (%d/%d)  unsure %d  %.0f msgs/s (threshold %.2f, %d tokens learned)\n",
			r.CaughtPct, r.Caught, r.Spam, r.FalsePosPct, r.Flagged, r.Ham, r.Unsure, r.PerSecond, p.Threshold, m.Len())
	}
	return nil
}

func writeLists(out string, train, test []junkcorpus.Message) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("lists: %w", err)
	}
	for _, l := range []struct {
		name string
		msgs []junkcorpus.Message
		spam bool
	}{{"train-spam", train, true}, {"train-ham", train, false}, {"test-spam", test, true}, {"test-ham", test, false}} {
		var b strings.Builder
		for _, m := range l.msgs {
			if m.Spam == l.spam {
				abs, err := filepath.Abs(m.Path)
				if err != nil {
					return fmt.Errorf("lists: %w", err)
				}
				b.WriteString(abs + "\n")
			}
		}
		if err := os.WriteFile(filepath.Join(out, l.name+".list"), []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("lists: %w", err)
		}
	}
	return nil
}

// tuneParams fits on 70 % of the train split and measures on the other
// 30 %, over a grid. The criterion: fewest false positives, then most spam
// caught. It prints the best few; the test split is never read.
func tuneParams(train []junkcorpus.Message) error {
	fitM, checkM := junkcorpus.TuneSplit(train)
	fit, err := junkcorpus.Load(fitM)
	if err != nil {
		return err
	}
	check, err := junkcorpus.Load(checkM)
	if err != nil {
		return err
	}
	m := junkcorpus.Train(fit)
	// Tokenize once; the grid only changes the scoring.
	toks := make([][]string, len(check))
	for i, msg := range check {
		toks[i] = junk.Tokens(msg.Raw)
	}
	type row struct {
		p          junk.Params
		caught, fp int
	}
	var rows []row
	var spam, ham int
	for _, msg := range check {
		if msg.Spam {
			spam++
		} else {
			ham++
		}
	}
	for _, s := range []float64{0.1, 0.45, 1} {
		for _, x := range []float64{0.5, 0.52, 0.6} {
			for _, dev := range []float64{0.05, 0.1, 0.2, 0.3, 0.375} {
				for _, clues := range []int{50, 150, 0} {
					p := junk.DefaultParams()
					p.S, p.X, p.MinDev, p.MaxClues = s, x, dev, clues
					scores := make([]float64, len(check))
					for i := range check {
						scores[i] = m.ClassifyParams(toks[i], nil, p).Score
					}
					for _, th := range []float64{0.5, 0.7, 0.8, 0.9, 0.95, 0.99} {
						p.Threshold = th
						r := row{p: p}
						for i, msg := range check {
							if scores[i] >= th {
								if msg.Spam {
									r.caught++
								} else {
									r.fp++
								}
							}
						}
						rows = append(rows, r)
					}
				}
			}
		}
	}
	best := rows[0]
	for _, r := range rows[1:] {
		if r.fp < best.fp || r.fp == best.fp && r.caught > best.caught {
			best = r
		}
	}
	fmt.Printf("check: %d spam, %d ham (from the train split only)\n", spam, ham)
	fmt.Println("rows within 1 false positive of the best, by spam caught:")
	for _, r := range rows {
		if r.fp <= best.fp+1 && r.caught >= best.caught-int(0.01*float64(spam)) {
			fmt.Printf("  S=%.2f X=%.2f MinDev=%.3f MaxClues=%d Threshold=%.2f  caught %.2f%%  fp %d\n",
				r.p.S, r.p.X, r.p.MinDev, r.p.MaxClues, r.p.Threshold, 100*float64(r.caught)/float64(spam), r.fp)
		}
	}
	return nil
}

// scoreFile computes caught%/fp% from lines "name spam|ham score", for the
// other classifiers' outputs.
func scoreFile(path string, threshold float64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("scores: %w", err)
	}
	defer f.Close()
	var spam, ham, caught, fp int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		score, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			return fmt.Errorf("scores: %q: %w", sc.Text(), err)
		}
		isSpam := fields[1] == "spam"
		if isSpam {
			spam++
		} else {
			ham++
		}
		if score >= threshold {
			if isSpam {
				caught++
			} else {
				fp++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("scores: %w", err)
	}
	fmt.Printf("caught %6.2f%% (%d/%d)  false positives %5.2f%% (%d/%d)  (threshold %.2f)\n",
		pctOf(caught, spam), caught, spam, pctOf(fp, ham), fp, ham, threshold)
	return nil
}

func pctOf(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
