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
	"github.com/emersion/go-imap/v2/imapclient"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/mailtest"
	"mailroom/internal/store/pgstore/pgtest"
)

// outcomes records what the SMTP senders were told, per subject.
type outcomes struct {
	mu       sync.Mutex
	acked    map[string]bool // 250
	temp     map[string]bool // 451 4.3.0
	unknown  map[string]bool // no reply (connection failed mid-transaction)
	bad      []string        // any other reply: 5xx, other 4xx
	ackedIn  [3]int          // 250s before, during, after the outage
	tempIn   [3]int          // 451 4.3.0 before, during, after
	phase    atomic.Int32    // 0 before the outage, 1 during, 2 after
	phaseOf  map[string]int32
	attempts atomic.Int64
}

func (o *outcomes) record(subject string, err error) {
	o.attempts.Add(1)
	ph := o.phase.Load()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.phaseOf[subject] = ph
	var se *gosmtp.SMTPError
	switch {
	case err == nil:
		o.acked[subject] = true
		o.ackedIn[ph]++
	case errors.As(err, &se) && se.Code == 451 && se.EnhancedCode == gosmtp.EnhancedCode{4, 3, 0}:
		o.temp[subject] = true
		o.tempIn[ph]++
	case errors.As(err, &se):
		o.bad = append(o.bad, fmt.Sprintf("%s (phase %d): %d %v %s", subject, ph, se.Code, se.EnhancedCode, se.Message))
	default:
		o.unknown[subject] = true
	}
}

// PostgreSQL stops for a few seconds while SMTP senders deliver to two
// nodes. Every message that got 250 is in the mailbox exactly once,
// nothing is there that was not accepted, the nodes answer 451 4.3.0
// (SMTP) and NO [UNAVAILABLE] (IMAP) while the database is away, and
// both recover without help: new sessions work, and an IDLE client on
// node A sees a delivery that node B accepts after the restart, which
// crosses only through A's LISTEN connection, reconnected.
//
// Two ways down: "fast" (pg_ctl's clean shutdown: sessions are told
// 57P01) and "immediate" (as a crash: connections cut mid-statement, WAL
// recovery at the start).
func TestPostgresRestartDuringSMTPLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: real processes, several seconds")
	}
	bin := buildMailroom(t)
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) { testPostgresRestart(t, bin, mode) })
	}
}

