package search

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// BenchmarkFlagSearch100k is one flag-only SEARCH over a 100,000-message
// mailbox held in memory (ns/op is per whole search).
func BenchmarkFlagSearch100k(b *testing.B) {
	const n = 100_000
	msgs := make([]Message, n)
	kw := []string{"$Forwarded", "Work"}
	for i := range msgs {
		meta := store.MessageMeta{UID: uint32(i + 1), ModSeq: uint64(i), Size: int64(1000 + i%5000), InternalDate: int64(1e9 + i*60)}
		meta.Flags = store.Flags(i % 32)
		if i%7 == 0 {
			meta.Keywords = kw
		}
		msgs[i] = &testMsg{meta: meta, seq: uint32(i + 1), recent: i%100 == 0}
	}
	m, err := Compile(mustKey(b, `UNSEEN NOT DELETED OR FLAGGED KEYWORD work SINCE 1-Oct-2001 LARGER 1500`), Context{MaxSeq: n, MaxUID: n})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	hits := 0
	for b.Loop() {
		hits = 0
		for _, msg := range msgs {
			if ok, _ := m.Match(ctx, msg); ok {
				hits++
			}
		}
	}
	b.ReportMetric(float64(hits), "hits")
}

// BenchmarkBodySearch1000x10KB is a BODY SEARCH for an absent string over
// 1,000 messages of 10 KB (every byte is scanned).
func BenchmarkBodySearch1000x10KB(b *testing.B) {
	for _, enc := range []string{"7bit", "quoted-printable"} {
		b.Run(enc, func(b *testing.B) {
			msgs := make([]*testMsg, 1000)
			line := "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
			body := strings.Repeat(line, 10<<10/len(line))
			for i := range msgs {
				raw := fmt.Sprintf("From: user%d@example.com\r\nSubject: message %d\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n\r\n%s", i, i, enc, body)
				msgs[i] = newMsg(b, raw, store.MessageMeta{UID: uint32(i + 1)}, uint32(i+1), false)
			}
			m, err := Compile(mustKey(b, `BODY "not in any message"`), Context{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(1000 * len(body)))
			for b.Loop() {
				for _, msg := range msgs {
					if ok, err := m.Match(ctx, msg); ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			}
		})
	}
}
