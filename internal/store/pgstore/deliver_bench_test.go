package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

// message10KB is a plain message of about 10 KB (as sqlitestore's
// benchmarks use).
func message10KB(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Bench <bench@example.org>\r\nTo: demo@example.test\r\nSubject: message %d\r\nMessage-ID: <%d@bench>\r\n\r\n", i, i)
	line := strings.Repeat("0123456789", 7) + "\r\n"
	for b.Len() < 10*1024 {
		b.WriteString(line)
	}
	return b.Bytes()
}

// BenchmarkDeliver10KB8Writers stages and delivers b.N 10 KB messages
// into one mailbox from 8 goroutines, each delivery durable when Deliver
// returns, and reports deliveries/s: on pgtest's PostgreSQL cluster and,
// in the same run on the same machine, on sqlitestore for comparison.
func BenchmarkDeliver10KB8Writers(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchDeliver(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		benchDeliver(b, openWith(b, Options{DSN: pgtest.NewDatabase(b), MaxConns: 10}))
	})
	// With the full-text index: the text extracted (as the mailbox
	// service does at delivery) and written with the message.
	b.Run("postgres+text", func(b *testing.B) {
		benchDeliverText(b, openWith(b, Options{DSN: pgtest.NewDatabase(b), MaxConns: 10}), true)
	})
}

type deliverer interface {
	store.Directory
	store.Mailboxes
	store.Messages
}

func benchDeliver(b *testing.B, st deliverer) { benchDeliverText(b, st, false) }

func benchDeliverText(b *testing.B, st deliverer, text bool) {
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		b.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "demo@example.test", testCred)
	if err != nil {
		b.Fatal(err)
	}
	inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([][]byte, 64)
	for i := range msgs {
		msgs[i] = message10KB(i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.SetBytes(int64(len(msgs[0])))
	b.ResetTimer()
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				m, err := st.Stage(ctx, bytes.NewReader(msgs[i%int64(len(msgs))]))
				if err == nil && text {
					var doc *store.TextDoc
					if doc, err = search.IndexText(ctx, m.Structure(), bytes.NewReader(msgs[i%int64(len(msgs))])); err == nil {
						m.(store.TextStager).SetText(doc)
					}
				}
				if err == nil {
					_, err = st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}
