package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mailroom/internal/testrig/logbuf"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"mailroom/internal/auth"
	"mailroom/internal/delivery"
	"mailroom/internal/dkim"
	"mailroom/internal/mailtest"
	"mailroom/internal/panics"
	"mailroom/internal/remote"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

// rig is a store with a local domain (example.test, account ann), a queue
// delivering through the real SMTP client to sinks on loopback found via a
// fake DNS server, and the delivery agent that submission uses.
type rig struct {
	t     testing.TB
	st    store.Store
	q     *Queue
	agent *delivery.Agent
	dns   *mailtest.DNS
	port  int
	ann   store.Account
	keys  *dkim.Keys
}

type rigOptions struct {
	intervals    []time.Duration
	maxAge       time.Duration
	delayWarning time.Duration
	concurrency  int
	quiet        bool // no logs (benchmarks)
	manual       bool // the test calls start
	// wrap, if set, wraps the real transport (to make it misbehave).
	wrap func(Transport) Transport
	// panics counts contained panics; logs also receives the log in JSON.
	panics *panics.Counter
	logs   io.Writer
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword("x", auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ann, err := st.CreateAccount(ctx, "ann@example.test", cred)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := dkim.Generate(ctx, st, "example.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st, dns: mailtest.NewDNS(t), ann: ann, keys: keys}
	// Every MX host listens on the same port, on its own loopback address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if o.intervals == nil {
		o.intervals = []time.Duration{50 * time.Millisecond}
	}
	if o.maxAge == 0 {
		o.maxAge = time.Hour
	}
	if o.concurrency == 0 {
		o.concurrency = 4
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.logs != nil {
		logger = slog.New(slog.NewJSONHandler(io.MultiWriter(testWriter{t}, o.logs), nil))
	}
	var transport Transport = remote.New(remote.Config{
		Hostname: "mail.example.test", DNSServers: []string{r.dns.Addr}, Port: r.port,
		Timeouts: remote.Timeouts{Connect: 2 * time.Second, Greeting: 5 * time.Second, Mail: 5 * time.Second,
			Rcpt: 5 * time.Second, Data: 5 * time.Second, DataBlock: 5 * time.Second, DataEnd: 5 * time.Second, DNS: time.Second},
	})
	if o.wrap != nil {
		transport = o.wrap(transport)
	}
	r.q = New(Options{
		Store:          st,
		Transport:      transport,
		Panics:         o.panics,
		Signer:         NewKeySigner(st),
		Hostname:       "mail.example.test",
		RetryIntervals: o.intervals,
		MaxAge:         o.maxAge,
		DelayWarning:   o.delayWarning,
		Concurrency:    o.concurrency,
		Logger:         logger,
	})
	r.agent = delivery.New(st, delivery.Config{Outbound: r.q})
	r.q.SetReturner(r.agent)
	if !o.manual {
		r.start()
	}
	return r
}

// start runs the queue until the test ends.
func (r *rig) start() {
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.q.Run(runCtx) }()
	r.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			r.t.Errorf("Run: %v", err)
		}
	})
}

// testWriter sends log lines to the test's log, shown when it fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// mx starts a sink for domain on its own loopback address and publishes
// it as the domain's MX.
func (r *rig) mx(domain, ip string, opts ...mailtest.SinkOption) *mailtest.Sink {
	r.t.Helper()
	s := mailtest.NewSink(r.t, net.JoinHostPort(ip, strconv.Itoa(r.port)), opts...)
	r.dns.Add(r.t, domain+". MX 10 mx."+domain+".", "mx."+domain+". A "+ip)
	return s
}

const body = "From: Ann <ann@example.test>\r\nTo: bob@remote.test\r\nSubject: hello\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello Bob.\r\n"

