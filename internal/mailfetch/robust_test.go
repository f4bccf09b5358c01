package mailfetch_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/mailfetch"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// fakePOP3 is a remote POP3 server (implicit TLS) that misbehaves as a
// test asks: it is the other side, not our code. Its answers come from
// the fields, read under mu for each command.
type fakePOP3 struct {
	t    *testing.T
	ln   net.Listener
	pool *x509.CertPool

	mu       sync.Mutex
	greeting string
	msgs     []string        // message n is msgs[n-1], its unique id "uid-n"
	uidl     []string        // if set, the UIDL listing lines instead
	sizes    map[int]int     // if set, LIST's sizes instead of the real ones
	cutRETR  map[int]bool    // RETR n sends half the message and hangs up
	silent   bool            // read commands and never answer
	deleted  map[int]bool    // DELE'd in the current session
	removed  map[string]bool // deleted at a QUIT
	sessions int
}

func newFakePOP3(t *testing.T) *fakePOP3 {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	cfg := ts.TLS.Clone()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	ts.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePOP3{t: t, ln: ln, pool: pool, greeting: "+OK fake POP3 ready", removed: map[string]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakePOP3) set(fn func(f *fakePOP3)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakePOP3) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	f.mu.Lock()
	f.sessions++
	f.deleted = map[int]bool{}
	greeting := f.greeting
	f.mu.Unlock()
	w := bufio.NewWriter(c)
	say := func(s string) { w.WriteString(s); w.Flush() }
	say(greeting + "\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		f.mu.Lock()
		if f.silent {
			f.mu.Unlock()
			continue
		}
		var n int
		fmt.Sscan(arg, &n)
		live := func(i int) bool { return !f.removed[fmt.Sprint("uid-", i)] }
		switch strings.ToUpper(cmd) {
		case "CAPA":
			say("-ERR no CAPA here\r\n")
		case "USER", "PASS":
			say("+OK\r\n")
		case "UIDL":
			lines := f.uidl
			if lines == nil {
				for i := range f.msgs {
					if live(i + 1) {
						lines = append(lines, fmt.Sprintf("%d uid-%d", i+1, i+1))
					}
				}
			}
			say("+OK\r\n" + strings.Join(append(lines, "."), "\r\n") + "\r\n")
		case "LIST":
			var lines []string
			for i, m := range f.msgs {
				size := len(m)
				if s, ok := f.sizes[i+1]; ok {
					size = s
				}
				if live(i + 1) {
					lines = append(lines, fmt.Sprintf("%d %d", i+1, size))
				}
			}
			say("+OK\r\n" + strings.Join(append(lines, "."), "\r\n") + "\r\n")
		case "RETR":
			if n < 1 || n > len(f.msgs) {
				say("-ERR no such message\r\n")
				break
			}
			m := f.msgs[n-1]
			if f.cutRETR[n] {
				say("+OK\r\n" + m[:len(m)/2])
				f.mu.Unlock()
				return
			}
			say("+OK\r\n" + strings.ReplaceAll("\n"+m, "\n.", "\n..")[1:] + ".\r\n")
		case "DELE":
			f.deleted[n] = true
			say("+OK\r\n")
		case "QUIT":
			for d := range f.deleted {
				f.removed[fmt.Sprint("uid-", d)] = true
			}
			say("+OK bye\r\n")
			f.mu.Unlock()
			return
		default:
			say("-ERR unknown command\r\n")
		}
		f.mu.Unlock()
	}
}

// fakeEnv is a local Mailroom and a fetcher that trusts the fake server.
type fakeEnv struct {
	*env
	fake *fakePOP3
	src  store.FetchSource
}

