package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/jackc/pgx/v5"

	"mailroom/internal/mailtest"
	"mailroom/internal/store/pgstore/pgtest"
)

// leaseTime is the queue lease of the kill test's nodes: short, so that
// the survivor's takeover of the dead node's recipients fits in a test.
const leaseTime = 3 * time.Second

// appender is one IMAP client APPENDing numbered messages, to its own
// node first and, once that connection fails, to the other (as a client
// behind a load balancer reconnects to whichever node is left).
type appender struct {
	name    string
	addrs   []string // its node first
	acked   map[string]bool
	unknown map[string]bool // the connection failed before the reply
	moved   int             // APPENDs acknowledged after a reconnection
	err     error
}

func (ap *appender) run(ctx context.Context) {
	ap.acked, ap.unknown = map[string]bool{}, map[string]bool{}
	reconnected := false
	for n := 0; ctx.Err() == nil; {
		c, err := imapLogin(ap.addrs[0], nil, time.Minute)
		if err != nil {
			if len(ap.addrs) == 1 {
				ap.err = fmt.Errorf("%s: no node to reconnect to: %w", ap.name, err)
				return
			}
			ap.addrs, reconnected = ap.addrs[1:], true
			continue
		}
		for ; ctx.Err() == nil; n++ {
			subject := fmt.Sprintf("%s-%d", ap.name, n)
			msg := "From: ann@example.test\r\nSubject: " + subject + "\r\n\r\n" + strings.Repeat("appended\r\n", 50)
			w := c.Append("INBOX", int64(len(msg)), nil)
			_, werr := w.Write([]byte(msg))
			cerr := w.Close()
			_, err := w.Wait()
			var ie *goimap.Error
			if errors.As(err, &ie) {
				// The server answered, and not OK: not what a dead
				// peer node should cause.
				ap.err = fmt.Errorf("%s: APPEND %s: %v", ap.name, subject, err)
				c.Close()
				return
			}
			if werr != nil || cerr != nil || err != nil {
				// The connection failed: the APPEND may or may not have
				// been stored. Reconnect (the node, or the next one).
				ap.unknown[subject] = true
				n++
				break
			}
			ap.acked[subject] = true
			if reconnected {
				ap.moved++
			}
		}
		c.Close()
	}
}

