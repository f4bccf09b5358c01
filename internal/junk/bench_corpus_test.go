package junk

import (
	"testing"
	"time"
)

// BenchmarkCorpus trains on the train split and classifies the test split
// (one pass per b.N), reporting spam caught (caught%), ham flagged (fp%)
// and classification speed including tokenizing (msgs/s). Needs
// $MAILROOM_SPAM_CORPUS.
func BenchmarkCorpus(b *testing.B) {
	msgs := loadCorpus(b)
	train, test := split(msgs)
	p := DefaultParams()
	var caught, fp float64
	var m *Model
	for i := 0; i < b.N; i++ {
		caught, fp, m = evaluate(train, test, p)
	}
	start := time.Now()
	for _, msg := range test {
		m.ClassifyParams(Tokens(msg.raw), nil, p)
	}
	el := time.Since(start)
	b.ReportMetric(caught, "caught%")
	b.ReportMetric(fp, "fp%")
	b.ReportMetric(float64(len(test))/el.Seconds(), "msgs/s")
}
