package queue

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/store"
)

// BenchmarkQueueToSink measures delivery throughput: 5,000 queued 10 KB
// messages, each to one recipient in one of 20 domains, delivered by 20
// workers to Postfix's smtp-sink (every domain's MX is the sink) through
// the real resolver and SMTP client. It reports messages/s from the start
// of the queue run until the queue is empty, and the heap in use with
// the messages queued. Needs smtp-sink (Debian package postfix).
//
//	go test -run '^$' -bench QueueToSink -benchtime 1x ./internal/queue/
func BenchmarkQueueToSink(b *testing.B) {
	sinkBin, err := exec.LookPath("smtp-sink")
	if err != nil {
		b.Skip("smtp-sink (Debian package postfix) not installed")
	}
	const messages, domains = 5000, 20
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b, rigOptions{quiet: true, manual: true, concurrency: 20})
		sinkAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
		sink := exec.Command(sinkBin, "-u", "nobody", sinkAddr, "256")
		if err := sink.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sink.Process.Kill(); sink.Wait() })
		for d := 0; d < domains; d++ {
			name := fmt.Sprintf("d%d.test", d)
			r.dns.Add(b, name+". MX 10 mx."+name+".", "mx."+name+". A 127.0.0.1")
		}
		waitListening(b, sinkAddr)
		enqueue(b, r, messages, domains)
		held := heapInUse()
		start := time.Now()
		b.StartTimer()
		r.start()
		r.waitEmptyFor(time.Minute)
		elapsed := time.Since(start)
		b.ReportMetric(float64(messages)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(held)/(1<<20), "heap-MiB-queued")
	}
}

// BenchmarkQueueHolds100k enqueues 100,000 messages and reports the heap in
// use while a queue works through them against a server that defers every
// one (so they all stay queued): what 100,000 queued messages cost in memory.
//
//	go test -run '^$' -bench QueueHolds100k -benchtime 1x ./internal/queue/
func BenchmarkQueueHolds100k(b *testing.B) {
	const messages = 100_000
	for i := 0; i < b.N; i++ {
		r := newRig(b, rigOptions{quiet: true, manual: true, concurrency: 20, intervals: []time.Duration{time.Hour}})
		mx := r.mx("remote.test", "127.0.0.2")
		mx.OnRcpt = nil
		r.dns.Fail("remote.test.", 2) // SERVFAIL: every attempt is deferred at once
		before := heapInUse()
		enqueue(b, r, messages, 1)
		queued := heapInUse()
		r.start()
		time.Sleep(3 * time.Second)
		working := heapInUse()
		b.ReportMetric((float64(queued)-float64(before))/(1<<20), "heap-MiB-after-enqueue")
		b.ReportMetric((float64(working)-float64(before))/(1<<20), "heap-MiB-while-working")
		b.ReportMetric(float64(rssKiB())/1024, "RSS-MiB")
	}
}

// enqueue queues n messages from 20 goroutines, as concurrent submissions
// would (their commits are grouped).
func enqueue(b *testing.B, r *rig, n, domains int) {
	b.Helper()
	ctx := context.Background()
	body := "From: ann@example.test\r\nSubject: load\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\r\n", 160)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				m, err := r.st.Stage(ctx, strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				d := fmt.Sprintf("d%d.test", i%domains)
				if domains == 1 {
					d = "remote.test"
				}
				if _, err := r.st.Enqueue(ctx, m, store.QueueEntry{From: "ann@example.test",
					Recipients: []store.QueueRecipient{{Address: fmt.Sprintf("u%d@%s", i, d), Domain: d}}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// rssKiB is this process's resident memory (Go heap, SQLite's page
// cache, everything).
func rssKiB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func waitListening(b *testing.B, addr string) {
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("nothing listens on %s", addr)
}

func (r *rig) waitEmptyFor(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		next, err := r.st.NextQueued(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		if next.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("messages still queued after %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