// Two nodes share one PostgreSQL database under IMAP APPEND load and
// queued outbound mail; node A is killed with SIGKILL. Nothing
// acknowledged is lost or duplicated: every APPEND that got OK is in the
// mailbox once; every message submitted with 250 reaches the remote
// server, once, except that a recipient A was sending to at the moment
// it died may arrive twice (A's attempt may have got the remote 250
// without recording it: SMTP is at-least-once). A's IMAP clients
// reconnect to B and go on; B takes A's queue leases over once they
// expire (lease_time) and keeps serving.
func TestKillNodeDuringIMAPAndQueueLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: real processes, several seconds")
	}
	cluster := pgtest.Start(t, pgtest.Durable())
	dsn := cluster.NewDatabase(t)
	bin := buildMailroom(t)

	// The remote MX: a sink on 127.0.0.2 that takes its time, so that
	// deliveries are in progress when A dies.
	dns := mailtest.NewDNS(t)
	sink := dns.NewRemoteMX(t, "remote.test")
	port := sink.Port()
	var sinkMu sync.Mutex
	arrivals := map[string]int{} // recipient → messages received
	sink.OnData = func(m mailtest.Message) *mailtest.Reply {
		time.Sleep(100 * time.Millisecond)
		sinkMu.Lock()
		defer sinkMu.Unlock()
		for _, r := range m.Recipients {
			arrivals[strings.ToLower(r)]++
		}
		return nil
	}
	extra := fmt.Sprintf("[dns]\nservers = [%q]\n[queue]\nremote_port = %d\nconcurrency = 4\nlease_time = %q\n[imap]\nmax_connections_per_ip = 1000\n[smtp]\nmax_connections_per_ip = 1000\n",
		dns.Addr, port, leaseTime.String())
	a := newNode(t, bin, "a", dsn, extra)
	a.admin("", "domain", "add", "example.test")
	a.admin(password+"\n", "user", "add", "ann@example.test", "--password-stdin")
	a.start()
	b := newNode(t, bin, "b", dsn, extra)
	b.start()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	// IMAP: two clients on each node.
	var aps []*appender
	for i := range 4 {
		own, other := a, b
		if i%2 == 1 {
			own, other = b, a
		}
		ap := &appender{name: fmt.Sprintf("ap%d%s", i, own.name), addrs: []string{own.addr["imap"], other.addr["imap"]}}
		if own == b {
			ap.addrs = ap.addrs[:1] // B's clients never need another node
		}
		aps = append(aps, ap)
		wg.Go(func() { ap.run(ctx) })
	}
	// Submission: one message per recipient r<i>@remote.test, to A and B
	// in turn; a submission A cannot take any more goes to B.
	var subMu sync.Mutex
	subAcked, subUnknown := map[string]bool{}, map[string]bool{}
	var aDead atomic.Bool
	wg.Go(func() {
		for i := 0; i < 400 && ctx.Err() == nil; i++ {
			rcpt := fmt.Sprintf("r%d@remote.test", i)
			node := []*node{a, b}[i%2]
			if aDead.Load() {
				node = b
			}
			err := smtpSend(ctx, node.addr["submission"], "laptop.example", true, "ann@example.test", rcpt, fmt.Sprintf("q%d", i))
			subMu.Lock()
			if err == nil {
				subAcked[rcpt] = true
			} else {
				subUnknown[rcpt] = true
			}
			subMu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})

	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	// Kill A while it is sending: once it holds leases, after a second of
	// load at least.
	time.Sleep(time.Second)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := db.QueryRow(context.Background(), "SELECT count(*) FROM queue_recipients WHERE lease_owner LIKE 'a.example.test%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node A claimed no queued recipient in 20 s")
		}
	}
	a.kill()
	aDead.Store(true)
	killed := time.Now()
	// What A held at its death: the recipients it may have handed to the
	// remote server without recording it.
	inDoubt := map[string]bool{}
	rows, _ := db.Query(context.Background(), "SELECT address FROM queue_recipients WHERE lease_owner LIKE 'a.example.test%'")
	addrs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range addrs {
		inDoubt[strings.ToLower(r)] = true
	}
	t.Logf("node A killed holding leases on %d recipients", len(inDoubt))

	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()

	// The queue drains: B takes A's recipients over once their leases
	// expire, and sends what was submitted to either node.
	var left int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := db.QueryRow(context.Background(), "SELECT count(*) FROM queue_recipients").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d recipients still queued 60 s after node A died", left)
		}
	}
	drained := time.Since(killed)
	time.Sleep(500 * time.Millisecond) // a duplicate would come now

	sinkMu.Lock()
	defer sinkMu.Unlock()
	subMu.Lock()
	defer subMu.Unlock()
	t.Logf("queue: %d submissions acknowledged, %d without a reply; queue drained %v after the kill (lease %v)",
		len(subAcked), len(subUnknown), drained.Round(time.Millisecond), leaseTime)
	if len(inDoubt) == 0 {
		t.Error("node A held no leases when it died: the test did not kill it mid-delivery")
	}
	for r := range subAcked {
		if arrivals[r] == 0 {
			t.Errorf("%s: submission got 250, never reached the remote server", r)
		}
	}
	var dups []string
	for r, n := range arrivals {
		switch {
		case !subAcked[r] && !subUnknown[r]:
			t.Errorf("%s reached the remote server but was never submitted", r)
		case n > 1 && !inDoubt[r]:
			t.Errorf("%s reached the remote server %d times and was not in A's hands when it died", r, n)
		case n > 2:
			t.Errorf("%s reached the remote server %d times", r, n)
		case n == 2:
			dups = append(dups, r)
		}
	}
	sort.Strings(dups)
	t.Logf("sent twice (in A's hands at its death; allowed): %v", dups)
	if drained > leaseTime+20*time.Second {
		t.Errorf("B took %v to take over and send A's queue (lease %v)", drained, leaseTime)
	}

	// IMAP: every acknowledged APPEND is in the mailbox once, read on
	// the survivor; A's clients went on on B.
	got := subjects(t, b.addr["imap"])
	moved := 0
	for _, ap := range aps {
		if ap.err != nil {
			t.Error(ap.err)
		}
		moved += ap.moved
		for s := range ap.acked {
			if got[s] != 1 {
				t.Errorf("APPEND %s got OK but is in the mailbox %d times", s, got[s])
			}
		}
		for s := range ap.unknown {
			if got[s] > 1 {
				t.Errorf("APPEND %s (no reply) is in the mailbox %d times", s, got[s])
			}
		}
	}
	if moved == 0 {
		t.Error("no client of node A went on on node B")
	}
	total := 0
	for _, ap := range aps {
		total += len(ap.acked)
	}
	t.Logf("IMAP: %d APPENDs acknowledged, %d after A's clients moved to B", total, moved)
	select {
	case <-b.exited:
		t.Error("node B exited")
	default:
	}
}