// send submits a message from "from" as an authenticated user would.
func (r *rig) send(from string, notify []string, rcpts ...string) {
	r.t.Helper()
	ctx := context.Background()
	m, err := r.st.Stage(ctx, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	env := delivery.Envelope{From: from}
	for _, rc := range rcpts {
		res, err := r.agent.Resolve(ctx, rc, true)
		if err != nil {
			r.t.Fatal(err)
		}
		env.Recipients = append(env.Recipients, delivery.Recipient{Address: rc, DSNNotify: notify, Resolved: res})
	}
	if err := r.agent.Deliver(ctx, m, env); err != nil {
		r.t.Fatal(err)
	}
}

// inbox returns the bodies in ann's INBOX.
func (r *rig) inbox() []string {
	r.t.Helper()
	ctx := context.Background()
	mb, err := r.st.Mailbox(ctx, r.ann.ID, "INBOX")
	if err != nil {
		r.t.Fatal(err)
	}
	list, err := r.st.MessageList(ctx, mb.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		b, err := r.st.OpenBody(ctx, mb.ID, m.UID)
		if err != nil {
			r.t.Fatal(err)
		}
		data, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		out = append(out, string(data))
	}
	return out
}

func (r *rig) waitInbox(n int) []string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.inbox()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("ann's INBOX has %d messages, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) waitEmpty() {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := r.st.QueuedMessages(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		if len(list) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("queue never emptied: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeliversSignedOncePerDomain(t *testing.T) {
	r := newRig(t, rigOptions{})
	remoteMX := r.mx("remote.test", "127.0.0.2")
	otherMX := r.mx("other.test", "127.0.0.3")
	r.send("ann@example.test", nil, "bob@remote.test", "carol@remote.test", "dan@other.test")
	got := remoteMX.WaitFor(t, 1, 10*time.Second)
	otherMX.WaitFor(t, 1, 10*time.Second)
	r.waitEmpty()
	if len(got) != 1 || len(got[0].Recipients) != 2 || got[0].From != "ann@example.test" {
		t.Fatalf("remote.test received %s; want one transaction for both recipients", remoteMX)
	}
	// Both DKIM signatures verify against the published keys.
	lookup := func(domain string) ([]string, error) {
		for _, rec := range r.keys.Records() {
			if rec.Name == domain {
				return []string{rec.Value}, nil
			}
		}
		return nil, &net.DNSError{Err: "no such host", Name: domain, IsNotFound: true}
	}
	verifs, err := msgdkim.VerifyWithOptions(bytes.NewReader(got[0].Data), &msgdkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if len(verifs) != 2 {
		t.Fatalf("%d DKIM signatures, want 2 (Ed25519 and RSA)", len(verifs))
	}
	for _, v := range verifs {
		if v.Err != nil || v.Domain != "example.test" {
			t.Fatalf("DKIM verification: domain %q, %v", v.Domain, v.Err)
		}
	}
	if !strings.HasSuffix(string(got[0].Data), body) {
		t.Fatalf("body changed in transit:\n%s", got[0].Data)
	}
	time.Sleep(200 * time.Millisecond)
	if n := remoteMX.Count("bob@remote.test"); n != 1 {
		t.Fatalf("bob received %d copies", n)
	}
}

func TestTemporaryFailureThenSuccess(t *testing.T) {
	r := newRig(t, rigOptions{})
	mx := r.mx("remote.test", "127.0.0.2")
	var tries atomic.Int32
	mx.OnRcpt = func(string) *mailtest.Reply {
		if tries.Add(1) <= 2 {
			return &mailtest.Reply{Code: 451, Enhanced: [3]int{4, 3, 0}, Text: "greylisted, come back later"}
		}
		return nil
	}
	r.send("ann@example.test", nil, "bob@remote.test")
	mx.WaitFor(t, 1, 10*time.Second)
	r.waitEmpty()
	if n := tries.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if got := r.inbox(); len(got) != 0 {
		t.Fatalf("a temporary failure bounced: %q", got)
	}
}

func TestPermanentFailureBouncesToSender(t *testing.T) {
	r := newRig(t, rigOptions{})
	mx := r.mx("remote.test", "127.0.0.2")
	mx.OnRcpt = func(to string) *mailtest.Reply {
		if strings.HasPrefix(to, "nobody@") {
			return &mailtest.Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Text: "no such user here"}
		}
		return nil
	}
	r.send("ann@example.test", nil, "nobody@remote.test", "bob@remote.test")
	mx.WaitFor(t, 1, 10*time.Second)
	bounce := r.waitInbox(1)[0]
	r.waitEmpty()
	for _, want := range []string{"multipart/report", "report-type=delivery-status", "Final-Recipient: rfc822; nobody@remote.test",
		"Action: failed", "Status: 5.1.1", "no such user here", "Subject: hello", "Return-Path: <>"} {
		if !strings.Contains(bounce, want) {
			t.Errorf("bounce lacks %q:\n%s", want, bounce)
		}
	}
	if strings.Contains(bounce, "Final-Recipient: rfc822; bob@remote.test") {
		t.Error("the bounce reports the recipient that was delivered")
	}
	if n := mx.Count("bob@remote.test"); n != 1 {
		t.Fatalf("bob received %d copies", n)
	}
}

func TestExpiryWarnsThenBounces(t *testing.T) {
	r := newRig(t, rigOptions{intervals: []time.Duration{100 * time.Millisecond}, maxAge: 1500 * time.Millisecond, delayWarning: 300 * time.Millisecond})
	mx := r.mx("remote.test", "127.0.0.2")
	mx.OnRcpt = func(string) *mailtest.Reply {
		return &mailtest.Reply{Code: 421, Enhanced: [3]int{4, 7, 0}, Text: "too busy"}
	}
	r.send("ann@example.test", nil, "bob@remote.test")
	got := r.waitInbox(2)
	r.waitEmpty()
	if len(got) != 2 {
		t.Fatalf("%d notifications, want a delay warning and a bounce", len(got))
	}
	warning, bounce := got[0], got[1]
	if !strings.Contains(warning, "Action: delayed") || !strings.Contains(warning, "Will-Retry-Until:") {
		t.Errorf("delay warning:\n%s", warning)
	}
	if !strings.Contains(bounce, "Action: failed") || !strings.Contains(bounce, "too busy") {
		t.Errorf("expiry bounce:\n%s", bounce)
	}
}

func TestNoBounceForBouncesOrNotifyNever(t *testing.T) {
	r := newRig(t, rigOptions{})
	mx := r.mx("remote.test", "127.0.0.2")
	mx.OnRcpt = func(string) *mailtest.Reply { return &mailtest.Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Text: "no"} }
	r.send("", nil, "bob@remote.test")                               // a bounce itself
	r.send("ann@example.test", []string{"NEVER"}, "bob@remote.test") // opted out
	r.waitEmpty()
	time.Sleep(200 * time.Millisecond)
	if got := r.inbox(); len(got) != 0 {
		t.Fatalf("notifications sent: %q", got)
	}
}

func TestBounceToRemoteSenderIsQueued(t *testing.T) {
	r := newRig(t, rigOptions{})
	bad := r.mx("remote.test", "127.0.0.2")
	bad.OnRcpt = func(string) *mailtest.Reply { return &mailtest.Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Text: "no"} }
	home := r.mx("sender.test", "127.0.0.3")
	r.send("someone@sender.test", nil, "bob@remote.test") // e.g. mail forwarded by an alias
	got := home.WaitFor(t, 1, 10*time.Second)
	r.waitEmpty()
	if got[0].From != "" || got[0].Recipients[0] != "someone@sender.test" || !bytes.Contains(got[0].Data, []byte("Action: failed")) {
		t.Fatalf("bounce to the remote sender: from <%s> to %v\n%s", got[0].From, got[0].Recipients, got[0].Data)
	}
}