func testPostgresRestart(t *testing.T, bin, mode string) {
	cluster := pgtest.Start(t, pgtest.Durable())
	dsn := cluster.NewDatabase(t)
	dns := mailtest.NewDNS(t) // answers for nothing: no SPF/DKIM records to wait for
	extra := "[dns]\nservers = [\"" + dns.Addr + "\"]\n[smtp]\nmax_connections_per_ip = 1000\n"
	a := newNode(t, bin, "a", dsn, extra)
	a.admin("", "domain", "add", "example.test")
	a.admin(password+"\n", "user", "add", "ann@example.test", "--password-stdin")
	a.start()
	b := newNode(t, bin, "b", dsn, extra)
	b.start()

	// An IDLE session on A, through the whole outage.
	var exists atomic.Uint32
	idler, err := imapLogin(a.addr["imap"], &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists.Store(*d.NumMessages)
			}
		},
	}}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer idler.Close()
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	// A session logged in before the outage, to ask during it.
	probe, err := imapLogin(a.addr["imap"], nil, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()

	o := &outcomes{acked: map[string]bool{}, temp: map[string]bool{}, unknown: map[string]bool{}, phaseOf: map[string]int32{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 4 {
		addr := []*node{a, b}[i%2].addr["smtp"]
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				subject := fmt.Sprintf("s%d-%d", i, n)
				err := smtpSend(ctx, addr, "mx.remote.test", false, "bob@remote.test", "ann@example.test", subject)
				o.record(subject, err)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	time.Sleep(1500 * time.Millisecond)
	o.phase.Store(1)
	if err := cluster.Halt(mode); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(500 * time.Millisecond)
	// IMAP commands that need the store: NO [UNAVAILABLE], promptly, and
	// the session goes on.
	for _, cmd := range []struct {
		name string
		run  func() error
	}{
		{"SELECT", func() error { _, err := probe.Select("INBOX", nil).Wait(); return err }},
		{"STATUS", func() error {
			_, err := probe.Status("INBOX", &goimap.StatusOptions{NumMessages: true}).Wait()
			return err
		}},
		{"LOGIN", func() error {
			c, err := imapLogin(a.addr["imap"], nil, 20*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		}},
	} {
		began := time.Now()
		err := cmd.run()
		var ie *goimap.Error
		if !errors.As(err, &ie) || ie.Type != goimap.StatusResponseTypeNo || ie.Code != goimap.ResponseCodeUnavailable {
			t.Errorf("IMAP %s with the database down: %v, want NO [UNAVAILABLE]", cmd.name, err)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("IMAP %s with the database down took %v", cmd.name, d)
		}
	}
	// POP3: a login needs the store (credentials, the maildrop).
	if reply, err := pop3Login(a.addr["pop3"]); err != nil || !strings.HasPrefix(reply, "-ERR [SYS/TEMP]") {
		t.Errorf("POP3 login with the database down: %q, %v; want -ERR [SYS/TEMP]", reply, err)
	}
	time.Sleep(time.Until(down.Add(2500 * time.Millisecond)))
	if err := cluster.Resume(); err != nil {
		t.Fatal(err)
	}
	o.phase.Store(2)
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()

	if reply, err := pop3Login(a.addr["pop3"]); err != nil || !strings.HasPrefix(reply, "+OK") {
		t.Errorf("POP3 login after the database came back: %q, %v", reply, err)
	}
	// Recovery by itself: a new session on B delivers (within a few
	// seconds: the pool reconnects on demand), and A's IDLE client,
	// whose node learns of B's writes only through its LISTEN
	// connection, sees the message.
	var last error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if last = smtpSend(context.Background(), b.addr["smtp"], "mx.remote.test", false, "bob@remote.test", "ann@example.test", "after-restart"); last == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B does not accept mail 30 s after PostgreSQL came back: %v", last)
		}
	}
	got := subjects(t, b.addr["imap"])
	total := 0
	for _, n := range got {
		total += n
	}
	for deadline := time.Now().Add(10 * time.Second); exists.Load() != uint32(total); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			// Which messages does node A's view lack? (A fresh session on
			// A shares the IDLE session's mailbox state.)
			onA := subjects(t, a.addr["imap"])
			o.mu.Lock()
			for s := range got {
				if onA[s] == 0 {
					t.Logf("missing on node A: %s (250: %v, phase %d, 451: %v)", s, o.acked[s], o.phaseOf[s], o.temp[s])
				}
			}
			o.mu.Unlock()
			t.Fatalf("IDLE on node A shows %d messages, the mailbox holds %d: the change feed did not resume after the restart", exists.Load(), total)
		}
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE after the outage: %v", err)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	t.Logf("%d attempts; 250: %v before/during/after the outage; 451 4.3.0: %v; no reply: %d; mailbox: %d messages",
		o.attempts.Load(), o.ackedIn, o.tempIn, len(o.unknown), total)
	for s := range o.acked {
		if got[s] != 1 {
			t.Errorf("%s got 250 but is in the mailbox %d times", s, got[s])
		}
	}
	var extraMsgs []string
	for s, n := range got {
		if n > 1 {
			t.Errorf("%s is in the mailbox %d times", s, n)
		}
		if !o.acked[s] && !o.unknown[s] && s != "after-restart" {
			extraMsgs = append(extraMsgs, s)
		}
	}
	sort.Strings(extraMsgs)
	for _, s := range extraMsgs {
		// A 451 whose transaction did commit: the commit's reply was
		// lost with the connection (commit in doubt). The sender retries
		// and the message arrives twice; SMTP allows this.
		if o.temp[s] {
			t.Logf("%s got 451 but is in the mailbox: commit in doubt", s)
		} else {
			t.Errorf("%s is in the mailbox but was never sent", s)
		}
	}
	if len(o.bad) > 0 {
		t.Errorf("replies other than 250 and 451 4.3.0 (%d): %s", len(o.bad), strings.Join(o.bad[:min(len(o.bad), 10)], "; "))
	}
	if o.ackedIn[0] == 0 || o.ackedIn[2] == 0 {
		t.Errorf("250s before/during/after the outage: %v; want deliveries before and after", o.ackedIn)
	}
	if o.tempIn[1] == 0 {
		t.Errorf("no 451 4.3.0 while the database was away (250s during: %d)", o.ackedIn[1])
	}
	for _, n := range []*node{a, b} {
		select {
		case <-n.exited:
			t.Errorf("node %s exited", n.name)
		default:
		}
	}
}
