package imap

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// TestOverlongLineGraceful: a command line longer than the server will
// skip gets BAD and "* BYE", then a clean close (FIN), on 993 and 143.
// The server used to close with the rest of the line unread: the client
// got a connection reset and could lose the BYE.
func TestOverlongLineGraceful(t *testing.T) {
	r := newRig(t, testrig.Config(func(c *config.Config) { c.SMTP.MaxMessageSize = 1 << 20 }))
	for _, tlsOn := range []bool{true, false} {
		c := r.raw(tlsOn)
		// Past MaxLine (64 KiB) plus the 1 MiB APPENDLIMIT the server
		// will skip, and some.
		c.SendOverlong("a1 NOOP " + strings.Repeat("x", 1<<20+64<<10+100<<10))
		got, err := c.ReadToEnd()
		if !strings.HasPrefix(got, "a1 BAD ") || !strings.HasSuffix(got, "* BYE protocol error, closing\r\n") || err != io.EOF {
			t.Errorf("TLS %v: got %q, ended by %v; want BAD, BYE, then EOF", tlsOn, got, err)
		}
	}
}

// TestParallelGuessesBounded: 30 connections from one address guessing one
// account's password at once get few password checks, and the throttled
// ones are told to try later at once. Each connection used to wait out the
// delay in parallel and then check, so the throttle's delay bounded
// nothing (163 guesses a minute on one throttled account).
func TestParallelGuessesBounded(t *testing.T) {
	r := newRig(t)
	r.Account("victim@example.test")
	const conns, duration = 30, 3 * time.Second
	var wg sync.WaitGroup
	var tryLater atomic.Int64
	deadline := time.Now().Add(duration)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.Dial("tcp", r.Addr("imaps"), testrig.ClientTLS())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			br := bufio.NewReader(c)
			br.ReadString('\n') // greeting
			for n := 0; time.Now().Before(deadline); n++ {
				fmt.Fprintf(c, "a%d LOGIN victim@example.test guess-%d-%d\r\n", n, i, n)
				line, err := br.ReadString('\n')
				if err != nil {
					t.Error(err)
					return
				}
				if strings.Contains(line, "[UNAVAILABLE]") {
					tryLater.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	checks := strings.Count(r.Log.String(), "result=invalid_password")
	t.Logf("%d connections for %v: %d password checks, %d answered \"try later\"", conns, duration, checks, tryLater.Load())
	// 5 free failures, then one check per delay (1 s, 2 s, ...): about 7.
	if checks > 10 {
		t.Errorf("%d password checks in %v from one address, want at most 10", checks, duration)
	}
	if tryLater.Load() == 0 {
		t.Error("no attempt was told to try later")
	}
}
