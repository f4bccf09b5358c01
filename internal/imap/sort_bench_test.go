package imap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/store"
)

// benchMessage is message i of a deterministic mailbox: conversations of
// one to twelve messages (References and In-Reply-To to the previous
// ones), reply and forward prefixes, encoded-word subjects and names in
// several languages, Date fields in several zones, varied body sizes.
func benchMessage(rng *rand.Rand, i int, convStart int) string {
	names := []string{"Alice Martin", "=?utf-8?b?5p2O5piO?=", "Bob", "=?iso-8859-1?q?Ren=E9e_Dupr=E9?=", "", "Дмитрий", "Zoë Ng"}
	subjects := []string{"quarterly budget", "=?utf-8?q?d=C3=A9jeuner_vendredi?=", "=?utf-8?b?5Lya6K6u55qE5a6J5o6S?=", "build failed on main", "Einladung zum Sommerfest", "invoice 4471", "[list] weekly digest"}
	var b strings.Builder
	from := rng.IntN(len(names))
	fmt.Fprintf(&b, "From: %s <user%d@example%d.test>\r\n", names[from], rng.IntN(500), from)
	fmt.Fprintf(&b, "To: %s <rcpt%d@example.test>\r\n", names[rng.IntN(len(names))], rng.IntN(50))
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&b, "Cc: cc%d@example.test\r\n", rng.IntN(100))
	}
	subj := subjects[convStart%len(subjects)]
	if i > convStart {
		subj = []string{"Re: ", "RE: ", "Fwd: ", "Re: [list] "}[rng.IntN(4)] + subj
		fmt.Fprintf(&b, "In-Reply-To: <m%d@bench.test>\r\n", i-1)
		var refs []string
		for j := convStart; j < i; j++ {
			refs = append(refs, fmt.Sprintf("<m%d@bench.test>", j))
		}
		fmt.Fprintf(&b, "References: %s\r\n", strings.Join(refs, " "))
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", subj)
	zone := []string{"+0000", "-0500", "+0100", "+0900"}[rng.IntN(4)]
	fmt.Fprintf(&b, "Date: %s\r\n", time.Unix(1.6e9+int64(i)*600+int64(rng.IntN(300)), 0).UTC().Format("Mon, 2 Jan 2006 15:04:05 ")+zone)
	fmt.Fprintf(&b, "Message-ID: <m%d@bench.test>\r\n\r\n", i)
	b.WriteString(strings.Repeat("Some text of the message body.\r\n", 1+rng.IntN(60)))
	return b.String()
}

// fillBench delivers n distinct messages into INBOX straight through the
// store (no network), 500 per transaction batch of stagings.
func fillBench(tb testing.TB, r *rig, n int) {
	acct := r.Account("ann@example.test")
	inbox := r.Mailbox(acct, "INBOX")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, uint64(n)))
	convStart, convLen := 0, 1
	base := time.Unix(1.6e9, 0)
	for i := 0; i < n; i++ {
		if i-convStart >= convLen {
			convStart, convLen = i, 1+rng.IntN(12)
		}
		m, err := r.Store.Stage(ctx, strings.NewReader(benchMessage(rng, i, convStart)))
		if err != nil {
			tb.Fatal(err)
		}
		t := store.Target{MailboxID: inbox.ID, InternalDate: base.Add(time.Duration(i) * 10 * time.Minute)}
		if _, err := r.Store.Deliver(ctx, m, []store.Target{t}); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkSortThread measures UID SORT (REVERSE DATE) and UID THREAD
// REFERENCES over all messages of a 10,000- and a 100,000-message INBOX,
// on a warm server (the command is run once before timing), over a
// loopback connection. Allocations are the whole process's, the server's
// included.
func BenchmarkSortThread(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := newRig(b)
			start := time.Now()
			fillBench(b, r, n)
			b.Logf("filled %d messages in %v", n, time.Since(start))
			x := r.raw(true)
			x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
			x.cmd("s", "SELECT INBOX", "OK")
			for _, c := range []string{"UID SORT (REVERSE DATE) UTF-8 ALL", "UID SORT (SUBJECT) UTF-8 ALL", "UID THREAD REFERENCES UTF-8 ALL"} {
				b.Run(strings.Join(strings.Fields(c)[1:3], ""), func(b *testing.B) {
					start := time.Now()
					x.cmd("w", c, "OK") // warm the caches
					var ms runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&ms)
					b.Logf("%s: first run %v; heap in use after it %d MiB", c, time.Since(start), ms.HeapInuse>>20)
					b.ReportAllocs()
					cpu0 := cpuTime()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						x.cmd("t", c, "OK")
					}
					b.StopTimer()
					// The machine is shared: CPU time (the process's, server
					// and client) says more than wall time under load.
					b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
				})
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