func TestDropBounces(t *testing.T) {
	r := newRig(t, rigOptions{intervals: []time.Duration{time.Hour}})
	mx := r.mx("remote.test", "127.0.0.2")
	mx.OnRcpt = func(string) *mailtest.Reply {
		return &mailtest.Reply{Code: 451, Enhanced: [3]int{4, 3, 0}, Text: "later"}
	}
	r.send("ann@example.test", nil, "bob@remote.test")
	ctx := context.Background()
	var id int64
	deadline := time.Now().Add(10 * time.Second)
	for id == 0 {
		list, _ := r.st.QueuedMessages(ctx)
		if len(list) == 1 && list[0].Recipients[0].Attempts == 1 {
			id = list[0].ID
		} else if time.Now().After(deadline) {
			t.Fatalf("no attempt recorded: %+v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := r.q.Drop(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	bounce := r.waitInbox(1)[0]
	if !strings.Contains(bounce, "removed this message from the queue") || !strings.Contains(bounce, "451") {
		t.Fatalf("drop bounce:\n%s", bounce)
	}
}

// TestNotifySuccess: NOTIFY=SUCCESS goes on to a server that takes DSN
// parameters (it reports delivery itself); a server without DSN makes us
// send the "relayed" notice (RFC 3461 5.2.2).
func TestNotifySuccess(t *testing.T) {
	r := newRig(t, rigOptions{})
	withDSN := r.mx("remote.test", "127.0.0.2")
	withoutDSN := r.mx("old.test", "127.0.0.3", mailtest.WithoutDSN())
	r.send("ann@example.test", []string{"SUCCESS", "FAILURE"}, "bob@remote.test")
	withDSN.WaitFor(t, 1, 10*time.Second)
	r.waitEmpty()
	time.Sleep(200 * time.Millisecond)
	if got := r.inbox(); len(got) != 0 {
		t.Fatalf("a notice was sent although the next hop takes DSN: %q", got)
	}
	r.send("ann@example.test", []string{"SUCCESS"}, "carol@old.test")
	withoutDSN.WaitFor(t, 1, 10*time.Second)
	notice := r.waitInbox(1)[0]
	for _, want := range []string{"Action: relayed", "Final-Recipient: rfc822; carol@old.test", "Status: 2."} {
		if !strings.Contains(notice, want) {
			t.Errorf("relayed notice lacks %q:\n%s", want, notice)
		}
	}
}

// TestDeliveredNotice: mail delivered into a local mailbox for a sender who
// asked NOTIFY=SUCCESS gets a "delivered" report back, through the queue
// when the sender is elsewhere.
func TestDeliveredNotice(t *testing.T) {
	r := newRig(t, rigOptions{})
	home := r.mx("remote.test", "127.0.0.2")
	r.send("bob@remote.test", []string{"SUCCESS"}, "ann@example.test")
	got := home.WaitFor(t, 1, 10*time.Second)
	if got[0].From != "" || got[0].Recipients[0] != "bob@remote.test" ||
		!bytes.Contains(got[0].Data, []byte("Action: delivered")) || !bytes.Contains(got[0].Data, []byte("Final-Recipient: rfc822; ann@example.test")) {
		t.Fatalf("delivered report: from <%s> to %v\n%s", got[0].From, got[0].Recipients, got[0].Data)
	}
	if n := len(r.inbox()); n != 1 {
		t.Fatalf("ann has %d messages", n)
	}
}

// TestBounceIsStreamed: a bounce returning a large original whole
// (RET=FULL) is written into the store as it is generated, not built in
// memory first.
func TestBounceIsStreamed(t *testing.T) {
	r := newRig(t, rigOptions{quiet: true})
	mx := r.mx("remote.test", "127.0.0.2")
	mx.OnRcpt = func(string) *mailtest.Reply { return &mailtest.Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Text: "no"} }
	ctx := context.Background()
	const size = 9 << 20 // under the rig's 10 MiB MaxFullReturn
	big := body + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\r\n", size/64)
	m, err := r.st.Stage(ctx, strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.agent.Resolve(ctx, "bob@remote.test", true)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len(big))
	big = ""
	runtime.GC()
	// The peak of the live heap while the message is queued, refused and
	// bounced, sampled: holding the original whole would show as its size.
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop, peakc := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				peakc <- peak
				return
			case <-time.After(time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	env := delivery.Envelope{From: "ann@example.test", DSNRet: "FULL", Recipients: []delivery.Recipient{{Address: "bob@remote.test", Resolved: res}}}
	if err := r.agent.Deliver(ctx, m, env); err != nil {
		t.Fatal(err)
	}
	inbox, _ := r.st.Mailbox(ctx, r.ann.ID, "INBOX")
	deadline := time.Now().Add(20 * time.Second)
	var list []store.MessageMeta
	for len(list) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no bounce")
		}
		time.Sleep(20 * time.Millisecond)
		list, _ = r.st.MessageList(ctx, inbox.ID)
	}
	close(stop)
	peak := <-peakc
	if list[0].Size < want {
		t.Fatalf("the bounce is %d bytes: the original was not returned whole", list[0].Size)
	}
	// Streamed, the peak stays a few MiB (copy buffers, garbage between
	// collections); buffered, it is twice the message or more.
	if grew := int64(peak) - int64(base.HeapAlloc); grew > want {
		t.Fatalf("bouncing a %d MiB message grew the heap by %d MiB at its peak", want>>20, grew>>20)
	}
}

type transportFunc func(ctx context.Context, domain string, m remote.Message) []remote.Result

func (f transportFunc) Deliver(ctx context.Context, domain string, m remote.Message) []remote.Result {
	return f(ctx, domain, m)
}

// A panic while delivering one message ends that delivery only: it is
// logged with its stack and counted, the recipient is retried (and then
// delivered, once), nothing bounces, and the worker pool goes on: with one
// worker, a slot lost to the panic would leave later mail undelivered.
// Before workers recovered, the panic ended the test binary.
func TestPanicInDeliveryIsRetriedAndWorkersGoOn(t *testing.T) {
	var pc panics.Counter
	logs := &logbuf.Buffer{}
	var panicked atomic.Bool
	r := newRig(t, rigOptions{concurrency: 1, panics: &pc, logs: logs, wrap: func(real Transport) Transport {
		return transportFunc(func(ctx context.Context, domain string, m remote.Message) []remote.Result {
			if domain == "remote.test" && panicked.CompareAndSwap(false, true) {
				panic("test panic delivering to " + domain)
			}
			return real.Deliver(ctx, domain, m)
		})
	}})
	remoteMX := r.mx("remote.test", "127.0.0.2")
	otherMX := r.mx("other.test", "127.0.0.3")
	r.send("ann@example.test", nil, "bob@remote.test")
	remoteMX.WaitFor(t, 1, 10*time.Second)
	r.send("ann@example.test", nil, "dan@other.test")
	otherMX.WaitFor(t, 1, 10*time.Second)
	r.waitEmpty()
	if !panicked.Load() || pc.Count() != 1 {
		t.Fatalf("panicked %v, count %d; want one panic counted", panicked.Load(), pc.Count())
	}
	if n := remoteMX.Count("bob@remote.test"); n != 1 {
		t.Fatalf("bob received %d copies, want 1", n)
	}
	if got := r.inbox(); len(got) != 0 {
		t.Fatalf("a contained panic bounced: %q", got)
	}
	var rec map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var x map[string]any
		if json.Unmarshal([]byte(line), &x) == nil && x["msg"] == panics.Msg {
			rec = x
		}
	}
	if rec == nil || rec["level"] != "ERROR" || rec["in"] != "queue delivery" || rec["domain"] != "remote.test" {
		t.Fatalf("panic record %v", rec)
	}
	if stack, _ := rec["stack"].(string); !strings.Contains(stack, "queue_test.go") {
		t.Fatalf("logged stack lacks the panicking frames:\n%s", stack)
	}
}
