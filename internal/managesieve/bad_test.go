package managesieve

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migadu/go-managesieve/managesieve"

	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/sieve"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// TestWrongPasswordsThrottled: failed logins count in the login throttle
// every protocol shares. Its default lets a network fail 5 times (IMAP's
// TestParallelGuessesBounded counts on the same); the next attempt, even
// with the right password, is answered TRYLATER without a password check.
func TestWrongPasswordsThrottled(t *testing.T) {
	r := newRig(t)
	c := r.dial()
	c.startTLS()
	for i := range 5 {
		c.cmd(`AUTHENTICATE "PLAIN" "`+plain("ann@example.test", fmt.Sprint("guess-", i))+`"`, `NO "authentication failed"`)
	}
	c2 := r.dial()
	c2.startTLS()
	c2.cmd(`AUTHENTICATE "PLAIN" "`+plain("ann@example.test", password)+`"`, `NO (TRYLATER) "too many failed logins`)
	logs := r.Log.String()
	if n := strings.Count(logs, "result=invalid_password"); n != 5 {
		t.Errorf("%d password checks failed, want 5", n)
	}
	if !strings.Contains(logs, "protocol=managesieve remote=127.0.0.1 username=ann@example.test result=throttled") {
		t.Errorf("throttled attempt not logged:\n%s", logs)
	}
	// The library's error count ends a connection that goes on failing.
	for range maxErrors - 5 - 1 {
		c.cmd("FROB", "NO")
	}
	c.Send("FROB")
	c.Expect("NO")
	c.Expect(`BYE "Too many errors`)
	if !c.Closed() {
		t.Fatal("not closed after too many errors")
	}
}

// TestNoAuthBeforeTLS: without TLS no password is taken and no PLAIN
// offered; script commands need a login.
func TestNoAuthBeforeTLS(t *testing.T) {
	r := newRig(t)
	c := r.dial()
	c.cmd(`AUTHENTICATE "PLAIN" "`+plain("ann@example.test", password)+`"`, `NO "Authentication not permitted on insecure connection`)
	c.cmd("LISTSCRIPTS", `NO "Not authenticated"`)
	c.cmd(`PUTSCRIPT "x" "keep;"`, `NO "Not authenticated"`)
	if strings.Contains(r.Log.String(), "auth attempt") {
		t.Fatal("a password was checked without TLS")
	}
	// auth.allow_insecure (loopback tests) allows it, as for IMAP and POP3.
	r2 := newRig(t, testrig.Config(func(c *config.Config) { c.Auth.AllowInsecure = true }))
	c2 := r2.dial()
	if c2.caps["SASL"] != "PLAIN" {
		t.Fatalf("allow_insecure: %v", c2.caps)
	}
	c2.cmd(`AUTHENTICATE "PLAIN" "`+plain("ann@example.test", password)+`"`, "OK")
}

// TestScriptBounds: a script over MAXSCRIPTSIZE is refused on its
// literal's announced size, before any of it is sent; a script that does
// not compile is refused with the interpreter's words, which say where;
// the 101st script is refused, a replacement of one of 100 is not.
func TestScriptBounds(t *testing.T) {
	r := newRig(t)
	c := r.login("ann@example.test")

	// Synchronising literal: refused before the server asks for it, the
	// connection goes on.
	c.cmd(fmt.Sprintf(`PUTSCRIPT "big" {%d}`, store.MaxSieveScriptSize+1), "NO (QUOTA/MAXSIZE) ")
	c.cmd("NOOP", "OK")
	c.cmd(fmt.Sprintf(`CHECKSCRIPT {%d}`, store.MaxSieveScriptSize+1), "NO (QUOTA/MAXSIZE) ")
	// Non-synchronising: answered at once although nothing follows the
	// marker, then closed (the client has committed to sending it).
	c.cmd(fmt.Sprintf(`PUTSCRIPT "big" {%d+}`, store.MaxSieveScriptSize+1), "NO (QUOTA/MAXSIZE) ")
	if !c.Closed() {
		t.Fatal("not closed after a refused {N+} literal")
	}

	c = r.login("ann@example.test")
	bad := "keep;\r\nfrobnicate;\r\n"
	checkErr := sieve.Check(bad)
	if checkErr == nil {
		t.Fatal("sieve.Check accepts the bad script")
	}
	want := "NO " + managesieve.Quote(checkErr.Error())
	if got := c.put("bad", bad); got != want {
		t.Fatalf("PUTSCRIPT of a syntax error: %q, want %q", got, want)
	}
	if !strings.Contains(want, "line 2") && !strings.Contains(want, "2:") {
		t.Fatalf("the answer does not say line 2: %q", want)
	}
	c.Send(fmt.Sprintf("CHECKSCRIPT {%d+}\r\n%s", len(bad), bad))
	if got := c.Line(); got != want {
		t.Fatalf("CHECKSCRIPT of a syntax error: %q, want %q", got, want)
	}
	if got := c.list(); len(got) != 0 {
		t.Fatalf("a script that does not compile was stored: %q", got)
	}

	for i := range store.MaxSieveScripts {
		if got := c.put(fmt.Sprint("s", i), "keep;"); got != `OK "Script stored"` {
			t.Fatalf("script %d: %q", i, got)
		}
	}
	if got := c.put("one too many", "keep;"); !strings.HasPrefix(got, "NO (QUOTA/MAXSCRIPTS) ") {
		t.Fatalf("101st script: %q", got)
	}
	c.cmd(`HAVESPACE "one too many" 10`, "NO (QUOTA/MAXSCRIPTS) ")
	c.cmd(`HAVESPACE "s5" 10`, "OK")
	if got := c.put("s5", "discard;"); got != `OK "Script updated"` {
		t.Fatalf("replacing one of 100: %q", got)
	}
	// Names the store would refuse are refused before any work.
	if got := c.put(strings.Repeat("n", store.MaxSieveScriptName+1), "keep;"); !strings.HasPrefix(got, `NO "a script's name must be`) {
		t.Fatalf("overlong name: %q", got)
	}
}