func newFakeEnv(t *testing.T, timeout time.Duration, tweak func(*store.FetchSource)) *fakeEnv {
	fake := newFakePOP3(t)
	local := testrig.Start(t, testrig.Factories{}, testrig.Config(noSchedule))
	e := &env{t: t, local: local, ann: local.Account(localUser)}
	deps := local.Server.Deps()
	e.f = mailfetch.New(mailfetch.Config{Store: local.Store, Deliver: deps.Delivery, Mailboxes: deps.Mailboxes,
		RootCAs: fake.pool, Timeout: timeout, RunTimeout: time.Minute, MaxMessageSize: 1 << 20})
	src := store.FetchSource{AccountID: e.ann.ID, Protocol: store.FetchPOP3, Host: "127.0.0.1", Port: port(t, fake.ln.Addr().String()),
		Security: store.FetchTLS, Username: "someone", Password: "pw", Enabled: true}
	if tweak != nil {
		tweak(&src)
	}
	src, err := local.Store.AddFetchSource(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeEnv{env: e, fake: fake, src: src}
}

// TestRemoteDropsMidRETR: a connection lost in the middle of a message
// stores nothing of it; what came before is kept, and the next run
// collects the rest, with nothing twice — also when delete-after-fetch
// lost its QUIT.
func TestRemoteDropsMidRETR(t *testing.T) {
	e := newFakeEnv(t, 10*time.Second, func(s *store.FetchSource) { s.Delete = true })
	e.fake.set(func(f *fakePOP3) {
		f.msgs = []string{message(1), message(2), message(3)}
		f.cutRETR = map[int]bool{2: true}
	})
	n, err := e.run(e.src)
	if err == nil || !strings.Contains(err.Error(), "in the middle of a message") || n != 1 {
		t.Fatalf("dropped mid-RETR: %d collected, %v", n, err)
	}
	e.wantLocal("INBOX", 1)
	if st := e.status(e.src); !strings.Contains(st.LastError, "in the middle of a message") || st.Failures != 1 {
		t.Errorf("status %+v", st.FetchStatus)
	}
	e.fake.set(func(f *fakePOP3) { f.cutRETR = nil })
	e.mustRun(e.src, 2)
	e.wantLocal("INBOX", 1, 2, 3)
	e.fake.mu.Lock()
	removed := len(e.fake.removed)
	e.fake.mu.Unlock()
	if removed != 3 {
		t.Errorf("%d messages deleted on the remote, want 3", removed)
	}
	e.mustRun(e.src, 0)
}

// TestRemoteGarbage: a server that is not POP3, sends overlong or
// malformed listings, announces messages too large, or stops answering:
// each is a clear error in the status (or a skipped message, said so),
// never a crash or a hang.
func TestRemoteGarbage(t *testing.T) {
	e := newFakeEnv(t, 2*time.Second, nil)
	for _, tc := range []struct {
		name string
		set  func(f *fakePOP3)
		want string
	}{
		{"not POP3", func(f *fakePOP3) { f.greeting = "HTTP/1.1 400 Bad Request" }, "is this a POP3 server?"},
		{"overlong line", func(f *fakePOP3) {
			f.greeting = "+OK"
			f.msgs = []string{message(1)}
			f.uidl = []string{"1 " + strings.Repeat("u", 9000)}
		}, "longer than 8 KiB"},
		{"malformed listing", func(f *fakePOP3) { f.uidl = []string{"one uid-1"} }, "malformed listing line"},
		{"silent", func(f *fakePOP3) { f.uidl, f.silent = nil, true }, "did not answer in time"},
	} {
		e.fake.set(tc.set)
		start := time.Now()
		_, err := e.run(e.src)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if st := e.status(e.src); !strings.Contains(st.LastError, tc.want) {
			t.Errorf("%s: status error %q, want %q", tc.name, st.LastError, tc.want)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: took %v", tc.name, d)
		}
	}
	e.wantLocal("INBOX")

	// A message announced larger than the limit is left there, and the
	// status says so; the others arrive.
	e.fake.set(func(f *fakePOP3) {
		f.silent = false
		f.msgs = []string{message(1), message(2)}
		f.sizes = map[int]int{1: 2 << 20}
	})
	e.mustRun(e.src, 1)
	e.wantLocal("INBOX", 2)
	if st := e.status(e.src); !strings.Contains(st.LastError, "larger than this server accepts") {
		t.Errorf("status after a too-large message: %q", st.LastError)
	}
}
