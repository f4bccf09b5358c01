package mailbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

// benchWords make varied text; "zebra" is in about one message in 200.
var benchWords = strings.Fields(`the of and to in is for on that with as was at by from this be are or have
budget meeting report project quarter invoice team schedule review update customer account Köln Straße
grüße très bientôt été 会議 東京 明天 见面 привет встреча delivery server mailbox search index thread`)

// benchMessage is message i: 1 to 30 KB, plain, HTML, or multipart with
// a base64 attachment, deterministic.
func benchMessage(r *rand.Rand, i int) string {
	var body strings.Builder
	size := 1<<10 + r.IntN(30<<10)
	for body.Len() < size {
		for range 12 {
			body.WriteString(benchWords[r.IntN(len(benchWords))])
			body.WriteByte(' ')
		}
		body.WriteString("\r\n")
	}
	if r.IntN(200) == 0 {
		body.WriteString("a zebra crossed\r\n")
	}
	h := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: user@example.test\r\nSubject: %s %d\r\nDate: Mon, 5 Jan 2026 10:00:00 +0000\r\nMessage-ID: <%d@bench>\r\nMIME-Version: 1.0\r\n",
		i%97, i%97, benchWords[r.IntN(len(benchWords))], i, i)
	switch r.IntN(4) {
	case 0:
		return h + "Content-Type: text/html; charset=utf-8\r\n\r\n<p>" + body.String() + "</p>\r\n"
	case 1:
		return h + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body.String() +
			"--b\r\nContent-Type: application/octet-stream; name=data.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODw==\r\n--b--\r\n"
	}
	return h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.String()
}

// benchMailbox fills a store with n messages, indexed or not, in batches.
func benchMailbox(b *testing.B, n int, indexed bool) (*Service, store.Store, int64) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	var st store.Store
	var err error
	if os.Getenv("MAILROOM_SEARCH_BENCH_PG") != "" {
		st, err = pgstore.Open(ctx, pgstore.Options{DSN: pgtest.Start(b).NewDatabase(b)})
	} else {
		st, err = sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	st.CreateDomain(ctx, "example.test")
	acct, err := st.CreateAccount(ctx, "bench@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		b.Fatal(err)
	}
	inbox, _ := st.Mailbox(ctx, acct.ID, "INBOX")
	reg := NewService(st, nil, nil)
	b.Cleanup(reg.Close)
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	var mailBytes int64
	for i := 0; i < n; {
		var batch []store.Delivery
		for ; i < n && len(batch) < 500; i++ {
			raw := benchMessage(r, i)
			mailBytes += int64(len(raw))
			m, err := st.Stage(ctx, strings.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, store.Delivery{Msg: m, Targets: []store.Target{{MailboxID: inbox.ID}}})
		}
		if indexed {
			_, err = reg.AppendAll(ctx, batch)
		} else {
			_, err = st.DeliverAll(ctx, batch)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	db := filepath.Join(dir, "mail.db")
	if fi, err := os.Stat(db); err == nil {
		b.Logf("%d messages, %.1f MB of mail, mail.db %.1f MB (indexed %v), filled in %v", n, float64(mailBytes)/1e6, float64(fi.Size())/1e6, indexed, time.Since(start).Round(time.Millisecond))
	}
	return reg, st, inbox.ID
}

// BenchmarkSearchText is UID SEARCH TEXT word over a whole mailbox (on
// SQLite; on PostgreSQL with MAILROOM_SEARCH_BENCH_PG=1), with
// the index (every message indexed at delivery) and without it (the
// evaluator reads every message: what SEARCH did before the index).
// 会議 (in almost every message), 京 and 議東 (in none: words are
// separated by spaces) are the short CJK needles of the short grams.
func BenchmarkSearchText(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if v := os.Getenv("MAILROOM_SEARCH_BENCH_N"); v != "" {
		// One size, for quick runs: MAILROOM_SEARCH_BENCH_N=2000.
		var n int
		fmt.Sscan(v, &n)
		sizes = []int{n}
	}
	for _, n := range sizes {
		for _, indexed := range []bool{true, false} {
			name := fmt.Sprintf("%d/index", n)
			if !indexed {
				name = fmt.Sprintf("%d/evaluator", n)
			}
			b.Run(name, func(b *testing.B) {
				reg, st, mb := benchMailbox(b, n, indexed)
				ctx := context.Background()
				list, err := st.MessageList(ctx, mb)
				if err != nil {
					b.Fatal(err)
				}
				msgs := make([]search.Message, len(list))
				for i, meta := range list {
					msgs[i] = &storeMessage{st: st, mailbox: mb, meta: meta, seq: uint32(i + 1)}
				}
				for _, q := range []struct{ op, word string }{{"TEXT", "zebra"}, {"BODY", "zebra crossed"}, {"TEXT", "会議"},
					{"TEXT", "京"}, {"BODY", "議東"}} {
					m, err := search.Compile(&search.Key{Op: q.op, Value: q.word}, search.Context{MaxSeq: uint32(n), MaxUID: uint32(n)})
					if err != nil {
						b.Fatal(err)
					}
					b.Run(q.op+"_"+strings.ReplaceAll(q.word, " ", "_"), func(b *testing.B) {
						var hits []uint32
						for range b.N {
							if hits, err = reg.Search(ctx, mb, m, msgs); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(len(hits)), "hits")
					})
				}
			})
		}
	}
}
