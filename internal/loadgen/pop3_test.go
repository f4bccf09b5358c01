package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"
)

func testOptions(addr string) POP3Options {
	return POP3Options{Options: Options{
		Addr:     addr,
		Users:    "user%d",
		Password: "secret",
		Clients:  4,
		Cycles:   20,
		Timeout:  5 * time.Second,
	}}
}

func runPOP3(t *testing.T, o POP3Options) *Report {
	t.Helper()
	r, err := RunPOP3(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantCounts checks the count of every command, and that no other command
// was recorded.
func wantCounts(t *testing.T, r *Report, want map[string]int) {
	t.Helper()
	for name, n := range want {
		if c := r.Commands[name]; c == nil || c.Count != n {
			t.Errorf("%s: got %+v, want count %d", name, c, n)
		}
	}
	for name := range r.Commands {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected command %s: %+v", name, r.Commands[name])
		}
	}
}

func wantClean(t *testing.T, r *Report, cycles int) {
	t.Helper()
	if r.Errors != 0 || len(r.ErrorSamples) != 0 {
		t.Errorf("errors: %d %q", r.Errors, r.ErrorSamples)
	}
	if r.Cycles != cycles {
		t.Errorf("cycles: got %d, want %d", r.Cycles, cycles)
	}
	for name, c := range r.Commands {
		if c.P50 <= 0 || c.P99 < c.P50 || c.Max < c.P99 {
			t.Errorf("%s: implausible latencies %+v", name, c)
		}
	}
	if r.Bytes <= 0 || r.CyclesPerSec <= 0 {
		t.Errorf("bytes %d, cycles/s %v", r.Bytes, r.CyclesPerSec)
	}
}

func TestPOP3RetrieveAll(t *testing.T) {
	s := startPOP3Server(t)
	r := runPOP3(t, testOptions(s.addr()))
	wantClean(t, r, 20)
	n := len(testMaildrop)
	wantCounts(t, r, map[string]int{"CONNECT": 20, "USER": 20, "PASS": 20, "STAT": 20,
		"LIST": 20, "UIDL": 20, "RETR": 20 * n, "QUIT": 20})
	var octets int
	for _, m := range testMaildrop {
		octets += len(m)
	}
	if r.Bytes < int64(20*octets) {
		t.Errorf("bytes %d, less than the %d octets retrieved", r.Bytes, 20*octets)
	}
	if r.Protocol != "pop3" || r.Clients != 4 {
		t.Errorf("report header %q %d", r.Protocol, r.Clients)
	}
}

func TestPOP3TopAndNone(t *testing.T) {
	s := startPOP3Server(t)
	o := testOptions(s.addr())
	o.Retrieve = RetrieveTop
	r := runPOP3(t, o)
	wantClean(t, r, 20)
	wantCounts(t, r, map[string]int{"CONNECT": 20, "USER": 20, "PASS": 20, "STAT": 20,
		"LIST": 20, "UIDL": 20, "TOP": 20 * len(testMaildrop), "QUIT": 20})

	o.Retrieve = RetrieveNone
	r = runPOP3(t, o)
	wantClean(t, r, 20)
	wantCounts(t, r, map[string]int{"CONNECT": 20, "USER": 20, "PASS": 20, "STAT": 20,
		"UIDL": 20, "QUIT": 20})
}

// With Delete, each user's maildrop is emptied by its first cycle; later
// cycles find nothing to retrieve.
func TestPOP3Delete(t *testing.T) {
	s := startPOP3Server(t)
	o := testOptions(s.addr())
	o.Clients, o.UserCount, o.Cycles, o.Delete = 1, 2, 5, true
	r := runPOP3(t, o)
	wantClean(t, r, 5)
	n := 2 * len(testMaildrop)
	wantCounts(t, r, map[string]int{"CONNECT": 5, "USER": 5, "PASS": 5, "STAT": 5,
		"LIST": 5, "UIDL": 5, "RETR": n, "DELE": n, "QUIT": 5})
}

func TestPOP3TLS(t *testing.T) {
	for _, implicit := range []bool{true, false} {
		s := startPOP3Server(t, withTLS(t, implicit))
		o := testOptions(s.addr())
		o.TLS, o.StartTLS, o.Insecure = implicit, !implicit, true
		r := runPOP3(t, o)
		wantClean(t, r, 20)
		if !implicit && r.Commands["STLS"].Count != 20 {
			t.Errorf("STLS: %+v", r.Commands["STLS"])
		}

		// Without Insecure the self-signed certificate must be refused.
		o.Insecure = false
		r = runPOP3(t, o)
		if r.Cycles != 0 || r.Errors != 20 || !strings.Contains(strings.Join(r.ErrorSamples, "\n"), "certificate") {
			t.Errorf("unverified TLS (implicit %v): %d cycles, %d errors %q", implicit, r.Cycles, r.Errors, r.ErrorSamples)
		}
	}
}

// A server without STLS must not get the password in the clear.
func TestPOP3StartTLSRefused(t *testing.T) {
	s := startPOP3Server(t)
	o := testOptions(s.addr())
	o.StartTLS = true
	r := runPOP3(t, o)
	wantCounts(t, r, map[string]int{"CONNECT": 20, "STLS": 20, "QUIT": 20})
	if r.Commands["STLS"].Errors != 20 || r.Errors != 20 || r.Cycles != 0 {
		t.Errorf("got %+v", r)
	}
}

func TestPOP3BrokenServers(t *testing.T) {
	tests := []struct {
		fault  fault
		cmd    string
		errors int    // of cmd, over 20 cycles
		sample string // in ErrorSamples
	}{
		{faultOctets, "RETR", 20, "RETR: message 2: RETR returned"},
		{faultRetrErr, "RETR", 20 * len(testMaildrop), "RETR: -ERR cannot read message"},
		{faultHangup, "RETR", 20, "RETR: reading reply: EOF"},
		{faultDupUIDL, "UIDL", 20, "UIDL repeats id"},
		{faultBareLFEnd, "RETR", 20 * len(testMaildrop), `not ".\r\n"`},
	}
	for _, tt := range tests {
		s := startPOP3Server(t, withFault(tt.fault))
		r := runPOP3(t, testOptions(s.addr()))
		if c := r.Commands[tt.cmd]; c == nil || c.Errors != tt.errors {
			t.Errorf("fault %d: %s %+v, want %d errors", tt.fault, tt.cmd, c, tt.errors)
		}
		if r.Errors != tt.errors || r.Cycles != 0 {
			t.Errorf("fault %d: %d errors, %d clean cycles", tt.fault, r.Errors, r.Cycles)
		}
		if len(r.ErrorSamples) != 1 || !strings.Contains(r.ErrorSamples[0], tt.sample) {
			t.Errorf("fault %d: samples %q, want one with %q", tt.fault, r.ErrorSamples, tt.sample)
		}
		// After a dropped connection the client reconnects: every
		// cycle connected.
		if c := r.Commands["CONNECT"]; c.Count != 20 || c.Errors != 0 {
			t.Errorf("fault %d: CONNECT %+v", tt.fault, c)
		}
	}
}

func TestPOP3BadPassword(t *testing.T) {
	s := startPOP3Server(t)
	o := testOptions(s.addr())
	o.Password = "wrong"
	r := runPOP3(t, o)
	wantCounts(t, r, map[string]int{"CONNECT": 20, "USER": 20, "PASS": 20, "QUIT": 20})
	if r.Commands["PASS"].Errors != 20 || r.Errors != 20 {
		t.Errorf("got %+v", r.Commands["PASS"])
	}
}

func TestPOP3Duration(t *testing.T) {
	s := startPOP3Server(t)
	o := testOptions(s.addr())
	o.Cycles, o.Duration = 0, 300*time.Millisecond
	start := time.Now()
	r := runPOP3(t, o)
	if d := time.Since(start); d < o.Duration || d > o.Duration+2*time.Second {
		t.Errorf("ran %v for a %v run", d, o.Duration)
	}
	if r.Cycles == 0 || r.Errors != 0 {
		t.Errorf("%d cycles, %d errors %q", r.Cycles, r.Errors, r.ErrorSamples)
	}
}

// Cancelling the context stops a run stuck on a silent server promptly, and
// the aborted commands are not counted as the server's errors.
func TestPOP3Cancel(t *testing.T) {
	s := startPOP3Server(t, withFault(faultNoGreet))
	o := testOptions(s.addr())
	o.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := RunPOP3(ctx, o)
	if err != context.DeadlineExceeded {
		t.Errorf("err %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if r == nil || r.Errors != 0 || r.Cycles != 0 {
		t.Errorf("report %+v", r)
	}
}

func TestPOP3Timeout(t *testing.T) {
	s := startPOP3Server(t, withFault(faultNoGreet))
	o := testOptions(s.addr())
	o.Clients, o.Cycles, o.Timeout = 2, 2, 100*time.Millisecond
	r := runPOP3(t, o)
	if c := r.Commands["CONNECT"]; c == nil || c.Errors != 2 || r.Errors != 2 || !strings.Contains(r.ErrorSamples[0], "timeout") {
		t.Errorf("got %+v, %q", c, r.ErrorSamples)
	}
}

func TestPOP3Options(t *testing.T) {
	base := testOptions("127.0.0.1:1")
	for _, mod := range []func(*POP3Options){
		func(o *POP3Options) { o.Retrieve = "some" },
		func(o *POP3Options) { o.Users = "user" },
		func(o *POP3Options) { o.Users = "user%d-%s" },
		func(o *POP3Options) { o.Addr = "" },
		func(o *POP3Options) { o.TLS, o.StartTLS = true, true },
		func(o *POP3Options) { o.Cycles, o.Duration = 0, 0 },
	} {
		o := base
		mod(&o)
		if _, err := RunPOP3(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
