package junkcorpus

import (
	"time"

	"mailroom/internal/junk"
)

// Result is what an evaluation measured.
type Result struct {
	Spam, Ham       int     // test messages of each class
	Caught, Flagged int     // spam classified junk, ham classified junk
	CaughtPct       float64 // Caught / Spam, in percent
	FalsePosPct     float64 // Flagged / Ham, in percent
	Unsure          int     // messages in the unsure zone (either class)
	PerSecond       float64 // messages tokenized and classified per second
	PerCPUSecond    float64 // the same per second of CPU time
	Scores          []Scored
}

// Scored is one test message's score.
type Scored struct {
	Name  string
	Spam  bool
	Score float64
}

// Train learns every message of train into a new model.
func Train(train []Loaded) *junk.Model {
	m := junk.NewModel()
	for _, msg := range train {
		m.Learn(junk.Tokens(msg.Raw), msg.Spam)
	}
	return m
}

// Evaluate classifies test against m with p, timing tokenizing and
// classifying together (on the calling goroutine: one core).
func Evaluate(m *junk.Model, test []Loaded, p junk.Params) Result {
	var r Result
	r.Scores = make([]Scored, 0, len(test))
	start, cpu := time.Now(), CPUTime()
	for _, msg := range test {
		v := m.ClassifyParams(junk.Tokens(msg.Raw), nil, p)
		r.Scores = append(r.Scores, Scored{msg.Name, msg.Spam, v.Score})
		if v.Unsure {
			r.Unsure++
		}
		if msg.Spam {
			r.Spam++
			if v.Junk {
				r.Caught++
			}
		} else {
			r.Ham++
			if v.Junk {
				r.Flagged++
			}
		}
	}
	if el := time.Since(start).Seconds(); el > 0 {
		r.PerSecond = float64(len(test)) / el
	}
	if c := (CPUTime() - cpu).Seconds(); c > 0 {
		r.PerCPUSecond = float64(len(test)) / c
	}
	r.CaughtPct = pct(r.Caught, r.Spam)
	r.FalsePosPct = pct(r.Flagged, r.Ham)
	return r
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