// TestBadCommands: unknown commands are answered NO; an overlong line is
// answered, then the connection closed cleanly (FIN: the client reads the
// answer instead of a reset).
func TestBadCommands(t *testing.T) {
	r := newRig(t)
	c := r.login("ann@example.test")
	c.cmd("FROB", `NO "Unknown command"`)
	c.cmd(`GETSCRIPT`, `NO "Syntax: GETSCRIPT`)
	c.cmd(`PUTSCRIPT "x" {abc}`, `NO "Invalid literal string length"`)
	c.cmd("NOOP", "OK")
	c.SendOverlong("NOOP " + strings.Repeat("x", 64<<10))
	got, err := c.ReadToEnd()
	if got != "NO \"Command line too long\"\r\n" || err != io.EOF {
		t.Fatalf("overlong line: %q, ended by %v; want NO, then EOF", got, err)
	}
	// Before login the same; and a line cut without CRLF never runs.
	c = r.dial()
	c.SendOverlong(strings.Repeat("A", 64<<10))
	if got, err := c.ReadToEnd(); got != "NO \"Command line too long\"\r\n" || err != io.EOF {
		t.Fatalf("overlong line before login: %q, %v", got, err)
	}
}

// TestPanicEndsOneSession: a panic in one session closes its connection
// only; it is counted and logged with its stack, and the other session
// and new ones go on.
func TestPanicEndsOneSession(t *testing.T) {
	var victims sync.Map
	hooks := &listener.TestHooks{Command: func(proto, remote, name string) {
		if _, ok := victims.Load(remote); ok && proto == "managesieve" {
			panic("test panic in " + name)
		}
	}}
	r := newRig(t, testrig.Hooks(hooks))
	bystander := r.login("ann@example.test")
	victim := r.login("ann@example.test")
	victims.Store(victim.Conn.LocalAddr().String(), true)
	victim.Send("LISTSCRIPTS")
	if !victim.Closed() {
		t.Fatal("the panicking session's connection is open")
	}
	if got := bystander.put("after", "keep;"); got != `OK "Script stored"` {
		t.Fatalf("bystander: %q", got)
	}
	r.login("ann@example.test").cmd("LISTSCRIPTS", `"after"`)
	// The library closes the connection while the panic unwinds, before
	// it reports it.
	for deadline := time.Now().Add(5 * time.Second); r.Server.Deps().Panics.Count() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.Server.Deps().Panics.Count(); n != 1 {
		t.Fatalf("%d panics counted, want 1", n)
	}
	logs := r.Log.String()
	if !strings.Contains(logs, "panic recovered") || !strings.Contains(logs, "test panic in LISTSCRIPTS") || !strings.Contains(logs, "managesieve.(*session)") {
		t.Fatalf("panic not logged with its stack:\n%s", logs)
	}
	if strings.Contains(logs, "panic in connection handler") {
		t.Error("the library's own panic record was not dropped")
	}
}

// TestShutdown: a session waiting for a command is told BYE (TRYLATER)
// at once and closed; the server does not wait for its idle timeout.
func TestShutdown(t *testing.T) {
	r := newRig(t)
	c := r.login("ann@example.test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("shutdown took %v", el)
	}
	c.Expect(`BYE (TRYLATER) "Server shutting down`)
	if !c.Closed() {
		t.Fatal("not closed")
	}
}

// TestConnectionLimits: a client over managesieve.max_connections_per_ip
// is told BYE (TRYLATER) and closed.
func TestConnectionLimits(t *testing.T) {
	r := newRig(t, testrig.Config(func(c *config.Config) { c.ManageSieve.MaxConnectionsPerIP = 2 }))
	r.dial()
	r.dial()
	c := testrig.Dial(t, r.Addr("managesieve"), false)
	c.Expect(`BYE (TRYLATER) "too many connections`)
}
