package sqlitestore

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
)

// message10KB is a plain message of about 10 KB.
func message10KB(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Bench <bench@example.org>\r\nTo: demo@example.test\r\nSubject: message %d\r\nMessage-ID: <%d@bench>\r\n\r\n", i, i)
	line := strings.Repeat("0123456789", 7) + "\r\n"
	for b.Len() < 10*1024 {
		b.WriteString(line)
	}
	return b.Bytes()
}

// BenchmarkAppend10KB20Writers appends b.N durable 10 KB messages from 20
// concurrent writers and reports messages/s: "inline" is the default (small
// bodies ride in the group-committed transaction), "file" forces one body
// file per message (file fsync, directory fsync per batch, then commit).
func BenchmarkAppend10KB20Writers(b *testing.B) {
	b.Run("inline", func(b *testing.B) { benchAppend(b, Options{}) })
	b.Run("file", func(b *testing.B) { benchAppend(b, Options{InlineMax: fileOnly}) })
	// With the full-text index: the text extracted (as the mailbox
	// service does at delivery) and written with the message.
	b.Run("inline+text", func(b *testing.B) { benchAppendText(b, Options{}, true) })
	b.Run("file+text", func(b *testing.B) { benchAppendText(b, Options{InlineMax: fileOnly}, true) })
	// The same with Japanese text: the short grams (store.ShortGrams) are
	// only kept for CJK text, so this is where they cost.
	b.Run("inline+text-ja", func(b *testing.B) { benchAppendMsgs(b, Options{}, true, message10KBJa) })
}

// jaWords are the words of message10KBJa.
var jaWords = strings.Fields(`会議 東京 大阪 予定 報告 資料 確認 お願い します ました です 明日 今日 来週 担当 顧客
売上 見積 請求書 契約 連絡 対応 問題 解決 システム サーバー メール 検索 索引 スレッド 返信 転送 添付 ファイル
について から まで より ため よろしく 申し上げます 検討 結果 変更 追加 削除 更新 開発 テスト 品質 改善 会社 部長
課長 社長 営業 技術 経理 総務 人事 新しい 古い 大きい 小さい 早く 遅く ありがとう ございます 失礼 いたします`)

// message10KBJa is a plain Japanese message of about 10 KB (some 3,400
// characters of varied words, no spaces, as Japanese is written).
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

func benchAppend(b *testing.B, opts Options) { benchAppendText(b, opts, false) }

func benchAppendText(b *testing.B, opts Options, text bool) {
	benchAppendMsgs(b, opts, text, message10KB)
}

func benchAppendMsgs(b *testing.B, opts Options, text bool, message10KB func(int) []byte) {
	opts.Dir = b.TempDir()
	st := openWith(b, opts)
	defer st.Close()
	inbox := setupInbox(b, st)
	ctx := context.Background()
	msgs := make([][]byte, 64)
	for i := range msgs {
		msgs[i] = message10KB(i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(msgs[0])))
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				m, err := st.Stage(ctx, bytes.NewReader(msgs[i%64]))
				if err != nil {
					b.Error(err)
					return
				}
				if text {
					doc, err := search.IndexText(ctx, m.Structure(), bytes.NewReader(msgs[i%64]))
					if err != nil {
						b.Error(err)
						return
					}
					m.(store.TextStager).SetText(doc)
				}
				if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkOpenMailbox100k lists (uid, flags, modseq …) of a 100,000-message
// mailbox, as SELECT does, and reports the bytes held per message.
func BenchmarkOpenMailbox100k(b *testing.B) {
	const n = 100_000
	st := openTest(b, b.TempDir())
	defer st.Close()
	inbox := setupInbox(b, st)
	fillMailbox(b, st, inbox, n)
	ctx := context.Background()
	b.ResetTimer()
	var held uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		list, err := st.MessageList(ctx, inbox.ID)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.StartTimer()
		if len(list) != n {
			b.Fatalf("%d messages", len(list))
		}
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(list)
	}
	b.ReportMetric(float64(held)/n, "heap-bytes/msg")
}

// fillMailbox inserts n small messages quickly: one staged body, delivered
// in batches, with a mix of flags and keywords as real mailboxes have.
func fillMailbox(b testing.TB, st *Store, mb store.Mailbox, n int) {
	ctx := context.Background()
	m, err := st.Stage(ctx, bytes.NewReader(message10KB(0)))
	if err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	for done := 0; done < n; done += batch {
		targets := make([]store.Target, batch)
		for i := range targets {
			t := store.Target{MailboxID: mb.ID}
			if (done+i)%3 != 0 {
				t.Flags = store.FlagSeen
			}
			if (done+i)%10 == 0 {
				t.Keywords = []string{"$Forwarded", "Work"}
			}
			targets[i] = t
		}
		if _, err := st.Deliver(ctx, m, targets); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadMailbox100k is what the first IMAP SELECT of a mailbox
// waits for: the record and every message's hot state, one snapshot.
func BenchmarkLoadMailbox100k(b *testing.B) {
	const n = 100_000
	st := openTest(b, b.TempDir())
	defer st.Close()
	inbox := setupInbox(b, st)
	fillMailbox(b, st, inbox, n)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, list, err := st.LoadMailbox(ctx, inbox.ID)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != n {
			b.Fatalf("%d messages", len(list))
		}
	}
}

// BenchmarkLoadMailbox100kAfterRestart is the first SELECT of a large
// mailbox after a restart: the store is closed (its WAL checkpointed) and
// opened again, and LoadMailbox runs once on fresh connections.
func BenchmarkLoadMailbox100kAfterRestart(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	st := openTest(b, dir)
	inbox := setupInbox(b, st)
	fillMailbox(b, st, inbox, n)
	st.Close()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := openTest(b, dir)
		b.StartTimer()
		_, list, err := st.LoadMailbox(ctx, inbox.ID)
		b.StopTimer()
		if err != nil || len(list) != n {
			b.Fatalf("%d messages, %v", len(list), err)
		}
		st.Close()
		b.StartTimer()
	}
}
