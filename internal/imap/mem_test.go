package imap

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// The memory of search, sort and thread on a large mailbox (issue 15:
// "memory bounded"). TestMemoryCommands measures it for the issue's
// commands (set MAILROOM_MEM_N); TestSearchMemoryBounded keeps it bounded.

// memMessage is message i of a varied deterministic mailbox: the sort
// benchmark's conversations and headers, with bodies plain, HTML or
// multipart with a base64 attachment, 1 KB to ~40 KB and one in fifty
// ~250 KB, and an X-Foo header on one in ten.
func memMessage(rng *rand.Rand, i, convStart int) string {
	head, body, _ := strings.Cut(benchMessage(rng, i, convStart), "\r\n\r\n")
	_ = body
	words := strings.Fields(`the of and to in is for on that with budget meeting report project quarter
invoice team schedule review customer Köln Straße grüße très bientôt été 会議 東京 明天 见面 привет встреча`)
	var text strings.Builder
	size := 1<<10 + rng.IntN(40<<10)
	if rng.IntN(50) == 0 {
		size = 250 << 10
	}
	for text.Len() < size {
		for range 12 {
			text.WriteString(words[rng.IntN(len(words))])
			text.WriteByte(' ')
		}
		text.WriteString("\r\n")
	}
	if rng.IntN(200) == 0 {
		text.WriteString("a zebra crossed\r\n")
	}
	if rng.IntN(10) == 0 {
		head += "\r\nX-Foo: bar " + strconv.Itoa(i%7)
	}
	head += "\r\nMIME-Version: 1.0\r\n"
	switch rng.IntN(4) {
	case 0:
		return head + "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + text.String() + "</p></body></html>\r\n"
	case 1:
		att := make([]byte, 512+rng.IntN(8<<10))
		for j := range att {
			att[j] = byte(rng.IntN(256))
		}
		return head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.String() +
			"--b\r\nContent-Type: application/octet-stream; name=data.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			lines76(base64.StdEncoding.EncodeToString(att)) + "--b--\r\n"
	}
	return head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.String()
}

func lines76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}

