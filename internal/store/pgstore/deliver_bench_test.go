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
	// With Japanese text: the short grams (store.ShortGrams) are only
	// kept for CJK text, so this is where they cost.
	b.Run("postgres+text-ja", func(b *testing.B) {
		benchDeliverMsgs(b, openWith(b, Options{DSN: pgtest.NewDatabase(b), MaxConns: 10}), true, message10KBJa)
	})
}

// jaWords are the words of message10KBJa.
var jaWords = strings.Fields(`会議 東京 大阪 予定 報告 資料 確認 お願い します ました です 明日 今日 来週 担当 顧客
売上 見積 請求書 契約 連絡 対応 問題 解決 システム サーバー メール 検索 索引 スレッド 返信 転送 添付 ファイル
について から まで より ため よろしく 申し上げます 検討 結果 変更 追加 削除 更新 開発 テスト 品質 改善 会社 部長
課長 社長 営業 技術 経理 総務 人事 新しい 古い 大きい 小さい 早く 遅く ありがとう ございます 失礼 いたします`)

// message10KBJa is a plain Japanese message of about 10 KB, as
// sqlitestore's benchmarks use.
func message10KBJa(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Bench <bench@example.org>\r\nTo: demo@example.test\r\nSubject: 会議 %d\r\nMessage-ID: <%d@bench>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", i, i)
	r := uint32(i*2654435761 + 1)
	for b.Len() < 10*1024 {
		for range 8 {
			r = r*1664525 + 1013904223
			b.WriteString(jaWords[(r>>8)%uint32(len(jaWords))])
		}
		b.WriteString("。\r\n")
	}
	return b.Bytes()
}

type deliverer interface {
	store.Directory
	store.Mailboxes
	store.Messages
}

func benchDeliver(b *testing.B, st deliverer) { benchDeliverText(b, st, false) }

func benchDeliverText(b *testing.B, st deliverer, text bool) {
	benchDeliverMsgs(b, st, text, message10KB)
}

func benchDeliverMsgs(b *testing.B, st deliverer, text bool, message10KB func(int) []byte) {
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
