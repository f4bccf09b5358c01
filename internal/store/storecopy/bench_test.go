package storecopy

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// BenchmarkCopy measures `mailroom store copy` on an installation of
// 10,000 messages (99 in 100 small, inline; 1 in 100 of 100–900 KB, a
// blob) in 10 accounts: SQLite to PostgreSQL, then PostgreSQL to a new
// SQLite directory, each with its verification. Run it once:
//
//	go test -run '^$' -bench BenchmarkCopy -benchtime 1x ./internal/store/storecopy/
//
// The fixture is built once; each iteration copies into a fresh
// destination. pgtest's cluster runs with fsync off: the numbers are
// the copy's own cost, not a disk's.
func BenchmarkCopy(b *testing.B) {
	defer recoverFailure(b)
	ctx := context.Background()
	dir := b.TempDir()
	st := openSQLite(b, dir)
	const accounts, perAccount = 10, 1000
	var sizes int64
	for a := range accounts {
		email := fmt.Sprintf("user%d@example.test", a)
		if a == 0 {
			must(st.CreateDomain(ctx, "example.test"))
		}
		acct := must(st.CreateAccount(ctx, email, must(auth.HashPassword("pw", cheapParams))))
		inbox := must(st.Mailbox(ctx, acct.ID, "INBOX"))
		var batch []store.Delivery
		for i := range perAccount {
			var raw []byte
			if i%100 == 99 {
				raw = bigMessage(fmt.Sprintf("big %d", i), (100+(i*37)%800)<<10, uint64(a*perAccount+i))
			} else {
				raw = storetest.Message(fmt.Sprintf("message %d of %s", i, email), strings.Repeat("Some text of a usual message, line after line.\r\n", 10+(i*13)%150))
			}
			sizes += int64(len(raw))
			batch = append(batch, store.Delivery{Msg: must(st.Stage(ctx, bytes.NewReader(raw))),
				Targets: []store.Target{{MailboxID: inbox.ID, InternalDate: time.Unix(1_700_000_000+int64(i), 0)}}})
			if len(batch) == 100 {
				must(st.DeliverAll(ctx, batch))
				batch = batch[:0]
			}
		}
	}
	ok(b, st.Close())
	b.Logf("fixture: %d messages, %.1f MB", accounts*perAccount, float64(sizes)/1e6)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dsn := pgtest.NewDatabase(b)
		start := time.Now()
		rep, err := Copy(ctx, sqliteSource(b, dir), pgTransfer(b, dsn, true), Options{})
		ok(b, err)
		report(b, "sqlite→postgres", rep, time.Since(start), sizes)
		start = time.Now()
		rep, err = Copy(ctx, pgTransfer(b, dsn, false), sqliteDest(b, filepath.Join(b.TempDir(), "back")), Options{})
		ok(b, err)
		report(b, "postgres→sqlite", rep, time.Since(start), sizes)
	}
}

func report(b *testing.B, what string, rep *Report, total time.Duration, sizes int64) {
	msgs := float64(rep.Source.Tables[tableIndex(rep, "messages")].Rows)
	b.Logf("%s: %d rows, %d blob bodies (%.1f MB); copy %v (%.0f messages/s, %.1f MB/s of messages), verify %v, total %v",
		what, rep.Source.Rows(), rep.Source.Bodies, float64(rep.Source.BodyBytes)/1e6,
		rep.Copied.Round(time.Millisecond), msgs/rep.Copied.Seconds(), float64(sizes)/1e6/rep.Copied.Seconds(),
		rep.Verified.Round(time.Millisecond), total.Round(time.Millisecond))
	b.ReportMetric(msgs/rep.Copied.Seconds(), strings.SplitN(what, "→", 2)[1]+"-msgs/s")
}

func tableIndex(rep *Report, name string) int {
	for i, t := range rep.Source.Tables {
		if t.Name == name {
			return i
		}
	}
	return 0
}
