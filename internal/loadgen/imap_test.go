package loadgen

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/testrig"
)

func imapTestOptions(addr string) IMAPOptions {
	return IMAPOptions{Options: Options{
		Addr:     addr,
		TLS:      true,
		Insecure: true,
		Users:    "user%d@example.test",
		Password: testrig.Password,
		Clients:  3,
		Duration: 2 * time.Second,
		Timeout:  10 * time.Second,
	}}
}

func runIMAP(t *testing.T, o IMAPOptions) *Report {
	t.Helper()
	r, err := RunIMAP(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantIMAPClean checks a run had no errors and sent every command of the
// mix.
func wantIMAPClean(t *testing.T, r *Report, extra ...string) {
	t.Helper()
	if r.Errors != 0 || len(r.ErrorSamples) != 0 {
		t.Errorf("%d errors: %q", r.Errors, r.ErrorSamples)
	}
	names := append([]string{"CONNECT", "LOGIN", "SELECT", "LIST", "STATUS", "FETCH FLAGS", "FETCH ENVELOPE",
		"FETCH BODY", "STORE", "SEARCH", "APPEND", "FETCH APPENDED", "STORE DELETED", "EXPUNGE", "NOOP", "LOGOUT"}, extra...)
	for _, name := range names {
		if c := r.Commands[name]; c == nil || c.Count == 0 || c.Errors != 0 || c.P50 <= 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if r.Cycles == 0 || r.CyclesPerSec <= 0 || r.CommandsPerSec <= r.CyclesPerSec || r.Bytes <= 0 {
		t.Errorf("report %+v", r)
	}
}

func TestIMAPLoginLogout(t *testing.T) {
	rig := startIMAPRig(t, 3, 8)
	r := runIMAP(t, imapTestOptions(rig.tls))
	wantIMAPClean(t, r)
	// A session per cycle, with the mix's one SELECT first.
	for _, name := range []string{"CONNECT", "LOGIN", "SELECT", "LOGOUT", "APPEND", "NOOP", "SEARCH"} {
		if c := r.Commands[name]; c.Count != r.Cycles {
			t.Errorf("%s: %d for %d cycles", name, c.Count, r.Cycles)
		}
	}
	if c := r.Commands["STORE"]; c.Count != 2*r.Cycles {
		t.Errorf("STORE: %d for %d cycles", c.Count, r.Cycles)
	}
	if r.Protocol != "imap" || r.Clients != 3 {
		t.Errorf("report header %q %d", r.Protocol, r.Clients)
	}
	t.Logf("%.0f cycles/s, %.0f commands/s", r.CyclesPerSec, r.CommandsPerSec)
}

func TestIMAPPersistent(t *testing.T) {
	rig := startIMAPRig(t, 3, 8)
	o := imapTestOptions(rig.tls)
	o.Persistent = true
	r := runIMAP(t, o)
	wantIMAPClean(t, r)
	// One session per client, logged out at the end.
	for _, name := range []string{"CONNECT", "LOGIN", "LOGOUT"} {
		if c := r.Commands[name]; c.Count != 3 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if c := r.Commands["APPEND"]; c.Count != r.Cycles {
		t.Errorf("APPEND: %d for %d cycles", c.Count, r.Cycles)
	}
	t.Logf("%.0f cycles/s, %.0f commands/s", r.CyclesPerSec, r.CommandsPerSec)
}

func TestIMAPIdle(t *testing.T) {
	rig := startIMAPRig(t, 10, 2)
	o := imapTestOptions(rig.tls)
	o.Clients, o.UserCount, o.Duration = 50, 10, time.Second
	ready := -1
	o.IdleReady = func(n int) { ready = n }
	start := time.Now()
	r, err := RunIMAPIdle(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("held for %v", d)
	}
	if ready != 50 || r.Cycles != 50 || r.Errors != 0 {
		t.Errorf("ready %d, %d established, %d errors %q", ready, r.Cycles, r.Errors, r.ErrorSamples)
	}
	for _, name := range []string{"CONNECT", "LOGIN", "SELECT", "IDLE", "DONE", "LOGOUT"} {
		if c := r.Commands[name]; c == nil || c.Count != 50 || c.Errors != 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

func TestIMAPOptions(t *testing.T) {
	base := imapTestOptions("127.0.0.1:1")
	for _, mod := range []func(*IMAPOptions){
		func(o *IMAPOptions) { o.TLS = false }, // password in the clear
		func(o *IMAPOptions) { o.Mix = map[string]int{"copy": 1} },
		func(o *IMAPOptions) { o.Mix = map[string]int{IMAPNoop: -1} },
		func(o *IMAPOptions) {
			o.Mix = DefaultIMAPMix()
			for op := range o.Mix {
				o.Mix[op] = 0
			}
		},
		func(o *IMAPOptions) { o.Mailbox = "a\r\nb" },
		func(o *IMAPOptions) { o.LocalAddrs = []string{"localhost"} },
		func(o *IMAPOptions) { o.Users = "user" },
	} {
		o := base
		mod(&o)
		if _, err := RunIMAP(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := RunIMAPIdle(t.Context(), IMAPOptions{Options: Options{Addr: "x:1", TLS: true, Users: "u%d", Cycles: 1}}); err == nil ||
		!strings.Contains(err.Error(), "Duration") {
		t.Errorf("idle without Duration: %v", err)
	}
}

// Literals longer than the read buffer, in both directions.
func TestIMAPBigAppend(t *testing.T) {
	rig := startIMAPRig(t, 1, 3)
	o := imapTestOptions(rig.tls)
	o.Clients, o.Duration, o.Cycles, o.AppendSize = 1, 0, 5, 3*readBufSize+1
	o.Mix = map[string]int{IMAPAppend: 2, IMAPFetchBody: 5, IMAPExpunge: 1}
	r := runIMAP(t, o)
	if r.Errors != 0 || r.Cycles != 5 || r.Commands["FETCH APPENDED"].Count != 10 || r.Commands["EXPUNGE"].Count == 0 {
		t.Errorf("%d cycles, %d errors %q, commands %v", r.Cycles, r.Errors, r.ErrorSamples, r.Commands)
	}
	if r.Bytes < 2*10*int64(o.AppendSize) {
		t.Errorf("%d bytes on the wire", r.Bytes)
	}
}

func TestIMAPStartTLS(t *testing.T) {
	rig := startIMAPRig(t, 2, 3)
	o := imapTestOptions(rig.plain)
	o.TLS, o.StartTLS, o.Clients, o.Duration, o.Cycles = false, true, 2, 0, 6
	r := runIMAP(t, o)
	if r.Errors != 0 || r.Cycles != 6 || r.Commands["STARTTLS"].Count != 6 {
		t.Errorf("%d cycles, %d errors %q, STARTTLS %+v", r.Cycles, r.Errors, r.ErrorSamples, r.Commands["STARTTLS"])
	}

	// Without Insecure the self-signed certificate must be refused,
	// before LOGIN.
	o.Insecure = false
	r = runIMAP(t, o)
	if r.Cycles != 0 || r.Errors != 6 || r.Commands["LOGIN"] != nil || !strings.Contains(strings.Join(r.ErrorSamples, "\n"), "certificate") {
		t.Errorf("unverified: %d cycles, %d errors %q", r.Cycles, r.Errors, r.ErrorSamples)
	}
}

func TestIMAPBadPassword(t *testing.T) {
	rig := startIMAPRig(t, 2, 1)
	o := imapTestOptions(rig.tls)
	o.Password, o.Clients, o.Duration, o.Cycles = "wrong", 2, 0, 4
	r := runIMAP(t, o)
	wantCounts(t, r, map[string]int{"CONNECT": 4, "LOGIN": 4, "LOGOUT": 4})
	if r.Commands["LOGIN"].Errors != 4 || r.Errors != 4 || r.Cycles != 0 {
		t.Errorf("%+v %q", r.Commands["LOGIN"], r.ErrorSamples)
	}
}

// Clients sharing users: the counts are not checked, the rest is.
func TestIMAPSharedUsers(t *testing.T) {
	rig := startIMAPRig(t, 1, 5)
	o := imapTestOptions(rig.tls)
	o.UserCount, o.Duration = 1, time.Second
	r := runIMAP(t, o)
	if r.Errors != 0 || r.Cycles == 0 {
		t.Errorf("%d cycles, %d errors %q", r.Cycles, r.Errors, r.ErrorSamples)
	}
}

// imapProxy stands between the load and a server, terminating TLS on both
// sides, and passes the server's responses through edit line by line
// (literal contents included).
func imapProxy(t *testing.T, server string, edit func(line []byte) []byte) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", testTLSConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := tls.Dial("tcp", server, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				c.Close()
				continue
			}
			wg.Go(func() {
				io.Copy(s, c)
				s.Close()
			})
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(s)
				for {
					line, err := r.ReadBytes('\n')
					if _, werr := c.Write(edit(line)); err != nil || werr != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// A server that changes a message or loses count must show as errors.
func TestIMAPCatchesWrongServers(t *testing.T) {
	rig := startIMAPRig(t, 3, 3)
	tests := []struct {
		name   string
		edit   func(line []byte) []byte
		mix    map[string]int
		cmd    string // whose errors
		errors int    // of cmd, over 8 cycles
		sample string
	}{
		{
			name: "body changed",
			edit: func(line []byte) []byte {
				return bytes.Replace(line, []byte("Subject: loadgen "), []byte("Subject: LOADGEN "), 1)
			},
			mix: map[string]int{IMAPAppend: 1}, cmd: "FETCH APPENDED", errors: 8,
			sample: "fetched message differs from the appended one at octet 84", // "Subject: l"
		},
		{
			name: "EXPUNGE responses lost",
			edit: func(line []byte) []byte {
				if bytes.HasSuffix(line, []byte(" EXPUNGE\r\n")) {
					return nil
				}
				return line
			},
			mix: map[string]int{IMAPAppend: 1, IMAPExpunge: 1}, cmd: "EXPUNGE", errors: -1, // every one
			sample: "messages: 0 EXPUNGE responses",
		},
		{
			name: "EXISTS off by one",
			edit: func(line []byte) []byte {
				return bytes.Replace(line, []byte("* 3 EXISTS"), []byte("* 4 EXISTS"), 1)
			},
			mix: map[string]int{IMAPStatus: 1}, cmd: "STATUS", errors: 8,
			sample: "STATUS says 3 messages, the client was told 4",
		},
	}
	for i, tt := range tests {
		o := imapTestOptions(imapProxy(t, rig.tls, tt.edit))
		o.Clients, o.Duration, o.Cycles, o.Persistent = 1, 0, 8, true
		o.UserFirst, o.Timeout = i+1, 300*time.Millisecond // each its own mailbox
		o.Mix = DefaultIMAPMix()
		for op := range o.Mix {
			o.Mix[op] = tt.mix[op]
		}
		r := runIMAP(t, o)
		if c := r.Commands[tt.cmd]; c == nil || c.Errors != tt.errors && (tt.errors >= 0 || c.Errors != c.Count || c.Count == 0) {
			t.Errorf("%s: %s %+v, want %d errors", tt.name, tt.cmd, c, tt.errors)
		}
		if !strings.Contains(strings.Join(r.ErrorSamples, "\n"), tt.sample) {
			t.Errorf("%s: samples %q, want %q", tt.name, r.ErrorSamples, tt.sample)
		}
	}
}

func TestParseFetch(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want fetchData
		ok   bool
		bad  bool
	}{
		{in: "12 FETCH (UID 34 FLAGS (\\Seen \\Flagged))", ok: true,
			want: fetchData{seq: 12, uid: 34, flags: []byte("(\\Seen \\Flagged)"), size: -1, body: -1}},
		{in: "1 FETCH (RFC822.SIZE 120 BODY[] {120} UID 7)", ok: true,
			want: fetchData{seq: 1, uid: 7, size: 120, body: 120}},
		{in: `2 FETCH (ENVELOPE ("date" "a (b" {5} NIL NIL NIL NIL NIL NIL "<x\"y>") BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 5 1) UID 9)`, ok: true,
			want: fetchData{seq: 2, uid: 9, size: -1, body: -1, envelope: true, bodystructure: true}},
		{in: `3 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {20} BODY[] "a\"b" UID 1)`, ok: true,
			want: fetchData{seq: 3, uid: 1, size: -1, body: 3}},
		{in: "3 EXISTS"},
		{in: "OK [UIDVALIDITY 3]"},
		{in: "4 FETCH (UID 1", ok: true, bad: true},
		{in: "4 FETCH (UID x)", ok: true, bad: true},
		{in: `4 FETCH (FLAGS "x)`, ok: true, bad: true},
		{in: "4 FETCH (UID 1) junk", ok: true, bad: true},
	} {
		got, ok, err := parseFetch([]byte(tt.in))
		if ok != tt.ok || (err != nil) != tt.bad {
			t.Errorf("%s: ok %v, err %v", tt.in, ok, err)
			continue
		}
		if ok && !tt.bad && (got.seq != tt.want.seq || got.uid != tt.want.uid || string(got.flags) != string(tt.want.flags) ||
			got.size != tt.want.size || got.body != tt.want.body || got.envelope != tt.want.envelope || got.bodystructure != tt.want.bodystructure) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestIMAPResponseBits(t *testing.T) {
	for in, want := range map[string]int64{"* 1 FETCH (BODY[] {12}": 12, "A1 APPEND x {0+}": 0, "x {12a}": -1, "x {}": -1, "x { 1}": -1, "text}": -1} {
		n, ok := literalAtEnd([]byte(in))
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("literalAtEnd(%q) = %d, want %d", in, n, want)
		}
	}
	for in, want := range map[string]string{`(\HasNoChildren) "/" "INBOX"`: "INBOX", `() "." Sent`: "Sent", `() NIL "a \"b\""`: `a \"b\"`, `() "/" {5}`: "{5}", `()`: "!"} {
		name, ok := listName([]byte(in))
		if !ok {
			name = []byte("!")
		}
		if string(name) != want {
			t.Errorf("listName(%q) = %q, want %q", in, name, want)
		}
	}
	if n, ok := respCode([]byte("OK [UIDVALIDITY 42] ok"), "UIDVALIDITY"); !ok || n != 42 {
		t.Errorf("respCode: %d %v", n, ok)
	}
	if !hasFlag([]byte(`(\Seen \flagged)`), `\Flagged`) || hasFlag([]byte(`(\Seen)`), `\Flagged`) {
		t.Error("hasFlag")
	}
}

// makeMessage writes exactly AppendSize octets of CRLF-terminated lines.
func TestIMAPMessageSize(t *testing.T) {
	for _, size := range []int{0, 1, 300, 301, 302, 1000, 10240, 100001} {
		p := newIMAPClient(&IMAPOptions{AppendSize: size}, true)
		p.makeMessage()
		m := p.msg
		if size > 300 && len(m) != size {
			t.Errorf("size %d: got %d", size, len(m))
		}
		if !bytes.HasSuffix(m, []byte("\r\n")) || bytes.Count(m, []byte("\n")) != bytes.Count(m, []byte("\r\n")) ||
			bytes.Count(m, []byte("\r")) != bytes.Count(m, []byte("\r\n")) {
			t.Errorf("size %d: bad line ends", size)
		}
		for l := range bytes.SplitSeq(m, []byte("\r\n")) {
			if len(l) > 998 {
				t.Errorf("size %d: line of %d", size, len(l))
			}
		}
	}
}

// TestIMAPEnvelopes: fetch-envelope asks for as many of the newest
// messages as Envelopes says (all 8 here, of 50 asked), and checks it got
// each of them.
func TestIMAPEnvelopes(t *testing.T) {
	rig := startIMAPRig(t, 1, 8)
	o := imapTestOptions(rig.tls)
	o.Clients, o.Duration, o.Cycles, o.Persistent, o.Envelopes = 1, 0, 3, true, 50
	o.Mix = map[string]int{IMAPSelect: 0, IMAPList: 0, IMAPStatus: 0, IMAPFetchFlags: 0, IMAPFetchEnvelope: 1,
		IMAPFetchBody: 0, IMAPStore: 1, IMAPSearch: 0, IMAPAppend: 0, IMAPExpunge: 0, IMAPNoop: 1}
	r := runIMAP(t, o)
	if r.Errors != 0 || r.Cycles != 3 || r.Commands["FETCH ENVELOPE"].Count != 3 {
		t.Fatalf("report %+v %q", r, r.ErrorSamples)
	}
}
