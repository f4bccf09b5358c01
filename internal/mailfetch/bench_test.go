package mailfetch_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// BenchmarkCollect collects 500 messages of about 10 KB each from a
// second Mailroom over POP3 and over IMAP (TLS on loopback), each into
// INBOX through the delivery agent; it reports messages per second.
//
//	go test -run XXX -bench Collect -benchtime 1x ./internal/mailfetch/
func BenchmarkCollect(b *testing.B) {
	const n = 500
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 170)
	for _, proto := range []string{store.FetchPOP3, store.FetchIMAP} {
		b.Run(proto, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e := newEnv(b)
				for i := range n {
					e.remote.Deliver(e.remoteAcct, fmt.Sprintf("Subject: bench %d\r\nMessage-ID: <b%d@remote.example>\r\n\r\n%s", i, i, body))
				}
				key := map[string]string{store.FetchPOP3: "pop3s", store.FetchIMAP: "imaps"}[proto]
				src := e.source(proto, key, store.FetchTLS, nil)
				b.StartTimer()
				res, err := e.f.RunSource(context.Background(), e.ann, src.ID)
				b.StopTimer()
				if err != nil || res.Fetched != n {
					b.Fatalf("collected %d, %v", res.Fetched, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