// fillMem delivers n messages into a mailbox, through the mailbox
// service (so the full-text index has them) when indexed, else straight
// into the store (messages the index does not know).
func fillMem(tb testing.TB, st store.Store, svc *mailbox.Service, mailboxID int64, n int, indexed bool) int64 {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, uint64(n)))
	convStart, convLen := 0, 1
	base := time.Unix(1.6e9, 0)
	var total int64
	for i := 0; i < n; {
		var batch []store.Delivery
		for ; i < n && len(batch) < 200; i++ {
			if i-convStart >= convLen {
				convStart, convLen = i, 1+rng.IntN(12)
			}
			raw := memMessage(rng, i, convStart)
			total += int64(len(raw))
			m, err := st.Stage(ctx, strings.NewReader(raw))
			if err != nil {
				tb.Fatal(err)
			}
			t := store.Target{MailboxID: mailboxID, InternalDate: base.Add(time.Duration(i) * 10 * time.Minute)}
			batch = append(batch, store.Delivery{Msg: m, Targets: []store.Target{t}})
		}
		var err error
		if indexed {
			_, err = svc.AppendAll(ctx, batch)
		} else {
			_, err = st.DeliverAll(ctx, batch)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return total
}

// heapSampler records the peak of the heap in use (objects live and not
// yet swept, and the spans' free space) while a command runs.
type heapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

func heapInUse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var n uint64
	for _, x := range s {
		n += x.Value.Uint64()
	}
	return n
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	h.peak = heapInUse(s)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := heapInUse(s); v > h.peak {
				h.peak = v
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) done() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// procStatus reads a field of /proc/self/status in KiB (0 if absent).
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// goMapped is the memory the Go runtime has mapped and not returned to
// the system: what of the RSS is Go's (the rest is SQLite's, in modernc's
// allocator, and the binary).
func goMapped() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// resetPeakRSS starts a new VmHWM period (Linux: clear_refs 5).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// memCommands are the commands: text searches the index answers,
// a header search and a search of unindexed messages that read mail,
// SORT and THREAD.
var memCommands = []struct{ box, cmd string }{
	{"INBOX", "UID SEARCH TEXT zebra"},
	{"INBOX", `SEARCH BODY "zebra crossed"`},
	{"INBOX", "UID SEARCH HEADER X-Foo bar"},
	{"Unindexed", "UID SEARCH TEXT zebra"},
	{"INBOX", "UID SORT (REVERSE DATE) UTF-8 ALL"},
	{"INBOX", "UID THREAD REFERENCES UTF-8 ALL"},
	{"INBOX", "UID SORT (SUBJECT) UTF-8 ALL"},
}

// TestMemoryCommands runs the commands over a mailbox of
// MAILROOM_MEM_N messages (and as many unindexed) on a real server in
// this process and prints, per command, its time, the peak heap in use
// while it ran, the heap it left live (after a collection) and the
// process's peak RSS. With MAILROOM_MEM_PROFILE=dir it writes a heap
// profile after each command (go tool pprof -sample_index=inuse_space,
// or alloc_space with -diff_base the previous one).
//
//	MAILROOM_MEM_N=20000 go test ./internal/imap/ -run TestMemoryCommands -v -timeout 1h
func TestMemoryCommands(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MAILROOM_MEM_N"))
	if n <= 0 {
		t.Skip("set MAILROOM_MEM_N to the number of messages")
	}
	profDir := os.Getenv("MAILROOM_MEM_PROFILE")
	r := newRig(t)
	acct := r.Account("ann@example.test")
	inbox := r.Mailbox(acct, "INBOX")
	ctx := context.Background()
	unindexed, err := r.Store.CreateMailbox(ctx, acct.ID, "Unindexed", "")
	if err != nil {
		t.Fatal(err)
	}
	svc := mailbox.NewService(r.Store, nil, nil)
	start := time.Now()
	size := fillMem(t, r.Store, svc, inbox.ID, n, true)
	size += fillMem(t, r.Store, svc, unindexed.ID, n, false)
	svc.Close()
	t.Logf("filled 2 x %d messages (%.0f MB) in %v", n, float64(size)/1e6, time.Since(start).Round(time.Second))

	x := r.raw(true)
	x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	base := liveHeap()
	t.Logf("before: live heap %.1f MiB, RSS %d MiB", float64(base)/(1<<20), procStatus("VmRSS")>>10)
	t.Logf("%-40s %9s %9s %10s %10s %9s %9s %9s %7s", "command", "time", "cpu", "peak-heap", "live-after", "peak-RSS", "RssAnon", "go-mapped", "resp-KB")
	selected := ""
	for i, c := range memCommands {
		if c.box != selected {
			x.cmd("s", "SELECT "+c.box, "OK")
			selected = c.box
		}
		liveHeap()
		resetPeakRSS()
		h := startHeapSampler()
		start, cpu0 := time.Now(), cpuTime()
		lines := x.cmd("c", c.cmd, "OK")
		d, cpu := time.Since(start), cpuTime()-cpu0
		peak := h.done()
		after := liveHeap()
		respLen := 0
		for _, l := range lines {
			respLen += len(l)
		}
		t.Logf("%-40s %9v %9v %6.1f MiB %6.1f MiB %5d MiB %5d MiB %5d MiB %7d", c.box+" "+c.cmd, d.Round(time.Millisecond), cpu.Round(time.Millisecond),
			float64(peak)/(1<<20), float64(after)/(1<<20), procStatus("VmHWM")>>10, procStatus("RssAnon")>>10, goMapped()>>20, respLen>>10)
		if profDir != "" {
			f, err := os.Create(filepath.Join(profDir, fmt.Sprintf("heap-%d.pprof", i)))
			if err != nil {
				t.Fatal(err)
			}
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}

// TestSearchMemoryBounded: a search that reads every message of a
// mailbox (HEADER, and TEXT over messages the index does not know) leaves
// nothing behind in the Go heap — no structures cached for a scan — and
// grows the process by a bounded amount, however many messages it reads:
// SQLite's page caches are bounded together (sqlitestore.CacheBytes),
// where each of nine connections used to keep 32 MiB of pages.
func TestSearchMemoryBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("fills a mailbox of 3,000 messages, and measures memory (not under -race)")
	}
	const n = 3000
	r := newRig(t)
	acct := r.Account("ann@example.test")
	inbox := r.Mailbox(acct, "INBOX")
	size := fillMem(t, r.Store, nil, inbox.ID, n, false)
	x := r.raw(true)
	x.cmd("l", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("s", "SELECT INBOX", "OK")
	x.cmd("f", "FETCH 1:10 (ENVELOPE BODYSTRUCTURE)", "OK")
	before, rss := liveHeap(), procStatus("RssAnon")
	h := startHeapSampler()
	for _, c := range []string{"UID SEARCH HEADER X-Foo bar", "UID SEARCH TEXT zebra", "UID SEARCH OR BODY zebra SUBJECT nothing"} {
		if lines := x.cmd("c", c, "OK"); !has(lines, "* SEARCH") {
			t.Fatalf("%s: %q", c, lines)
		}
	}
	peak := h.done()
	after, rssAfter := liveHeap(), procStatus("RssAnon")
	t.Logf("%d messages, %d MB: live heap %.1f -> %.1f MiB, peak %.1f MiB, RssAnon %d -> %d MiB",
		n, size/1e6, float64(before)/(1<<20), float64(after)/(1<<20), float64(peak)/(1<<20), rss>>10, rssAfter>>10)
	if grown := int64(after) - int64(before); grown > 2<<20 {
		t.Errorf("searches left %.1f MiB more live heap", float64(grown)/(1<<20))
	}
	if grown := int64(peak) - int64(before); grown > 96<<20 {
		t.Errorf("heap in use grew by %.1f MiB during the searches", float64(grown)/(1<<20))
	}
	if testrig.Backend() == config.BackendSQLite && rss > 0 {
		if grown := int64(rssAfter) - int64(rss); grown > 128<<10 {
			t.Errorf("anonymous RSS grew by %d MiB during the searches", grown>>10)
		}
	}
}
