package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStats is what the queue collector asks the store at each scrape.
type QueueStats func(ctx context.Context) (messages, recipients int, oldest time.Time, err error)

// queueTimeout bounds the question: a scrape must not hang on a store
// that is away (the metric is then left out of that scrape).
const queueTimeout = 2 * time.Second

type queueCollector struct {
	stats                        QueueStats
	messages, recipients, oldest *prometheus.Desc
}

// WatchQueue adds the outbound queue's size and oldest message's age,
// asked of stats once per scrape (one aggregate query).
func (m *Metrics) WatchQueue(stats QueueStats) {
	m.reg.MustRegister(&queueCollector{
		stats:      stats,
		messages:   prometheus.NewDesc(Namespace+"_queue_messages", "Messages in the outbound queue.", nil, nil),
		recipients: prometheus.NewDesc(Namespace+"_queue_recipients", "Recipients in the outbound queue still to be tried.", nil, nil),
		oldest: prometheus.NewDesc(Namespace+"_queue_oldest_age_seconds",
			"Age of the oldest message in the outbound queue (0 when it is empty).", nil, nil),
	})
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.recipients
	ch <- c.oldest
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	n, r, oldest, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.messages, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(time.Since(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.recipients, prometheus.GaugeValue, float64(r))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
